package docstore_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/docstore"
)

// MongoDB's matching rules on one document: array expansion, null and missing, type
// bracketing, and each operator.
func TestFilterSemantics(t *testing.T) {
	doc := docstore.M{
		"_id": 1, "n": 5, "f": 5.0, "s": "hello", "null": nil, "t": true,
		"arr": docstore.A{1, 7, docstore.A{2, 3}}, "strs": docstore.A{"a", "b"},
		"objs": docstore.A{docstore.M{"k": 1, "v": "x"}, docstore.M{"k": 2}},
		"o":    docstore.M{"a": 1, "b": docstore.M{"c": "d"}}, "empty": docstore.A{},
	}
	cases := []struct {
		filter string
		want   bool
	}{
		{`{}`, true},
		{`{"n": 5}`, true},
		{`{"n": 5.0}`, true},
		{`{"f": 5}`, true},
		{`{"n": "5"}`, false},
		{`{"n": {"$gt": 4}}`, true},
		{`{"n": {"$gt": "4"}}`, false},
		{`{"s": {"$gt": 4}}`, false},
		{`{"s": {"$gte": "hello", "$lt": "i"}}`, true},
		{`{"arr": 7}`, true},
		{`{"arr": 2}`, false},
		{`{"arr": [2, 3]}`, true},
		{`{"arr": [1, 7, [2, 3]]}`, true},
		{`{"arr": {"$gt": 6, "$lt": 2}}`, true},
		{`{"arr": {"$elemMatch": {"$gt": 6, "$lt": 2}}}`, false},
		{`{"arr": {"$elemMatch": {"$gt": 6, "$lt": 8}}}`, true},
		{`{"arr": {"$size": 3}}`, true},
		{`{"arr": {"$size": 2}}`, false},
		{`{"arr": {"$all": [1, 7]}}`, true},
		{`{"arr": {"$all": [1, 8]}}`, false},
		{`{"objs.k": 2}`, true},
		{`{"objs.v": null}`, true},
		{`{"objs.k": {"$exists": true}}`, true},
		{`{"objs": {"$elemMatch": {"k": 1, "v": "x"}}}`, true},
		{`{"objs": {"$elemMatch": {"k": 2, "v": "x"}}}`, false},
		{`{"objs.0.k": 1}`, true},
		{`{"objs.1.k": 1}`, false},
		{`{"o.b.c": "d"}`, true},
		{`{"o": {"b": {"c": "d"}, "a": 1}}`, true},
		{`{"o": {"a": 1}}`, false},
		{`{"missing": null}`, true},
		{`{"null": null}`, true},
		{`{"n": null}`, false},
		{`{"missing": {"$exists": false}}`, true},
		{`{"null": {"$exists": true}}`, true},
		{`{"missing": {"$ne": 1}}`, true},
		{`{"arr": {"$ne": 7}}`, false},
		{`{"n": {"$in": [1, 5]}}`, true},
		{`{"n": {"$nin": [1, 5]}}`, false},
		{`{"missing": {"$in": [null]}}`, true},
		{`{"n": {"$type": "number"}}`, true},
		{`{"f": {"$type": "double"}}`, true},
		{`{"n": {"$type": "int"}}`, true},
		{`{"n": {"$type": 16}}`, true},
		{`{"arr": {"$type": "array"}}`, true},
		{`{"strs": {"$type": "string"}}`, true},
		{`{"s": {"$regex": "^hel"}}`, true},
		{`{"s": {"$regex": "^HEL", "$options": "i"}}`, true},
		{`{"strs": {"$regex": "b"}}`, true},
		{`{"n": {"$not": {"$gt": 6}}}`, true},
		{`{"missing": {"$not": {"$gt": 6}}}`, true},
		{`{"$or": [{"n": 1}, {"s": "hello"}]}`, true},
		{`{"$and": [{"n": 5}, {"s": "x"}]}`, false},
		{`{"$nor": [{"n": 1}, {"s": "x"}]}`, true},
		{`{"empty": {"$size": 0}}`, true},
		{`{"empty": []}`, true},
		{`{"t": {"$gt": false}}`, true},
		{`{"_id": 1}`, true},
	}
	for _, tc := range cases {
		f, err := docstore.ParseFilter(tc.filter)
		require.NoError(t, err, tc.filter)
		got, err := f.Matches(doc)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, tc.filter)
	}
	f, err := docstore.ParseFilter(docstore.M{"s": regexp.MustCompile(`l+o$`)})
	require.NoError(t, err)
	got, err := f.Matches(doc)
	require.NoError(t, err)
	require.True(t, got)
}

// Malformed filters are errors naming the operator and the path, never panics.
func TestFilterErrors(t *testing.T) {
	for _, tc := range []struct{ filter, mention string }{
		{`{"a": {"$gt": 1, "b": 2}}`, `"a"`},
		{`{"a": {"$bogus": 1}}`, `$bogus`},
		{`{"$or": {"a": 1}}`, `$or`},
		{`{"$or": []}`, `$or`},
		{`{"$where": "x"}`, `$where`},
		{`{"a": {"$in": 1}}`, `$in at "a"`},
		{`{"a": {"$exists": "yes"}}`, `$exists`},
		{`{"a": {"$size": -1}}`, `$size`},
		{`{"a": {"$regex": "("}}`, `$regex`},
		{`{"a": {"$regex": "x", "$options": "q"}}`, `$options`},
		{`{"a": {"$options": "i"}}`, `$options`},
		{`{"a": {"$type": "bogus"}}`, `$type`},
		{`{"a": {"$elemMatch": 3}}`, `$elemMatch`},
		{`{"a": {"$not": 3}}`, `$not`},
		{`{"a..b": 1}`, `a..b`},
		{`{"a": `, `malformed JSON`},
		{`[1]`, `not an object`},
	} {
		_, err := docstore.ParseFilter(tc.filter)
		require.ErrorIs(t, err, docstore.ErrInvalidFilter, tc.filter)
		require.Contains(t, err.Error(), tc.mention, tc.filter)
	}
	_, err := docstore.ParseFilter(42)
	require.ErrorIs(t, err, docstore.ErrInvalidFilter)
}
