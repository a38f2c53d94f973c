package kvtest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/layerkit/layerkit/kv"
)

func rangeCases() []testCase {
	return []testCase{
		{"HalfOpen", testRangeHalfOpen},
		{"Limit", testRangeLimit},
		{"Reverse", testRangeReverse},
		{"Iterator", testRangeIterator},
		{"StreamingModes", testStreamingModes},
		{"SelectorBounds", testRangeSelectorBounds},
		{"Prefix", testRangePrefix},
	}
}

// abcde loads keys a..e with values 1..5.
func abcde(t *testing.T, db kv.Database) {
	setKeys(t, db, "a", "1", "b", "2", "c", "3", "d", "4", "e", "5")
}

func rng(begin, end string) kv.Range { return kv.Range{Begin: b(begin), End: b(end)} }

func testRangeHalfOpen(t *testing.T, s *suite) {
	db := s.db(t)
	abcde(t, db)
	tr := newTr(t, db)
	for _, c := range []struct {
		r    kv.Range
		want []string
	}{
		{rng("b", "d"), []string{"b", "c"}},
		{rng("a", "e"), []string{"a", "b", "c", "d"}},
		{rng("", "\xff"), []string{"a", "b", "c", "d", "e"}},
		{rng("b\x00", "d\x00"), []string{"c", "d"}},
		{rng("c", "c"), []string{}},
		{rng("f", "z"), []string{}},
		{rng("", "a"), []string{}},
		{kv.Range{Begin: nil, End: b("b")}, []string{"a"}}, // a nil key is the empty key
	} {
		require.Equal(t, c.want, keys(getRange(t, tr, c.r, kv.RangeOptions{})), "range %v", c.r)
	}
	require.Equal(t, []string{"b=2", "c=3"}, rows(getRange(t, tr, rng("b", "d"), kv.RangeOptions{})), "rows carry their values")
}

func testRangeLimit(t *testing.T, s *suite) {
	db := s.db(t)
	abcde(t, db)
	tr := newTr(t, db)
	all := rng("", "\xff")
	require.Equal(t, []string{"a", "b"}, keys(getRange(t, tr, all, kv.RangeOptions{Limit: 2})))
	require.Equal(t, []string{"a"}, keys(getRange(t, tr, all, kv.RangeOptions{Limit: 1})))
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, keys(getRange(t, tr, all, kv.RangeOptions{Limit: 5})))
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, keys(getRange(t, tr, all, kv.RangeOptions{Limit: 100})))
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, keys(getRange(t, tr, all, kv.RangeOptions{Limit: 0})), "limit 0 means no limit")
	require.Equal(t, []string{"c", "d"}, keys(getRange(t, tr, rng("c", "z"), kv.RangeOptions{Limit: 2})))
}

func testRangeReverse(t *testing.T, s *suite) {
	db := s.db(t)
	abcde(t, db)
	tr := newTr(t, db)
	require.Equal(t, []string{"e", "d", "c", "b", "a"}, keys(getRange(t, tr, rng("", "\xff"), kv.RangeOptions{Reverse: true})))
	require.Equal(t, []string{"c", "b"}, keys(getRange(t, tr, rng("b", "d"), kv.RangeOptions{Reverse: true})), "reverse keeps [begin, end)")
	require.Equal(t, []string{"e", "d"}, keys(getRange(t, tr, rng("", "\xff"), kv.RangeOptions{Reverse: true, Limit: 2})), "a limited reverse read returns the last rows")
	require.Equal(t, []string{"d"}, keys(getRange(t, tr, rng("a", "e"), kv.RangeOptions{Reverse: true, Limit: 1})))
	require.Equal(t, []string{"e=5", "d=4"}, rows(getRange(t, tr, rng("d", "z"), kv.RangeOptions{Reverse: true})))
}

func testRangeIterator(t *testing.T, s *suite) {
	db := s.db(t)
	write(t, db, func(tr kv.Transaction) {
		for i := range 250 {
			tr.Set(fmt.Appendf(nil, "it/%04d", i), fmt.Appendf(nil, "%d", i))
		}
	})
	tr := newTr(t, db)
	r := rng("it/", "it0")
	for _, o := range []kv.RangeOptions{{}, {Reverse: true}, {Limit: 17}, {Limit: 17, Reverse: true}, {Mode: kv.StreamingWantAll}} {
		want := rows(getRange(t, tr, r, o))
		it := tr.GetRange(r, o).Iterator()
		var got []kv.KeyValue
		for it.Next() {
			got = append(got, it.KeyValue())
		}
		require.NoError(t, it.Err())
		require.Equal(t, want, rows(got), "iterator and GetSlice agree for %+v", o)
		require.False(t, it.Next(), "Next stays false at the end")
	}
	// Stopping early is allowed, and earlier rows stay valid after Next.
	it := tr.GetRange(r, kv.RangeOptions{}).Iterator()
	require.True(t, it.Next())
	first := it.KeyValue()
	require.True(t, it.Next())
	require.Equal(t, "it/0000=0", rows([]kv.KeyValue{first})[0])
	require.Equal(t, "it/0001", string(it.KeyValue().Key))
	require.NoError(t, it.Err())
}

