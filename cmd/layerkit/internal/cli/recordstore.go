package cli

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/tuple"
)

// The record store key layout (spec/record_store.md): S+(0) is the store header, S+(1)+pk+
// (suffix) the records, S+(5, index) the index states.
const (
	storeInfoKey  = 0
	recordKey     = 1
	indexKey      = 2
	indexStateKey = 5

	// Suffixes of a record's keys (the Java Record Layer's SplitHelper): its version, the whole
	// record, and the first chunk of a split record.
	suffixVersion    = -1
	suffixUnsplit    = 0
	suffixFirstChunk = 1
)

// storeHeader is what a store's DataStoreInfo header says (the fields of the Java Record
// Layer's record_metadata.proto that the commands use).
type storeHeader struct {
	formatVersion   int64
	metaDataVersion int64
	userVersion     int64
	lastUpdate      time.Time
	omitUnsplit     bool
}

// DataStoreInfo field numbers.
const (
	infoFormatVersion   = 1
	infoMetaDataVersion = 2
	infoUserVersion     = 3
	infoLastUpdateTime  = 5
	infoOmitUnsplit     = 6
)

// parseStoreHeader decodes a DataStoreInfo header. It is read field by field, because the
// message type belongs to the record package's internals; a store header is what record.Open
// writes and Java's Record Layer too.
func parseStoreHeader(b []byte) (storeHeader, error) {
	var h storeHeader
	rest := b
	for len(rest) > 0 {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return h, fmt.Errorf("store header: %v", protowire.ParseError(n))
		}
		rest = rest[n:]
		m := protowire.ConsumeFieldValue(num, typ, rest)
		if m < 0 {
			return h, fmt.Errorf("store header: field %d: %v", num, protowire.ParseError(m))
		}
		if typ == protowire.VarintType {
			v, _ := protowire.ConsumeVarint(rest)
			switch num {
			case infoFormatVersion:
				h.formatVersion = int64(int32(v))
			case infoMetaDataVersion:
				h.metaDataVersion = int64(int32(v))
			case infoUserVersion:
				h.userVersion = int64(int32(v))
			case infoLastUpdateTime:
				h.lastUpdate = time.UnixMilli(int64(v)).UTC()
			case infoOmitUnsplit:
				h.omitUnsplit = v != 0
			}
		}
		rest = rest[m:]
	}
	if h.formatVersion <= 0 {
		return h, fmt.Errorf("store header has no format version")
	}
	return h, nil
}

// storeKey is prefix + pack(elems).
func storeKey(prefix []byte, elems ...any) []byte {
	return append(append([]byte(nil), prefix...), tuple.Tuple(elems).Pack()...)
}

// readStoreHeader reads the header of the record store at prefix; ok is false when there is
// none (no store there).
func readStoreHeader(ctx context.Context, db kv.ReadTransactor, prefix []byte) (h storeHeader, ok bool, err error) {
	raw, err := kv.ReadTransact(ctx, db, func(tr kv.ReadTransaction) ([]byte, error) {
		return tr.Get(storeKey(prefix, storeInfoKey)).Get()
	})
	if err != nil || raw == nil {
		return h, false, err
	}
	h, err = parseStoreHeader(raw)
	return h, true, err
}

// openStoreHeader is readStoreHeader for a command that needs a store at loc.
func openStoreHeader(ctx context.Context, db kv.ReadTransactor, loc location) (storeHeader, error) {
	h, ok, err := readStoreHeader(ctx, db, loc.prefix)
	switch {
	case err != nil:
		return h, fmt.Errorf("record store %s: %w", loc.display(), err)
	case !ok:
		return h, fmt.Errorf("no record store at %s: it has no store header", loc.display())
	}
	return h, nil
}

// rawRecord is one record as stored: its primary key and its serialized union message, its
// chunks joined.
type rawRecord struct {
	pk     tuple.Tuple
	data   []byte
	chunks int // 0 for an unsplit record
}

// recordScanner reads the records of a store by their key layout, without metadata.
type recordScanner struct {
	db       kv.ReadTransactor
	prefix   []byte
	display  string
	header   storeHeader
	pageSize int
}

