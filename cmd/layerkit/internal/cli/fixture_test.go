package cli_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/layerkit/layerkit/cmd/layerkit/internal/cli/internal/testpb"
	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/examples/catalogue/catalogpb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/queue"
	"github.com/layerkit/layerkit/record"
	"github.com/layerkit/layerkit/tuple"
)

// fixture is a small on-disk database with a directory tree, two record stores, a partition and
// raw keys, closed so that the command can open it.
type fixture struct {
	dir       string
	prefixes  map[string][]byte // directory path → prefix
	inventory string            // descriptor set of testpb, written by protoc
	catalogue string            // descriptor set of catalogpb, written from its linked descriptor
}

// inventoryMetaData is the metadata the options in inventory.proto declare, built by hand: what
// the command must derive from the descriptor set alone.
func inventoryMetaData(t testing.TB) *record.MetaData {
	md, err := record.NewMetaDataBuilder(testpb.File_inventory_proto).
		SetStoreRecordVersions(true).
		SetPrimaryKey("Item", record.Field("sku")).
		SetPrimaryKey("Supplier", record.Field("id")).
		AddIndex(record.Index{Name: "Item$category", RecordTypes: []string{"Item"}, Expression: record.Field("category")}).
		AddIndex(record.Index{Name: "Item$tags", RecordTypes: []string{"Item"}, Expression: record.FanOut("tags")}).
		AddIndex(record.Index{Name: "Supplier$name", RecordTypes: []string{"Supplier"}, Expression: record.Field("name"), Unique: true}).
		// Not declared in the .proto: the tests give it with --index.
		AddIndex(record.Index{Name: "item_versions", RecordTypes: []string{"Item"}, Type: record.VersionIndex, Expression: record.VersionKey()}).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func catalogueMetaData(t testing.TB) *record.MetaData {
	md, err := record.NewMetaDataBuilder(catalogpb.File_catalogue_proto).
		SetPrimaryKey("Book", record.Concat(record.Field("branch"), record.Field("shelf"), record.Field("book_id"))).
		AddIndex(record.Index{Name: "book_by_author", RecordTypes: []string{"Book"}, Expression: record.Field("author")}).
		AddIndex(record.Index{Name: "books_per_branch", RecordTypes: []string{"Book"}, Type: record.CountIndex, Expression: record.GroupBy(record.Empty(), record.Field("branch"))}).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// bigNote is large enough that its item is stored in three chunks.
var bigNote = []byte(strings.Repeat("0123456789", 25_000))

func inventoryRecords() []proto.Message {
	return []proto.Message{
		&testpb.Item{Sku: "A-100", Name: "anvil", Category: "tools", Stock: 3, Tags: []string{"heavy", "iron"}, Size: &testpb.Size{Width: 40, Height: 30}, Status: testpb.Status_ACTIVE, Price: 99.5},
		&testpb.Item{Sku: "B-200", Name: "bucket", Category: "garden", Stock: 12, Tags: []string{"zinc"}, Status: testpb.Status_ACTIVE, Price: 7.25},
		&testpb.Item{Sku: "C-300", Name: "chisel", Category: "tools", Stock: 0, Tags: []string{"iron", "sharp"}, Status: testpb.Status_RETIRED, Note: []byte("out of stock\x00")},
		&testpb.Item{Sku: "D-400", Name: "drum of notes", Category: "paper", Stock: 1, Note: bigNote},
		&testpb.Supplier{Id: 1, Name: "Forge & Co"},
		&testpb.Supplier{Id: 2, Name: "Garden Goods"},
	}
}

func catalogueRecords() []proto.Message {
	return []proto.Message{
		&catalogpb.Book{Branch: "north", Shelf: "A1", BookId: "b-1", Title: "The Hobbit", Author: "Tolkien", Year: 1937},
		&catalogpb.Book{Branch: "north", Shelf: "A1", BookId: "b-2", Title: "Dune", Author: "Herbert", Year: 1965},
		&catalogpb.Book{Branch: "south", Shelf: "C3", BookId: "b-3", Title: "The Silmarillion", Author: "Tolkien", Year: 1977},
	}
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{dir: filepath.Join(t.TempDir(), "db"), prefixes: map[string][]byte{}}
	db, err := embedded.Open(f.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mkdir := func(path string, layer []byte) []byte {
		d, err := directory.CreateOrOpen(ctx, db, strings.Split(path[1:], "/"), layer)
		if err != nil {
			t.Fatal(err)
		}
		p := directoryPrefixOf(t, d)
		f.prefixes[path] = p
		return p
	}
	inv := mkdir("/inventory", nil)
	cat := mkdir("/library/catalogue", nil)
	mkdir("/library", nil)
	mkdir("/tenants", []byte("partition"))
	acme := mkdir("/tenants/acme", nil)
	misc := mkdir("/misc", []byte("notes"))
	jobs := mkdir("/jobs", nil)
	chat := mkdir("/chat", nil)
	save(t, db, inventoryMetaData(t), inv, inventoryRecords())
	save(t, db, catalogueMetaData(t), cat, catalogueRecords())
	err = db.Transact(ctx, func(tr kv.Transaction) error {
		counter := make([]byte, 8)
		binary.LittleEndian.PutUint64(counter, 42)
		tr.Set(pack(misc, "counter"), counter)
		tr.Set(pack(misc, "greeting"), []byte("hello\x00world"))
		tr.Set(pack(misc, "pair"), tuple.Tuple{"a", 1}.Pack())
		tr.Set(pack(misc, "pair", 2), tuple.Tuple{true, 2.5}.Pack())
		tr.Set(append(append([]byte(nil), misc...), "not a tuple"...), []byte{})
		tr.Set(pack(acme, "x"), []byte("y"))
		for i := range 5 {
			tr.Set([]byte("app/"+string(rune('a'+i))), []byte{byte(i)})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fillQueue(t, db, jobs)
	fillStream(t, db, chat)
	fillDocstore(t, db)
	f.prefixes["/app"] = directoryPrefixOf(t, mustOpenDir(t, db, "app"))
	f.prefixes["/app/users"] = directoryPrefixOf(t, mustOpenDir(t, db, "app", "users"))
	f.inventory, err = filepath.Abs("testdata/inventory.pb")
	if err != nil {
		t.Fatal(err)
	}
	f.catalogue = writeDescriptorSet(t, catalogpb.File_catalogue_proto)
	return f
}

func pack(prefix []byte, elems ...any) []byte {
	return append(append([]byte(nil), prefix...), tuple.Tuple(elems).Pack()...)
}

func save(t testing.TB, db kv.Database, md *record.MetaData, prefix []byte, recs []proto.Message) {
	t.Helper()
	err := db.Transact(context.Background(), func(tr kv.Transaction) error {
		st, err := record.Open(context.Background(), tr, md, rawPrefix(prefix))
		if err != nil {
			return err
		}
		for _, r := range recs {
			if _, err := st.SaveRecord(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

type rawPrefix []byte

func (p rawPrefix) Bytes() []byte { return p }

// directoryPrefixOf reads a directory's prefix the way a user of the directory package can: from
// its subspace, or for a partition from its String form.
func directoryPrefixOf(t testing.TB, d directory.DirectorySubspace) []byte {
	if ss, err := d.Subspace(); err == nil {
		return ss.Bytes()
	}
	s := d.String()
	i := strings.LastIndex(s, ", ")
	p, err := unprintableForTest(s[i+2 : len(s)-1])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func unprintableForTest(s string) ([]byte, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && s[i+1] == '\\' {
			out = append(out, '\\')
			i++
			continue
		}
		if s[i] == '\\' && s[i+1] == 'x' {
			var b byte
			for _, c := range s[i+2 : i+4] {
				b <<= 4
				switch {
				case c >= '0' && c <= '9':
					b |= byte(c - '0')
				default:
					b |= byte(c-'a') + 10
				}
			}
			out = append(out, b)
			i += 3
			continue
		}
		out = append(out, s[i])
	}
	return out, nil
}

// writeDescriptorSet writes the FileDescriptorSet of file and its imports, as protoc
// --descriptor_set_out --include_imports would, and returns its path.
func writeDescriptorSet(t testing.TB, file protoreflect.FileDescriptor) string {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(file)
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), string(file.Name())+".pb")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// normalize replaces what changes from run to run (the database path, the prefixes the directory
// allocator drew) with stable names.
func (f *fixture) normalize(s string) string {
	s = strings.ReplaceAll(s, f.dir, "$DB")
	s = strings.ReplaceAll(s, f.inventory, "$INVENTORY_PB")
	s = strings.ReplaceAll(s, f.catalogue, "$CATALOGUE_PB")
	paths := make([]string, 0, len(f.prefixes))
	for p := range f.prefixes {
		paths = append(paths, p)
	}
	// Longest prefixes first, so that a directory inside a partition is named before the
	// partition whose prefix starts its own.
	sort.Slice(paths, func(i, j int) bool { return len(f.prefixes[paths[i]]) > len(f.prefixes[paths[j]]) })
	for _, p := range paths {
		s = strings.ReplaceAll(s, kv.Printable(f.prefixes[p]), "<"+p+">")
	}
	// Queue message and stream entry IDs hold commit versions, which follow the clock: number
	// them in order of appearance.
	ids := map[string]string{}
	return entryID.ReplaceAllStringFunc(s, func(id string) string {
		if _, ok := ids[id]; !ok {
			ids[id] = fmt.Sprintf("<id%d>", len(ids)+1)
		}
		return ids[id]
	})
}

var entryID = regexp.MustCompile(`\b[0-9a-f]{24}\b`)

// fixtureClock is the producers' clock of the queue and the stream: stored times are stable.
func fixtureClock() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// fillQueue leaves one dead letter (nacked on its only attempt), two visible messages (one at a
// higher priority, with headers) and one delayed far into the future.
func fillQueue(t testing.TB, db kv.Database, prefix []byte) {
	ctx := context.Background()
	q, err := queue.NewQueue(rawPrefix(prefix), &queue.Options{Clock: fixtureClock, MaxAttempts: 1})
	require.NoError(t, err)
	_, err = q.Enqueue(ctx, db, []byte("resize img-7"), nil)
	require.NoError(t, err)
	leases, err := q.Receive(ctx, db, queue.ReceiveOptions{})
	require.NoError(t, err)
	require.Len(t, leases, 1)
	require.NoError(t, q.Nack(ctx, db, leases[0], &queue.NackOptions{Error: "image too large"}))
	for _, m := range []struct {
		payload string
		opts    *queue.EnqueueOptions
	}{
		{"send mail 1", nil},
		{"send mail 2", &queue.EnqueueOptions{Priority: 5, Headers: map[string]string{"tenant": "acme"}}},
		{"report 2048", &queue.EnqueueOptions{Delay: 200_000 * time.Hour}},
	} {
		_, err := q.Enqueue(ctx, db, []byte(m.payload), m.opts)
		require.NoError(t, err)
	}
}

func fillStream(t testing.TB, db kv.Database, prefix []byte) {
	s, err := queue.NewStream(rawPrefix(prefix), &queue.StreamOptions{Clock: fixtureClock})
	require.NoError(t, err)
	for _, v := range [][]byte{[]byte("user: hello"), tuple.Tuple{"assistant", "hi there"}.Pack(), []byte("user: bye")} {
		_, err := s.Append(context.Background(), db, v, nil)
		require.NoError(t, err)
	}
}

func fillDocstore(t testing.TB, db kv.Database) {
	ctx := context.Background()
	ds, err := docstore.Open(ctx, db, []string{"app"}, nil)
	require.NoError(t, err)
	users, err := ds.CreateCollection(ctx, db, "users", docstore.CollectionOptions{})
	require.NoError(t, err)
	_, err = users.InsertMany(ctx, db, []any{
		docstore.M{"_id": "u1", "name": "Ada", "age": 36, "tags": []any{"admin", "math"}},
		docstore.M{"_id": "u2", "name": "Brian", "age": 29, "tags": []any{"ops"}},
		docstore.M{"_id": "u3", "name": "Chen", "age": 41, "address": docstore.M{"city": "Lyon"}},
	})
	require.NoError(t, err)
}

func mustOpenDir(t testing.TB, db kv.Database, path ...string) directory.DirectorySubspace {
	d, err := directory.Open(context.Background(), db, path, nil)
	require.NoError(t, err)
	return d
}