func testStreamingModes(t *testing.T, s *suite) {
	db := s.db(t)
	var all []string
	write(t, db, func(tr kv.Transaction) {
		for i := range 300 {
			k := fmt.Sprintf("s/%03d", i)
			all = append(all, k)
			tr.Set(b(k), b(k))
		}
	})
	tr := newTr(t, db)
	modes := []kv.StreamingMode{kv.StreamingIterator, kv.StreamingWantAll, kv.StreamingExact, kv.StreamingSmall,
		kv.StreamingMedium, kv.StreamingLarge, kv.StreamingSerial}
	for _, m := range modes {
		for _, limit := range []int{0, 1, 7, 250, 300, 1000} {
			if m == kv.StreamingExact && limit == 0 {
				continue // Exact needs a limit
			}
			for _, rev := range []bool{false, true} {
				want := slices.Clone(all)
				if rev {
					slices.Reverse(want)
				}
				if limit > 0 && limit < len(want) {
					want = want[:limit]
				}
				o := kv.RangeOptions{Limit: limit, Reverse: rev, Mode: m}
				require.Equal(t, want, keys(getRange(t, tr, rng("s/", "s0"), o)), "mode %d %+v", m, o)
				it := tr.GetRange(rng("s/", "s0"), o).Iterator()
				n := 0
				for it.Next() {
					require.Equal(t, want[n], string(it.KeyValue().Key))
					n++
				}
				require.NoError(t, it.Err())
				require.Equal(t, len(want), n, "iterator of mode %d %+v", m, o)
			}
		}
	}
}

func testRangeSelectorBounds(t *testing.T, s *suite) {
	db := s.db(t)
	abcde(t, db)
	tr := newTr(t, db)
	for _, c := range []struct {
		r    kv.SelectorRange
		want []string
	}{
		{kv.SelectorRange{Begin: kv.FirstGreaterThan(b("a")), End: kv.LastLessOrEqual(b("d"))}, []string{"b", "c"}},
		{kv.SelectorRange{Begin: kv.FirstGreaterOrEqual(b("b")).Add(1), End: kv.FirstGreaterOrEqual(b("z"))}, []string{"c", "d", "e"}},
		{kv.SelectorRange{Begin: kv.LastLessThan(b("c")), End: kv.FirstGreaterThan(b("c"))}, []string{"b", "c"}},
		{kv.SelectorRange{Begin: kv.LastLessOrEqual(b("bb")), End: kv.FirstGreaterOrEqual(b("bb")).Add(2)}, []string{"b", "c", "d"}},
		// Selectors that resolve before the first key or past the last clamp to the keyspace.
		{kv.SelectorRange{Begin: kv.FirstGreaterOrEqual(b("a")).Add(-5), End: kv.LastLessThan(b("a")).Add(10)}, []string{"a", "b", "c", "d", "e"}},
		{kv.SelectorRange{Begin: kv.LastLessThan(b("a")), End: kv.FirstGreaterOrEqual(b("b"))}, []string{"a"}},
		{kv.SelectorRange{Begin: kv.LastLessThan(nil), End: kv.FirstGreaterOrEqual(b("b"))}, []string{"a"}},
		// A begin that resolves at or after the end gives no rows and no error.
		{kv.SelectorRange{Begin: kv.FirstGreaterOrEqual(b("d")), End: kv.FirstGreaterOrEqual(b("b"))}, []string{}},
		{kv.SelectorRange{Begin: kv.FirstGreaterThan(b("c")), End: kv.LastLessOrEqual(b("d"))}, []string{}},
	} {
		require.Equal(t, c.want, keys(getRange(t, tr, c.r, kv.RangeOptions{})), "range %v .. %v", c.r.Begin, c.r.End)
		rev := slices.Clone(c.want)
		slices.Reverse(rev)
		require.Equal(t, rev, keys(getRange(t, tr, c.r, kv.RangeOptions{Reverse: true})), "reverse range %v .. %v", c.r.Begin, c.r.End)
	}
	// A plain Range is the selector range of its two keys.
	br, er := rng("b", "d").Selectors()
	require.Equal(t, kv.FirstGreaterOrEqual(b("b")), br)
	require.Equal(t, kv.FirstGreaterOrEqual(b("d")), er)
}

func testRangePrefix(t *testing.T, s *suite) {
	db := s.db(t)
	setKeys(t, db, "p", "0", "p/", "1", "p/a", "2", "p/\xff", "3", "p0", "4", "q", "5")
	pr, err := kv.PrefixRange(b("p/"))
	require.NoError(t, err)
	require.Equal(t, []string{"p/", "p/a", "p/\\xff"}, keys(getRange(t, newTr(t, db), pr, kv.RangeOptions{})))
}
