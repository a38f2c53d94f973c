package docstore_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/kv"
)

func TestInsertGetRoundTrip(t *testing.T) {
	e := newEnv(t)
	c := e.coll("people")
	when := time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	id, err := c.Insert(ctx, e.db, docstore.M{
		"_id": "ada", "name": "Ada", "age": 36, "height": 1.65, "tags": docstore.A{"math", "poetry"},
		"address": docstore.M{"city": "London", "zip": nil}, "born": when, "blob": []byte{0, 1, 2},
		"empty": docstore.M{}, "none": docstore.A{},
	})
	require.NoError(t, err)
	require.Equal(t, "ada", id)
	d, err := c.Get(ctx, e.db, "ada")
	require.NoError(t, err)
	require.Equal(t, docstore.M{
		"_id": "ada", "name": "Ada", "age": int64(36), "height": 1.65, "tags": []any{"math", "poetry"},
		"address": map[string]any{"city": "London", "zip": nil}, "born": when, "blob": []byte{0, 1, 2},
		"empty": map[string]any{}, "none": []any{},
	}, d.Map())
	require.False(t, d.Revision().IsZero())
	js, err := d.JSON()
	require.NoError(t, err)
	require.JSONEq(t, `{"_id":"ada","address":{"city":"London","zip":null},"age":36,"blob":{"$binary":{"base64":"AAEC","subType":"00"}},"born":{"$date":"2024-05-06T07:08:09.123Z"},"empty":{},"height":1.65,"name":"Ada","none":[],"tags":["math","poetry"]}`, string(js))

	// The JSON form reads back to the same document.
	_, err = c.Insert(ctx, e.db, []byte(`{"_id":"ada2","n":2.0,"born":{"$date":"2024-05-06T07:08:09.123Z"},"blob":{"$binary":{"base64":"AAEC","subType":"00"}}}`))
	require.NoError(t, err)
	d2, err := c.Get(ctx, e.db, "ada2")
	require.NoError(t, err)
	require.Equal(t, 2.0, d2.Map()["n"])
	require.Equal(t, when, d2.Map()["born"])

	_, err = c.Get(ctx, e.db, "nobody")
	require.ErrorIs(t, err, docstore.ErrNotFound)
}

type person struct {
	ID      string        `json:"_id"`
	Name    string        `json:"name"`
	Age     int           `json:"age,omitempty"`
	Seen    docstore.Date `json:"seen"`
	Created time.Time     `json:"created"`
}

func TestStructsThroughJSONTags(t *testing.T) {
	e := newEnv(t)
	c := e.coll("people")
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err := c.Insert(ctx, e.db, person{ID: "p1", Name: "Grace", Seen: docstore.Date{Time: now}, Created: now})
	require.NoError(t, err)
	d, err := c.Get(ctx, e.db, "p1")
	require.NoError(t, err)
	require.Equal(t, now, d.Map()["seen"], "a Date field is stored as a date")
	require.Equal(t, "2025-01-02T03:04:05Z", d.Map()["created"], "a time.Time field is stored as encoding/json writes it")
	_, hasAge := d.Map()["age"]
	require.False(t, hasAge, "omitempty applies")
	var p person
	require.NoError(t, d.Decode(&p))
	require.Equal(t, "Grace", p.Name)
	require.True(t, p.Seen.Equal(now))
	require.True(t, p.Created.Equal(now))
}

func TestGeneratedIDAndDuplicates(t *testing.T) {
	e := newEnv(t)
	c := e.coll("things")
	id, err := c.Insert(ctx, e.db, docstore.M{"x": 1})
	require.NoError(t, err)
	d, err := c.Get(ctx, e.db, id)
	require.NoError(t, err)
	require.Equal(t, id, d.ID())
	_, err = c.Insert(ctx, e.db, docstore.M{"_id": id, "x": 2})
	require.ErrorIs(t, err, docstore.ErrDuplicateID)
	_, err = c.Insert(ctx, e.db, docstore.M{"_id": id, "x": 1})
	require.NoError(t, err, "the identical document: a retried insert")
	_, err = c.Insert(ctx, e.db, docstore.M{"_id": 1.5})
	require.ErrorIs(t, err, docstore.ErrInvalidID)
	_, err = c.Insert(ctx, e.db, docstore.M{"_id": docstore.M{"a": 1}})
	require.ErrorIs(t, err, docstore.ErrInvalidID)
}

