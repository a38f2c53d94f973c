package docstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/layerkit/layerkit/directory"
	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
	"github.com/layerkit/layerkit/tuple"
)

var fuzzDoc = docstore.M{"_id": 1, "a": 1, "s": "x", "arr": docstore.A{1, docstore.M{"b": 2}}, "o": docstore.M{"p": nil}}

// FuzzParseFilter: any text either parses (and then prints and matches without panicking) or
// fails with ErrInvalidFilter.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`{}`, `{"a": 1}`, `{"a": {"$gt": 1, "$lt": [2]}}`, `{"$or": [{"a": {"$in": [1, null]}}, {"b": {"$regex": "^x", "$options": "i"}}]}`,
		`{"arr": {"$elemMatch": {"b": {"$exists": true}}}}`, `{"a": {"$not": {"$type": ["string", 16]}}}`, `{"a": {"$size": 2}, "b.c.0": {"$all": [1]}}`,
		`{"a": {"$date": "2020-01-01T00:00:00Z"}}`, `{"$nor": [{}]}`, `{"a": {"$elemMatch": {"$gte": 1}}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := docstore.ParseFilter(s)
		if err != nil {
			if !errors.Is(err, docstore.ErrInvalidFilter) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		_ = flt.String()
		if _, err := flt.Matches(fuzzDoc); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzParseUpdate: any text either parses (and then applies or fails with ErrInvalidUpdate) or
// fails with ErrInvalidUpdate.
func FuzzParseUpdate(f *testing.F) {
	for _, s := range []string{`{"$set": {"a": 1}}`, `{"$inc": {"a": 1.5}, "$unset": {"s": ""}}`, `{"$push": {"arr": {"$each": [1], "$slice": -2, "$sort": {"b": 1}, "$position": 0}}}`,
		`{"$pull": {"arr": {"b": 2}}}`, `{"$rename": {"o.p": "q"}}`, `{"$currentDate": {"d": {"$type": "date"}}}`, `{"$pop": {"arr": -1}}`, `{"$set": {"arr.5.x": 1}}`,
		`{"$addToSet": {"arr": {"$each": [1, 2]}}}`, `{"$mul": {"a": 1e308}}`, `{"$min": {"o": {}}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := docstore.ParseUpdate(s)
		if err != nil {
			if !errors.Is(err, docstore.ErrInvalidUpdate) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if _, err := u.Apply(fuzzDoc, time.Unix(0, 0)); err != nil && !errors.Is(err, docstore.ErrInvalidUpdate) {
			t.Fatalf("%q: %v", s, err)
		}
	})
}

