package embedded

import (
	"sync"

	"github.com/layerkit/layerkit/kv"
)

// Range reads gather their rows in a collector before they are handed out. Most reads are short
// (a record, a document's fields, a page of index entries), and how short is known only once
// Pebble has been read, so the rows are first copied into a reused scratch buffer and then, in
// one step, into memory of exactly their size: one block for the keys and values and one slice
// for the rows. A large read is copied out in blocks of flushBytes as it goes, so the scratch
// buffer stays small and the copying costs little next to reading Pebble.

const (
	// flushBytes is how many bytes of rows the scratch buffer gathers before they are copied to
	// a block of their own.
	flushBytes = 32 << 10
	// keepRows bounds the row scratch a collector keeps for the next read.
	keepRows = 4096
)

// rowSpan locates a gathered row in the scratch buffer: the key is buf[k:v], the value buf[v:e].
type rowSpan struct{ k, v, e int }

// collector gathers the rows of one batch of a range read. Obtain it with getCollector and give
// it back with put once its rows were taken (rows or lastKey).
type collector struct {
	// keysOnly leaves the rows' values out (a key selector needs keys only).
	keysOnly bool
	buf      []byte
	spans    []rowSpan
	// done are the rows already copied out, in blocks of their own.
	done []kv.KeyValue
	// overlay is scan's scratch for the transaction's writes in the range.
	overlay []overlayEntry
}

var collectors = sync.Pool{New: func() any { return new(collector) }}

func getCollector(keysOnly bool) *collector {
	c := collectors.Get().(*collector)
	c.keysOnly = keysOnly
	return c
}

// put clears the collector and gives it back for a later read.
func (c *collector) put() {
	c.reset()
	if cap(c.buf) > 2*flushBytes {
		c.buf = nil
	}
	if cap(c.done) > keepRows {
		c.done = nil
	}
	if cap(c.spans) > keepRows {
		c.spans = nil
	}
	clear(c.overlay[:cap(c.overlay)])
	c.overlay = c.overlay[:0]
	collectors.Put(c)
}

// reset drops the rows gathered so far.
func (c *collector) reset() {
	c.buf, c.spans = c.buf[:0], c.spans[:0]
	clear(c.done) // let go of the blocks
	c.done = c.done[:0]
}

// len is the number of rows gathered.
func (c *collector) len() int { return len(c.done) + len(c.spans) }

// add gathers a row; the collector copies key and value.
func (c *collector) add(key, value []byte) {
	if c.keysOnly {
		value = nil
	}
	if len(c.buf) > 0 && len(c.buf)+len(key)+len(value) > flushBytes {
		c.flush()
	}
	s := rowSpan{k: len(c.buf)}
	c.buf = append(c.buf, key...)
	s.v = len(c.buf)
	c.buf = append(c.buf, value...)
	s.e = len(c.buf)
	c.spans = append(c.spans, s)
}

// flush copies the rows in the scratch buffer to a block of their exact size. Every key and
// value is capped, so appending to one never writes into its neighbour; none is nil (an empty
// block is an empty slice, not nil), except the values of a keys-only read.
func (c *collector) flush() {
	if len(c.spans) == 0 {
		return
	}
	block := make([]byte, len(c.buf))
	copy(block, c.buf)
	for _, s := range c.spans {
		row := kv.KeyValue{Key: block[s.k:s.v:s.v]}
		if !c.keysOnly {
			row.Value = block[s.v:s.e:s.e]
		}
		c.done = append(c.done, row)
	}
	c.buf, c.spans = c.buf[:0], c.spans[:0]
}

// rows returns rows followed by the gathered rows, in a slice of exactly their number.
func (c *collector) rows(rows []kv.KeyValue) []kv.KeyValue {
	c.flush()
	if len(c.done) == 0 {
		if rows == nil {
			rows = []kv.KeyValue{}
		}
		return rows
	}
	out := make([]kv.KeyValue, len(rows)+len(c.done))
	copy(out, rows)
	copy(out[len(rows):], c.done)
	return out
}

// lastKey returns the key of the last row gathered, valid until the collector changes; there
// must be one. It is never nil, not even the empty key in a fresh collector's buffer.
func (c *collector) lastKey() []byte {
	if n := len(c.spans); n > 0 {
		s := c.spans[n-1]
		if c.buf == nil {
			return []byte{}
		}
		return c.buf[s.k:s.v:s.v]
	}
	return c.done[len(c.done)-1].Key
}
