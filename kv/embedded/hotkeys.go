package embedded

import (
	"bytes"
	"sort"
	"sync"
	"sync/atomic"
)

// Reverse reads and hot keys.
//
// Pebble keeps every version of a key in the memtable until a flush, ordered newest first. A
// forward read lands on the newest version at once, but a reverse read lands on the oldest and
// steps through all of them to find the newest: a key written by every transaction (a counter
// changed with atomic ADD, as the directory layer's allocator does) makes each reverse read that
// reaches it cost as many steps as there were commits since the last flush. The engine learns
// which keys those are (a reverse positioning that took more than hotSteps steps) and reads them
// in reverse differently: it asks Pebble for the last key above the hot key, with the hot key as
// a limit so Pebble stops before its versions, and reads the hot key itself forwards, which lands
// on its newest version directly (see viewIter). The result is the same; only the path to it
// changes.

const (
	// hotSteps is how many internal steps one reverse positioning may take before the key it
	// landed on counts as hot.
	hotSteps = 64
	// maxHotKeys bounds the registry; when it is full it starts over.
	maxHotKeys = 64
)

// hotKey is a hot key with the key right after it (the limit that stops a reverse step before
// the key's versions).
type hotKey struct {
	key, after []byte
}

// hotKeys is a database's registry of hot keys. It is safe for concurrent use: the sorted list
// is replaced, never changed, so readers take it without a lock. A flush leaves one version of
// each key, so the registry is emptied after each flush.
type hotKeys struct {
	keys atomic.Pointer[[]hotKey]
	mu   sync.Mutex // serialises replacements
}

// within returns the hot keys in [lo, hi) (hi nil: no upper bound), sorted. The caller must not
// change the slice.
func (h *hotKeys) within(lo, hi []byte) []hotKey {
	p := h.keys.Load()
	if p == nil {
		return nil
	}
	keys := *p
	i := sort.Search(len(keys), func(i int) bool { return bytes.Compare(keys[i].key, lo) >= 0 })
	j := len(keys)
	if hi != nil {
		j = sort.Search(len(keys), func(i int) bool { return bytes.Compare(keys[i].key, hi) >= 0 })
	}
	if i >= j {
		return nil
	}
	return keys[i:j:j]
}

// add records key as hot and returns its entry.
func (h *hotKeys) add(key []byte) hotKey {
	k := hotKey{key: bytes.Clone(key), after: append(bytes.Clone(key), 0)}
	h.mu.Lock()
	defer h.mu.Unlock()
	var keys []hotKey
	if p := h.keys.Load(); p != nil && len(*p) < maxHotKeys {
		keys = *p
	}
	keys = insertHot(keys, k)
	h.keys.Store(&keys)
	return k
}

func (h *hotKeys) reset() { h.keys.Store(nil) }

// insertHot returns a new sorted list: keys with k inserted unless it is there.
func insertHot(keys []hotKey, k hotKey) []hotKey {
	i := sort.Search(len(keys), func(i int) bool { return bytes.Compare(keys[i].key, k.key) >= 0 })
	if i < len(keys) && bytes.Equal(keys[i].key, k.key) {
		return keys
	}
	out := make([]hotKey, 0, len(keys)+1)
	out = append(out, keys[:i]...)
	out = append(out, k)
	return append(out, keys[i:]...)
}
