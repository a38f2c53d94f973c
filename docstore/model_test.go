package docstore_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/docstore"
	"github.com/layerkit/layerkit/internal/testdb"
	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/kv/embedded"
)

// model is the in-memory document model: documents by _id, and the unique field u.
type model struct {
	docs   map[int64]docstore.M
	unique bool // the unique index on u exists
}

func (m *model) sortedIDs() []int64 {
	ids := make([]int64, 0, len(m.docs))
	for id := range m.docs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// uniqueOK reports whether doc's u (if any) is free among the other documents.
func (m *model) uniqueOK(id int64, doc docstore.M) bool {
	u, ok := doc["u"]
	if !ok || !m.unique {
		return true
	}
	for other, d := range m.docs {
		if v, has := d["u"]; has && other != id {
			if c, _ := docstore.Compare(u, v); c == 0 {
				return false
			}
		}
	}
	return true
}

// query answers a query from the model: matching documents in sort order (ties by _id,
// descending when every sort field is).
func (m *model) query(t *testing.T, f *docstore.Filter, sort []string) []any {
	var out []docstore.M
	for _, id := range m.sortedIDs() {
		ok, err := f.Matches(m.docs[id])
		require.NoError(t, err)
		if ok {
			out = append(out, m.docs[id])
		}
	}
	allDesc := len(sort) > 0
	for _, s := range sort {
		allDesc = allDesc && strings.HasPrefix(s, "-")
	}
	slices.SortStableFunc(out, func(a, b docstore.M) int {
		for _, s := range sort {
			desc := strings.HasPrefix(s, "-")
			path := strings.TrimPrefix(s, "-")
			c := compareSortKeys(modelSortKey(a, path, desc), modelSortKey(b, path, desc))
			if desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		c, _ := docstore.Compare(a["_id"], b["_id"])
		if allDesc {
			c = -c
		}
		return c
	})
	ids := []any{}
	for _, d := range out {
		ids = append(ids, d["_id"])
	}
	return ids
}

// sortKey is a document's key on one sort field: an empty array (undefined) sorts first.
type sortKey struct {
	undefined bool
	v         any
}

func compareSortKeys(a, b sortKey) int {
	switch {
	case a.undefined && b.undefined:
		return 0
	case a.undefined:
		return -1
	case b.undefined:
		return 1
	}
	c, _ := docstore.Compare(a.v, b.v)
	return c
}

// modelSortKey follows a path of object fields; an array at the end sorts by its smallest
// (largest, descending) element. The generated documents hold arrays only at the end of sort
// paths.
func modelSortKey(d docstore.M, path string, desc bool) sortKey {
	var cur any = map[string]any(d)
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return sortKey{}
		}
		cur = m[p]
	}
	arr, ok := cur.([]any)
	if !ok {
		return sortKey{v: cur}
	}
	if len(arr) == 0 {
		return sortKey{undefined: true}
	}
	best := arr[0]
	for _, e := range arr[1:] {
		c, _ := docstore.Compare(e, best)
		if desc && c > 0 || !desc && c < 0 {
			best = e
		}
	}
	return sortKey{v: best}
}

func randScalar(rng *rand.Rand) any {
	switch rng.IntN(5) {
	case 0:
		return int64(rng.IntN(8))
	case 1:
		return float64(rng.IntN(8)) + 0.5
	case 2:
		return fmt.Sprintf("s%d", rng.IntN(5))
	case 3:
		return nil
	}
	return float64(rng.IntN(8)) // equal to the integers
}

