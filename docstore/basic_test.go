package docstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/docstore"
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
