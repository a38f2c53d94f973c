package embedded

import (
	"bytes"
	"sort"

	"github.com/layerkit/layerkit/kv"
)

// The transaction size limit (2101) applies to what FoundationDB's client sends at commit
// (NativeAPI Transaction::getSize): the mutations left after its write map combined the
// transaction's writes, and the read and write conflict ranges after merging, each counted with
// its fixed overhead. A key set twice counts once, a set erased by a later clear not at all, and
// conflict ranges count as much as mutations.
//
// Writes keep a running upper bound of that size (tx.size, plus the read conflict ranges at
// commit); only a commit whose bound passes the limit works out the exact size.

// commitSize returns the transaction's size and whether it passes the limit.
func (tx *transaction) commitSize() (int, bool) {
	bound := tx.size + rangesSize(tx.reads) + rangesSize(tx.explicit)
	if bound <= kv.MaxTransactionSize {
		return bound, false
	}
	n := tx.exactSize()
	return n, n > kv.MaxTransactionSize
}

// rangesSize is the size of conflict ranges as they are, unmerged.
func rangesSize(rs []kv.Range) int {
	n := 0
	for _, r := range rs {
		n += rangeOverhead + len(r.Begin) + len(r.End)
	}
	return n
}

// exactSize works out what FoundationDB would send: range clears as the runs of cleared keys
// (split where the transaction wrote a key inside a cleared range), the mutations of each
// written key, the versionstamped keys still in the write map, and the merged conflict ranges.
// (A versionstamped key whose range covered earlier writes makes FoundationDB send those at once
// and again if written again; that rare case is counted once.)
func (tx *transaction) exactSize() int {
	w := &tx.writes
	n := 0
	cleared := append([]kv.Range(nil), w.clears...)
	var written [][]byte
	var wconf []kv.Range
	for k, e := range w.points.Ascend(nil, nil) {
		if e.known && !e.present && len(e.ops) == 0 && e.cleared {
			cleared = append(cleared, pointRange(k))
		} else {
			n += e.mutationBytes(k)
			written = append(written, k)
		}
		if e.conflict {
			wconf = append(wconf, pointRange(k))
		}
	}
	for _, r := range mergeRanges(cleared) {
		b := r.Begin
		i := sort.Search(len(written), func(i int) bool { return bytes.Compare(written[i], b) >= 0 })
		for ; i < len(written) && bytes.Compare(written[i], r.End) < 0; i++ {
			if bytes.Compare(b, written[i]) < 0 {
				n += mutationOverhead + len(b) + len(written[i])
			}
			b = kv.KeyAfter(written[i])
		}
		if bytes.Compare(b, r.End) < 0 {
			n += mutationOverhead + len(b) + len(r.End)
		}
	}
	for _, vk := range w.vsKeys {
		if !vk.dropped {
			n += mutationOverhead + len(vk.placeholder) + len(vk.value)
		}
	}
	wconf = append(wconf, tx.wconf...)
	n += rangesSize(mergeRanges(wconf))
	reads := append(append([]kv.Range(nil), tx.reads...), tx.explicit...)
	n += rangesSize(mergeRanges(reads))
	return n
}

// mergeRanges sorts rs and merges the ranges that overlap or touch.
func mergeRanges(rs []kv.Range) []kv.Range {
	if len(rs) == 0 {
		return nil
	}
	sort.Slice(rs, func(i, j int) bool { return bytes.Compare(rs[i].Begin, rs[j].Begin) < 0 })
	out := []kv.Range{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if bytes.Compare(r.Begin, last.End) <= 0 {
			if bytes.Compare(r.End, last.End) > 0 {
				last.End = r.End
			}
			continue
		}
		out = append(out, r)
	}
	return out
}