func randDoc(rng *rand.Rand, id int64) docstore.M {
	d := docstore.M{"_id": id, "b": int64(rng.IntN(4))}
	if rng.IntN(10) < 8 {
		d["a"] = randScalar(rng)
	}
	if rng.IntN(10) < 6 {
		tags := []any{}
		for k := rng.IntN(4); k > 0; k-- {
			tags = append(tags, fmt.Sprintf("t%d", rng.IntN(5)))
		}
		d["tags"] = tags
	}
	if rng.IntN(2) == 0 {
		o := map[string]any{"y": fmt.Sprintf("y%d", rng.IntN(3))}
		if rng.IntN(4) > 0 {
			o["x"] = int64(rng.IntN(5))
		}
		d["o"] = o
	}
	if rng.IntN(10) < 3 {
		d["u"] = int64(rng.IntN(20))
	}
	if rng.IntN(10) < 3 {
		d["arr"] = []any{map[string]any{"k": int64(rng.IntN(3))}, map[string]any{"k": int64(rng.IntN(3)), "z": true}}
	}
	if rng.IntN(40) == 0 {
		d["big"] = strings.Repeat(fmt.Sprint(rng.IntN(10)), 150_000) // a split value
	}
	if rng.IntN(3) == 0 {
		log := []any{}
		for k := rng.IntN(12); k > 0; k-- {
			log = append(log, randLogEntry(rng))
		}
		d["log"] = log
	}
	return d
}

// randLogEntry is an element of the array "log", large enough that a few of them make the array
// too large to pack into one value, so that updates move it between both ways of storing it.
func randLogEntry(rng *rand.Rand) any {
	switch rng.IntN(3) {
	case 0:
		return strings.Repeat(fmt.Sprint(rng.IntN(10)), 300)
	case 1:
		return map[string]any{"m": strings.Repeat("m", 200+rng.IntN(100)), "n": int64(rng.IntN(4))}
	}
	return []any{int64(rng.IntN(4)), strings.Repeat("e", 100)}
}

func randUpdate(rng *rand.Rand) docstore.M {
	t := fmt.Sprintf("t%d", rng.IntN(5))
	switch rng.IntN(23) {
	case 0:
		return docstore.M{"$set": docstore.M{"a": randScalar(rng)}}
	case 1:
		return docstore.M{"$set": docstore.M{"o.x": int64(rng.IntN(5))}}
	case 2:
		return docstore.M{"$unset": docstore.M{"a": ""}}
	case 3:
		return docstore.M{"$inc": docstore.M{"b": int64(1 + rng.IntN(2))}}
	case 4:
		return docstore.M{"$push": docstore.M{"tags": t}}
	case 5:
		return docstore.M{"$pull": docstore.M{"tags": t}}
	case 6:
		return docstore.M{"$addToSet": docstore.M{"tags": t}}
	case 7:
		return docstore.M{"$pop": docstore.M{"tags": 1}}
	case 8:
		return docstore.M{"$set": docstore.M{"u": int64(rng.IntN(20))}}
	case 9:
		return docstore.M{"$rename": docstore.M{"a": "a2"}}
	case 10:
		return docstore.M{"$max": docstore.M{"b": int64(rng.IntN(5))}, "$min": docstore.M{"o.x": int64(rng.IntN(5))}}
	case 11:
		return docstore.M{"$set": docstore.M{"arr.0.k": int64(rng.IntN(3))}}
	case 12:
		return docstore.M{"$set": docstore.M{"o": docstore.M{"x": int64(rng.IntN(5))}}, "$unset": docstore.M{"u": ""}}
	case 13:
		return docstore.M{"$push": docstore.M{"tags": docstore.M{"$each": docstore.A{t, "t0"}, "$sort": 1, "$slice": -3}}}
	case 14:
		return docstore.M{"$mul": docstore.M{"a": 2}}
	case 15:
		each := docstore.A{}
		for k := 1 + rng.IntN(4); k > 0; k-- {
			each = append(each, randLogEntry(rng))
		}
		return docstore.M{"$push": docstore.M{"log": docstore.M{"$each": each}}}
	case 16:
		return docstore.M{"$pop": docstore.M{"log": 2*rng.IntN(2) - 1}}
	case 17:
		return docstore.M{"$set": docstore.M{fmt.Sprintf("log.%d", rng.IntN(8)): randLogEntry(rng)}}
	case 18:
		return docstore.M{"$set": docstore.M{fmt.Sprintf("log.%d.n", rng.IntN(8)): int64(rng.IntN(4))}}
	case 19:
		return docstore.M{"$pull": docstore.M{"log": docstore.M{"n": int64(rng.IntN(4))}}}
	case 20: // an array inside an object, packed or not
		each := docstore.A{}
		for k := 1 + rng.IntN(4); k > 0; k-- {
			each = append(each, randLogEntry(rng))
		}
		return docstore.M{"$push": docstore.M{"o.log": docstore.M{"$each": each, "$slice": -1 - rng.IntN(8)}}}
	case 21:
		return docstore.M{"$pull": docstore.M{"o.log": docstore.M{"n": int64(rng.IntN(4))}}}
	}
	return docstore.M{"$set": docstore.M{"tags": docstore.A{}}}
}

