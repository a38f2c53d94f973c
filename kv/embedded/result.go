package embedded

// result is the future of a point read: on this engine it is ready when the read returns. The
// value it holds is the caller's, and for a small read that went to the database the same
// allocation also holds the key of the read's conflict range: such a read costs one allocation.
type result struct {
	v   []byte
	err error
}

// Get returns the value (nil when the key is absent) or the read's error.
func (r *result) Get() ([]byte, error) { return r.v, r.err }

// absent is the result of a read that found no value. It is shared and never changed.
var absent = &result{}

func failedResult(err error) *result { return &result{err: err} }

// maxShared is the most bytes a result holds in its own allocation.
const maxShared = 248

// newResult returns a result and n bytes for it to hold, in one allocation when n is small.
func newResult(n int) (*result, []byte) {
	switch {
	case n <= 24:
		p := new(struct {
			r result
			b [24]byte
		})
		return &p.r, p.b[:n]
	case n <= 56:
		p := new(struct {
			r result
			b [56]byte
		})
		return &p.r, p.b[:n]
	case n <= 120:
		p := new(struct {
			r result
			b [120]byte
		})
		return &p.r, p.b[:n]
	case n <= maxShared:
		p := new(struct {
			r result
			b [maxShared]byte
		})
		return &p.r, p.b[:n]
	}
	return new(result), make([]byte, n)
}

// valueResult returns a result holding a copy of v, or absent.
func valueResult(v []byte, present bool) *result {
	if !present {
		return absent
	}
	r, buf := newResult(len(v))
	copy(buf, v)
	r.v = buf[:len(v):len(v)]
	return r
}

// readResult returns a result holding a copy of v (none when absent), and the key after key
// (key and a zero byte): the end of key's read conflict range. A small read gets both in the
// same allocation; a large value gets its own, since the conflict range lives as long as the
// transaction and must not keep a value the caller has dropped.
func readResult(key, v []byte, present bool) (*result, []byte) {
	k := len(key) + 1
	n := k
	if present {
		n += len(v)
	}
	if n > maxShared {
		after := make([]byte, k)
		copy(after, key)
		return valueResult(v, present), after
	}
	r, buf := newResult(n)
	copy(buf, key)
	buf[len(key)] = 0
	if present {
		copy(buf[k:], v)
		r.v = buf[k:n:n]
	}
	return r, buf[:k:k]
}