// scan calls fn with each record in primary-key order. Records are read in pages, each in a
// read transaction of its own; a page never ends inside a record, so the chunks of a split
// record always come from one transaction.
func (s *recordScanner) scan(ctx context.Context, fn func(rawRecord) error) error {
	base := storeKey(s.prefix, recordKey)
	begin, end := append(append([]byte(nil), base...), 0x00), append(append([]byte(nil), base...), 0xff)
	page := s.pageSize
	if page <= 0 {
		page = scanPageSize
	}
	for {
		rows, err := kv.ReadTransact(ctx, s.db, func(tr kv.ReadTransaction) ([]kv.KeyValue, error) {
			return tr.Snapshot().GetRange(kv.Range{Begin: begin, End: end}, kv.RangeOptions{Limit: page}).GetSlice()
		})
		if err != nil {
			return err
		}
		full := len(rows) == page
		groups, err := s.group(rows, base)
		if err != nil {
			return err
		}
		if full {
			// The last record may go on in the next page: read it again there, whole.
			last := groups[len(groups)-1]
			groups = groups[:len(groups)-1]
			if len(groups) == 0 {
				page *= 2 // one record fills the page: read a bigger one
				continue
			}
			begin = last.firstKey
			page = s.pageSize
			if page <= 0 {
				page = scanPageSize
			}
		}
		for _, g := range groups {
			rec, err := s.assemble(g)
			if err != nil {
				return err
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		if !full {
			return nil
		}
	}
}

// keyGroup is the rows of one primary key.
type keyGroup struct {
	pk       tuple.Tuple
	pkBytes  []byte
	firstKey []byte
	rows     []suffixRow
}

type suffixRow struct {
	suffix int64
	value  []byte
	key    []byte
}

func (s *recordScanner) group(rows []kv.KeyValue, base []byte) ([]*keyGroup, error) {
	var groups []*keyGroup
	for _, row := range rows {
		rest := row.Key[len(base):]
		t, err := tuple.Unpack(rest)
		if err != nil || len(t) == 0 {
			return nil, fmt.Errorf("record store %s: record key %s is not a packed tuple", s.display, kv.Printable(row.Key))
		}
		pk, pkBytes, suffix := t, rest, int64(suffixUnsplit)
		if !s.header.omitUnsplit {
			n, ok := t[len(t)-1].(int64)
			if !ok || len(t) < 2 {
				return nil, fmt.Errorf("record store %s: record key %s does not end in a chunk number", s.display, kv.Printable(row.Key))
			}
			suffix = n
			pk = t[:len(t)-1]
			pkBytes = rest[:len(rest)-len(tuple.Tuple{n}.Pack())]
		}
		if len(groups) == 0 || !bytes.Equal(groups[len(groups)-1].pkBytes, pkBytes) || s.header.omitUnsplit {
			groups = append(groups, &keyGroup{pk: pk, pkBytes: pkBytes, firstKey: row.Key})
		}
		g := groups[len(groups)-1]
		g.rows = append(g.rows, suffixRow{suffix: suffix, value: row.Value, key: row.Key})
	}
	return groups, nil
}

// assemble checks the rows of one primary key and joins its chunks: a version (suffix -1) and
// either one unsplit value (suffix 0) or chunks numbered 1, 2, … without gaps.
func (s *recordScanner) assemble(g *keyGroup) (rawRecord, error) {
	rec := rawRecord{pk: g.pk}
	bad := func(what string) (rawRecord, error) {
		return rawRecord{}, fmt.Errorf("record store %s: record %v %s", s.display, g.pk, what)
	}
	var data []byte
	next := int64(suffixFirstChunk)
	unsplit := false
	for _, r := range g.rows {
		switch {
		case r.suffix == suffixVersion:
			continue
		case r.suffix == suffixUnsplit:
			unsplit = true
			data = r.value
		case r.suffix == next:
			data = append(data, r.value...)
			next++
			rec.chunks++
		case r.suffix > 0:
			return bad(fmt.Sprintf("lacks chunk %d (found chunk %d)", next, r.suffix))
		default:
			return bad(fmt.Sprintf("has a key with the unknown suffix %d", r.suffix))
		}
	}
	switch {
	case unsplit && rec.chunks > 0:
		return bad("is stored both whole and in chunks")
	case !unsplit && rec.chunks == 0:
		return bad("has a version but no data")
	}
	rec.data = data
	return rec, nil
}

// decodeRecord parses a record's union message and returns the record inside it. Exactly one
// field of the union must be set, and it must be a record type the union names.
func decodeRecord(union protoreflect.MessageDescriptor, rec rawRecord) (protoreflect.Message, protoreflect.FieldDescriptor, error) {
	u := dynamicpb.NewMessage(union)
	if err := proto.Unmarshal(rec.data, u); err != nil {
		return nil, nil, fmt.Errorf("record %v does not decode as %s: %v", rec.pk, union.FullName(), err)
	}
	var set []protoreflect.FieldDescriptor
	u.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		set = append(set, fd)
		return true
	})
	switch {
	case len(set) == 1 && set[0].Message() != nil && !set[0].IsList() && !set[0].IsMap():
		return u.Get(set[0]).Message(), set[0], nil
	case len(set) == 0 && len(u.GetUnknown()) > 0:
		num, _, _ := protowire.ConsumeTag(u.GetUnknown())
		return nil, nil, fmt.Errorf("record %v sets union field %d, which %s does not have: is the descriptor set the store's?", rec.pk, num, union.FullName())
	case len(set) == 0:
		return nil, nil, fmt.Errorf("record %v is an empty %s", rec.pk, union.FullName())
	}
	return nil, nil, fmt.Errorf("record %v sets %d fields of %s, want one", rec.pk, len(set), union.FullName())
}