var modelFilters = []any{
	nil,
	docstore.M{"a": 3},
	docstore.M{"a": docstore.M{"$gt": 2}},
	docstore.M{"a": docstore.M{"$gte": 1, "$lt": 5}},
	docstore.M{"a": docstore.M{"$type": "string"}},
	docstore.M{"b": 1, "a": docstore.M{"$lt": 5}},
	docstore.M{"b": 2},
	docstore.M{"tags": "t1"},
	docstore.M{"tags": docstore.M{"$gte": "t2"}},
	docstore.M{"tags": docstore.M{"$all": docstore.A{"t1", "t2"}}},
	docstore.M{"o.x": docstore.M{"$gte": 2}},
	docstore.M{"o.x": nil},
	docstore.M{"u": docstore.M{"$exists": true}},
	docstore.M{"u": docstore.M{"$lt": 10}},
	docstore.M{"$or": docstore.A{docstore.M{"b": 0}, docstore.M{"tags": "t3"}}},
	docstore.M{"arr.k": 1},
	docstore.M{"a": docstore.M{"$in": docstore.A{1, "s1", nil}}},
	docstore.M{"tags": docstore.M{"$size": 2}},
	docstore.M{"a": docstore.M{"$ne": 3}},
	docstore.M{"_id": docstore.M{"$gt": 30}},
	docstore.M{"_id": docstore.M{"$in": docstore.A{1, 5, 9, 33}}},
	docstore.M{"arr": docstore.M{"$elemMatch": docstore.M{"k": docstore.M{"$gt": 0}, "z": true}}},
	docstore.M{"b": docstore.M{"$in": docstore.A{1, 3}}, "o.y": "y1"},
	docstore.M{"log.n": docstore.M{"$gte": 2}},
	docstore.M{"log": docstore.M{"$size": 3}},
	docstore.M{"o.log.n": 1, "b": docstore.M{"$lt": 2}},
}

var modelSorts = [][]string{nil, {"a"}, {"-b", "a"}, {"o.x"}, {"-tags"}, {"tags", "-_id"}, {"_id"}, {"-_id"}, {"b", "u"}}

var modelIndexes = []docstore.Index{
	{Name: "a", Fields: []string{"a"}},
	{Name: "b_a", Fields: []string{"b", "a"}},
	{Name: "tags", Fields: []string{"tags"}},
	{Name: "ox", Fields: []string{"o.x"}, Sparse: true},
	{Name: "u", Fields: []string{"u"}, Unique: true, Sparse: true},
	{Name: "arrk", Fields: []string{"arr.k"}},
	{Name: "b_part", Fields: []string{"b"}, Partial: docstore.M{"b": docstore.M{"$gte": 2}}},
	{Name: "logn", Fields: []string{"log.n"}},
	{Name: "ologn", Fields: []string{"o.log.n", "b"}},
}