// _ids of every kind, in MongoDB's order in a collection scan: integers, strings, binary data
// (by length, then subtype: bytes are subtype 0, UUIDs 4).
func TestIDKinds(t *testing.T) {
	e := newEnv(t)
	c := e.coll("ids")
	u := uuid.MustParse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
	ids := []any{[]byte{9}, "b", u, int64(-3), "a", make([]byte, 16), int64(10), 2.0}
	for _, id := range ids {
		_, err := c.Insert(ctx, e.db, docstore.M{"_id": id})
		require.NoError(t, err)
	}
	got := e.ids(c, nil, docstore.FindOptions{})
	require.Equal(t, []any{int64(-3), int64(2), int64(10), "a", "b", []byte{9}, make([]byte, 16), u}, got)
	d, err := c.Get(ctx, e.db, u)
	require.NoError(t, err)
	require.Equal(t, u, d.ID())
	js, err := d.JSON()
	require.NoError(t, err)
	require.JSONEq(t, `{"_id": {"$binary": {"base64": "AZChssPUfl+KmwwdLj9KWw==", "subType": "04"}}}`, string(js))
}

// Documents are limited to 16 MiB; one transaction to 10 MB of writes: both are clear errors
// that store nothing.
func TestDocumentSizeLimits(t *testing.T) {
	e := newEnv(t)
	c := e.coll("big")
	chunk := strings.Repeat("x", 1<<20)
	huge := docstore.M{"_id": 1}
	for i := 0; i < 17; i++ {
		huge[fmt.Sprint("f", i)] = chunk
	}
	_, err := c.Insert(ctx, e.db, huge)
	require.ErrorIs(t, err, docstore.ErrDocumentTooLarge)
	large := docstore.M{"_id": 2}
	for i := 0; i < 11; i++ {
		large[fmt.Sprint("f", i)] = chunk
	}
	_, err = c.Insert(ctx, e.db, large)
	require.ErrorIs(t, err, kv.ErrTransactionTooLarge)
	require.Contains(t, err.Error(), "10,000,000 bytes")
	ok := docstore.M{"_id": 3}
	for i := 0; i < 5; i++ {
		ok[fmt.Sprint("f", i)] = chunk
	}
	_, err = c.Insert(ctx, e.db, ok)
	require.NoError(t, err)
	d, err := c.Get(ctx, e.db, 3)
	require.NoError(t, err)
	require.Equal(t, chunk, d.Map()["f4"])
	n, err := c.Count(ctx, e.db, nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
}

// Writes and reads compose in one transaction: a document inserted and updated earlier in the
// transaction is read back (its revision is known only after the commit), and found by queries.
func TestOneTransaction(t *testing.T) {
	e := newEnv(t)
	c := e.coll("tx")
	require.NoError(t, c.CreateIndex(ctx, e.db, docstore.Index{Name: "k", Fields: []string{"k"}}))
	err := e.db.Transact(ctx, func(tr kv.Transaction) error {
		if _, err := c.Insert(ctx, tr, docstore.M{"_id": 1, "k": "a"}); err != nil {
			return err
		}
		if _, err := c.UpdateByID(ctx, tr, 1, docstore.M{"$set": docstore.M{"k": "b"}}); err != nil {
			return err
		}
		d, err := c.Get(ctx, tr, 1)
		if err != nil {
			return err
		}
		if d.Map()["k"] != "b" || !d.Revision().IsZero() {
			return fmt.Errorf("read back %v, revision %v", d.Map(), d.Revision())
		}
		page, err := c.Find(ctx, tr, docstore.M{"k": "b"}, docstore.FindOptions{})
		if err != nil {
			return err
		}
		if len(page.Docs) != 1 || !strings.HasPrefix(page.Plan.String(), "IndexScan(k") {
			return fmt.Errorf("found %d with %s", len(page.Docs), page.Plan)
		}
		return c.ReplaceIf(ctx, tr, 1, docstore.M{"k": "c"}, d.Revision())
	})
	require.ErrorIs(t, err, docstore.ErrRevisionMismatch, "the revision of a document written in this transaction is not known yet")
	var rev docstore.Revision
	err = e.db.Transact(ctx, func(tr kv.Transaction) error {
		_, err := c.Insert(ctx, tr, docstore.M{"_id": 1, "k": "a"})
		return err
	})
	require.NoError(t, err)
	d, err := c.Get(ctx, e.db, 1)
	require.NoError(t, err)
	rev = d.Revision()
	require.False(t, rev.IsZero())
	require.NoError(t, c.ReplaceIf(ctx, e.db, 1, docstore.M{"k": "c"}, rev))
	require.ErrorIs(t, c.ReplaceIf(ctx, e.db, 1, docstore.M{"k": "d"}, rev), docstore.ErrRevisionMismatch)
	d, err = c.Get(ctx, e.db, 1)
	require.NoError(t, err)
	require.Equal(t, "c", d.Map()["k"])
	require.Greater(t, d.Revision().String(), rev.String(), "revisions increase")
}