// FuzzInsertJSON: any text is stored and read back as the same document, or refused with
// ErrInvalidDocument or ErrInvalidID.
func FuzzInsertJSON(f *testing.F) {
	for _, s := range []string{`{"a": 1}`, `{"_id": "x", "n": [1, 2.5, "s", null, true, {"$date": "2020-01-01T00:00:00Z"}]}`, `{"_id": {"$uuid": "00000000-0000-0000-0000-000000000001"}}`,
		`{"b": {"$binary": {"base64": "AAE=", "subType": "00"}}}`, `{"a.b": 1}`, `{"$x": 1}`, `[]`, `{"n": 1e400}`, `{"n": 123456789012345678901234567890}`} {
		f.Add(s)
	}
	db := testdb.OpenEmbedded(f, &embedded.Options{})
	ds, err := docstore.Open(ctx, db, []string{"fuzz"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	c := ds.Collection("docs")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := c.Insert(ctx, db, s)
		if err != nil {
			if !errors.Is(err, docstore.ErrInvalidDocument) && !errors.Is(err, docstore.ErrInvalidID) && !errors.Is(err, docstore.ErrDuplicateID) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		d, err := c.Get(ctx, db, id)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		js, err := d.JSON()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Delete(ctx, db, docstore.M{"_id": id}); err != nil {
			t.Fatal(err)
		}
		id2, err := c.Insert(ctx, db, js)
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		d2, err := c.Get(ctx, db, id2)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := docstore.Compare(d.Map(), d2.Map()); err != nil || c != 0 {
			t.Fatalf("%q read back as %s, then %v", s, js, d2.Map())
		}
		if _, err := c.Delete(ctx, db, docstore.M{"_id": id2}); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzStoredDocument: arbitrary field keys and values stored under a document never panic a
// read; they decode or fail with ErrCorrupt.
func FuzzStoredDocument(f *testing.F) {
	f.Add([]byte{0x02, 'a', 0}, []byte{'i', 2}, []byte{0x02, 'b', 0}, []byte{'a', 1})
	f.Add([]byte{0x02, 'a', 0}, []byte{'x', 2, 5}, []byte{0x02, 'a', 0, 0x00, 0x14}, []byte("sabc"))
	f.Add([]byte{0x02, 'a', 0}, []byte{'o'}, []byte{0x02, 'a', 0, 0x02, 'b', 0}, []byte{'D', 3})
	f.Add([]byte{0x02, 'a', 0}, []byte{'a', 2}, []byte{0x02, 'a', 0, 0x15, 1}, []byte{'b', 4, 1})
	f.Add([]byte{0x02, 'a', 0}, []byte{'A', 3, 's', 1, 'x', 'o', 2, 1, 'k', 'n', 1, 'l', 'i', 4, 'a', 1, 'D', 2}, []byte{0x02, 'b', 0}, []byte{'A', 0})
	f.Add([]byte{0x02, 'a', 0}, []byte{'A', 1, 'b', 2, 0, 7, 7}, []byte{0x02, 'a', 0, 0x14}, []byte{'n'})
	db := testdb.OpenEmbedded(f, &embedded.Options{})
	ds, err := docstore.Open(ctx, db, []string{"fuzz"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	c := ds.Collection("raw")
	if _, err := c.Insert(ctx, db, docstore.M{"_id": "x"}); err != nil {
		f.Fatal(err)
	}
	dir, err := directory.Open(ctx, db, []string{"fuzz", "raw"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	ss, err := dir.Subspace()
	if err != nil {
		f.Fatal(err)
	}
	docPrefix := ss.Pack(tuple.Tuple{int64(1), int64(40), "x"})
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 []byte) {
		err := db.Transact(ctx, func(tr kv.Transaction) error {
			tr.ClearRange(kv.Range{Begin: append(docPrefix[:len(docPrefix):len(docPrefix)], 0x00), End: append(docPrefix[:len(docPrefix):len(docPrefix)], 0xff)})
			if len(k1) > 0 && len(k1) < 1000 && len(v1) < 1000 {
				tr.Set(append(docPrefix[:len(docPrefix):len(docPrefix)], k1...), v1)
			}
			if len(k2) > 0 && len(k2) < 1000 && len(v2) < 1000 {
				tr.Set(append(docPrefix[:len(docPrefix):len(docPrefix)], k2...), v2)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, db, "x"); err != nil && !errors.Is(err, docstore.ErrCorrupt) {
			t.Fatalf("get: %v", err)
		}
		if _, err := c.Find(ctx, db, docstore.M{"a": docstore.M{"$exists": true}}, docstore.FindOptions{}); err != nil && !errors.Is(err, docstore.ErrCorrupt) {
			t.Fatalf("find: %v", err)
		}
		_ = c.Check(ctx, db)
	})
}

// FuzzContinuation: arbitrary continuation bytes resume a query or fail with
// ErrInvalidContinuation.
func FuzzContinuation(f *testing.F) {
	f.Add([]byte(nil))
	f.Add([]byte("junk"))
	f.Add(tuple.Tuple{int64(1), int64(0), "", []byte{0x15}}.Pack())
	f.Add(tuple.Tuple{int64(1), int64(0), "#ids", tuple.Tuple{int64(3)}.Pack()}.Pack())
	db := testdb.OpenEmbedded(f, &embedded.Options{})
	ds, err := docstore.Open(ctx, db, []string{"fuzz"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	c := ds.Collection("cont")
	for i := 0; i < 10; i++ {
		if _, err := c.Insert(ctx, db, docstore.M{"_id": i, "v": i % 3}); err != nil {
			f.Fatal(err)
		}
	}
	if err := c.CreateIndex(ctx, db, docstore.Index{Name: "v", Fields: []string{"v"}}); err != nil {
		f.Fatal(err)
	}
	queries := []struct {
		filter any
		sort   []string
	}{{nil, nil}, {docstore.M{"v": 1}, nil}, {nil, []string{"-v"}}, {docstore.M{"_id": docstore.M{"$in": docstore.A{1, 2}}}, nil}, {nil, []string{"v", "-_id"}}}
	f.Fuzz(func(t *testing.T, cont []byte) {
		for _, q := range queries {
			_, err := c.Find(ctx, db, q.filter, docstore.FindOptions{Sort: q.sort, Limit: 2, Continuation: cont})
			if err != nil && !errors.Is(err, docstore.ErrInvalidContinuation) {
				t.Fatalf("continuation %x: %v", cont, err)
			}
		}
	})
}