// Random inserts, replaces, updates (by _id and by filter), upserts and deletes, applied to the
// store through retry loops with commit faults injected and to an in-memory model; queries of
// every plan kind, paged across transactions, are compared with the model along the way, and
// indexes are created (online, over existing documents) and dropped as it runs.
func TestModelRandomOperations(t *testing.T) {
	seed := rand.Uint64()
	if s := os.Getenv("DOCSTORE_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (replay with DOCSTORE_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 13))
	ops := 400
	if os.Getenv("LAYERKIT_SOAK") != "" {
		ops = 20_000
	}
	db := testdb.OpenEmbedded(t, &embedded.Options{Faults: kv.Faults{NotCommitted: 0.03, UnknownApplied: 0.03, UnknownNotApplied: 0.03}})
	clock := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newEnvWith(t, db, &docstore.Options{Clock: func() time.Time { return clock }})
	c := e.coll("model")
	m := &model{docs: map[int64]docstore.M{}}
	indexed := map[string]bool{}
	for _, ix := range modelIndexes[:4] {
		require.NoError(t, c.CreateIndex(ctx, db, ix))
		indexed[ix.Name] = true
	}
	const ids = 60
	for op := 0; op < ops; op++ {
		id := int64(rng.IntN(ids))
		old, exists := m.docs[id]
		switch r := rng.IntN(100); {
		case r < 25: // insert
			d := randDoc(rng, id)
			_, err := c.Insert(ctx, db, d)
			switch {
			case exists && reflect.DeepEqual(old, normalized(t, d)):
				require.NoError(t, err, "op %d: inserting the stored document again is a retry", op)
			case exists:
				require.ErrorIs(t, err, docstore.ErrDuplicateID, "op %d", op)
			case !m.uniqueOK(id, d):
				require.ErrorIs(t, err, docstore.ErrDuplicateKey, "op %d", op)
			default:
				require.NoError(t, err, "op %d insert %v", op, d)
				m.docs[id] = normalized(t, d)
			}
		case r < 32: // replace
			d := randDoc(rng, id)
			err := c.Replace(ctx, db, id, d)
			switch {
			case !exists:
				require.ErrorIs(t, err, docstore.ErrNotFound, "op %d", op)
			case !m.uniqueOK(id, d):
				require.ErrorIs(t, err, docstore.ErrDuplicateKey, "op %d", op)
			default:
				require.NoError(t, err, "op %d", op)
				m.docs[id] = normalized(t, d)
			}
		case r < 65: // update by _id
			u := randUpdate(rng)
			res, err := c.UpdateByID(ctx, db, id, u)
			if !exists {
				require.NoError(t, err)
				require.Zero(t, res.Matched)
				break
			}
			pu, perr := docstore.ParseUpdate(u)
			require.NoError(t, perr)
			want, aerr := pu.Apply(old, clock)
			switch {
			case aerr != nil:
				require.ErrorIs(t, err, docstore.ErrInvalidUpdate, "op %d %v", op, u)
			case !m.uniqueOK(id, want):
				require.ErrorIs(t, err, docstore.ErrDuplicateKey, "op %d", op)
			default:
				require.NoError(t, err, "op %d update %v of %v", op, u, old)
				require.Equal(t, 1, res.Matched)
				m.docs[id] = want
			}
		case r < 72: // update many by filter
			fsrc := modelFilters[rng.IntN(len(modelFilters))]
			u := randUpdate(rng)
			f, err := docstore.ParseFilter(fsrc)
			require.NoError(t, err)
			pu, err := docstore.ParseUpdate(u)
			require.NoError(t, err)
			next := map[int64]docstore.M{}
			var failure error
			for _, mid := range m.sortedIDs() {
				if ok, _ := f.Matches(m.docs[mid]); ok {
					nd, aerr := pu.Apply(m.docs[mid], clock)
					if aerr != nil {
						failure = docstore.ErrInvalidUpdate
						break
					}
					next[mid] = nd
				}
			}
			if failure == nil {
				trial := &model{docs: map[int64]docstore.M{}, unique: m.unique}
				for k, v := range m.docs {
					trial.docs[k] = v
				}
				for k, v := range next {
					trial.docs[k] = v
				}
				for k, v := range next {
					if !trial.uniqueOK(k, v) {
						failure = docstore.ErrDuplicateKey
					}
				}
			}
			res, err := c.UpdateMany(ctx, db, fsrc, u)
			if failure != nil {
				require.ErrorIs(t, err, failure, "op %d", op)
				break
			}
			require.NoError(t, err, "op %d updateMany %v %v", op, fsrc, u)
			require.Equal(t, len(next), res.Matched, "op %d", op)
			for k, v := range next {
				m.docs[k] = v
			}
		case r < 77: // upsert
			u := docstore.M{"$inc": docstore.M{"b": 1}, "$setOnInsert": docstore.M{"a": "new"}}
			res, err := c.Upsert(ctx, db, docstore.M{"_id": id}, u)
			require.NoError(t, err, "op %d", op)
			if exists {
				require.Nil(t, res.UpsertedID)
				pu, err := docstore.ParseUpdate(u)
				require.NoError(t, err)
				m.docs[id], err = pu.Apply(old, clock)
				require.NoError(t, err)
			} else {
				require.Equal(t, id, res.UpsertedID)
				m.docs[id] = docstore.M{"_id": id, "b": int64(1), "a": "new"}
			}
		case r < 87: // delete by _id
			ok, err := c.Delete(ctx, db, docstore.M{"_id": id})
			require.NoError(t, err)
			require.Equal(t, exists, ok, "op %d", op)
			delete(m.docs, id)
		case r < 90: // delete many
			fsrc := modelFilters[1+rng.IntN(len(modelFilters)-1)]
			f, _ := docstore.ParseFilter(fsrc)
			want := 0
			for mid, d := range m.docs {
				if ok, _ := f.Matches(d); ok {
					want++
					delete(m.docs, mid)
				}
			}
			n, err := c.DeleteMany(ctx, db, fsrc)
			require.NoError(t, err)
			require.Equal(t, want, n, "op %d deleteMany %v", op, fsrc)
		case r < 93: // create or drop an index
			ix := modelIndexes[rng.IntN(len(modelIndexes))]
			if indexed[ix.Name] {
				ok, err := c.DropIndex(ctx, db, ix.Name)
				require.NoError(t, err)
				require.True(t, ok)
				delete(indexed, ix.Name)
				m.unique = m.unique && !ix.Unique
				break
			}
			err := c.CreateIndex(ctx, db, ix)
			if ix.Unique && errors.Is(err, docstore.ErrDuplicateKey) {
				break // the model's documents share a u: the build fails and drops the index
			}
			require.NoError(t, err)
			indexed[ix.Name] = true
			m.unique = m.unique || ix.Unique
		default: // a query, paged across transactions
			checkQuery(t, e, c, m, rng, op)
		}
		if op%50 == 49 {
			require.NoError(t, c.Check(ctx, db), "op %d", op) // stored as written, indexes agree
			for _, id := range m.sortedIDs() {
				d, err := c.Get(ctx, db, id)
				require.NoError(t, err)
				require.Equal(t, m.docs[id], d.Map(), "op %d document %d", op, id)
			}
		}
	}
	for i := range modelFilters {
		checkQueryWith(t, e, c, m, modelFilters[i], modelSorts[i%len(modelSorts)], 1+i%5, -1)
	}
}

func normalized(t *testing.T, d docstore.M) docstore.M {
	u, err := docstore.ParseUpdate(docstore.M{"$unset": docstore.M{"__none": ""}})
	require.NoError(t, err)
	n, err := u.Apply(d, time.Time{})
	require.NoError(t, err)
	return n
}

func checkQuery(t *testing.T, e *env, c *docstore.Collection, m *model, rng *rand.Rand, op int) {
	f := modelFilters[rng.IntN(len(modelFilters))]
	s := modelSorts[rng.IntN(len(modelSorts))]
	checkQueryWith(t, e, c, m, f, s, rng.IntN(8), op)
}

func checkQueryWith(t *testing.T, e *env, c *docstore.Collection, m *model, fsrc any, sort []string, pageSize, op int) {
	t.Helper()
	f, err := docstore.ParseFilter(fsrc)
	require.NoError(t, err)
	want := m.query(t, f, sort)
	got, plan := e.pageAll(c, fsrc, docstore.FindOptions{Sort: sort, Limit: pageSize})
	if len(sort) == 0 {
		slices.SortFunc(got, func(a, b any) int { return int(a.(int64) - b.(int64)) })
	}
	require.Equal(t, want, got, "op %d query %v sort %v pages of %d, plan %s", op, fsrc, sort, pageSize, plan)
	n, err := c.Count(ctx, e.db, fsrc)
	require.NoError(t, err)
	require.Equal(t, int64(len(want)), n)
}
