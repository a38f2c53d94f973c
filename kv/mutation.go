package kv

import "fmt"

// MutationType is an atomic operation applied at commit to the latest value of a key, without a
// read and so without a read conflict. The numbers are FoundationDB's.
type MutationType int

// Atomic mutation types. Integers are little-endian; for Add, BitAnd, BitOr, BitXor, Max and Min
// the stored value is first zero-extended or truncated to the parameter's length, and a missing
// value counts as zero (for BitAnd and Min a missing value takes the parameter itself).
const (
	// Add adds the parameter to the value as little-endian unsigned integers of the parameter's
	// length, wrapping on overflow.
	Add MutationType = 2
	// BitAnd, BitOr and BitXor combine the value and the parameter byte by byte.
	BitAnd MutationType = 6
	BitOr  MutationType = 7
	BitXor MutationType = 8
	// AppendIfFits appends the parameter to the value if the result fits the value limit.
	AppendIfFits MutationType = 9
	// Max and Min keep the larger or smaller value as little-endian unsigned integers.
	Max MutationType = 12
	Min MutationType = 13
	// SetVersionstampedKey sets a key whose bytes contain the commit's versionstamp: the
	// parameter of Atomic is the value, the key ends with a 4-byte little-endian offset of the
	// ten bytes to fill.
	SetVersionstampedKey MutationType = 14
	// SetVersionstampedValue sets a value whose bytes contain the commit's versionstamp at the
	// 4-byte little-endian offset that ends the parameter.
	SetVersionstampedValue MutationType = 15
	// ByteMin and ByteMax keep the lexicographically smaller or larger value.
	ByteMin MutationType = 16
	ByteMax MutationType = 17
	// CompareAndClear clears the key if its value equals the parameter.
	CompareAndClear MutationType = 20
)

var mutationNames = map[MutationType]string{
	Add: "ADD", BitAnd: "BIT_AND", BitOr: "BIT_OR", BitXor: "BIT_XOR", AppendIfFits: "APPEND_IF_FITS",
	Max: "MAX", Min: "MIN", SetVersionstampedKey: "SET_VERSIONSTAMPED_KEY",
	SetVersionstampedValue: "SET_VERSIONSTAMPED_VALUE", ByteMin: "BYTE_MIN", ByteMax: "BYTE_MAX",
	CompareAndClear: "COMPARE_AND_CLEAR",
}

// Valid reports whether t is one of the mutation types above.
func (t MutationType) Valid() bool { _, ok := mutationNames[t]; return ok }

// String returns FoundationDB's name of the mutation, such as "ADD".
func (t MutationType) String() string {
	if n, ok := mutationNames[t]; ok {
		return n
	}
	return fmt.Sprintf("MutationType(%d)", int(t))
}

// ApplyAtomic returns the value an atomic mutation produces from the current value (nil when the
// key is absent) and the parameter, with FoundationDB's byte semantics. The second result is
// false when the mutation clears the key (CompareAndClear on a match). Engines evaluate atomic
// mutations with it; the versionstamp types are not handled here and return ErrInvalidMutationType.
func ApplyAtomic(op MutationType, existing []byte, present bool, param []byte) ([]byte, bool, error) {
	switch op {
	case Add:
		return doAdd(existing, param), true, nil
	case BitAnd:
		if !present {
			return clone(param), true, nil
		}
		return bitwise(existing, param, func(a, b byte) byte { return a & b }), true, nil
	case BitOr:
		return bitwise(existing, param, func(a, b byte) byte { return a | b }), true, nil
	case BitXor:
		return bitwise(existing, param, func(a, b byte) byte { return a ^ b }), true, nil
	case AppendIfFits:
		if len(existing)+len(param) > MaxValueSize {
			return clone(existing), present, nil
		}
		out := make([]byte, 0, len(existing)+len(param))
		return append(append(out, existing...), param...), true, nil
	case Max:
		if !present {
			return clone(param), true, nil
		}
		e := fit(existing, len(param))
		if compareLE(param, e) > 0 {
			return clone(param), true, nil
		}
		return e, true, nil
	case Min:
		if !present {
			return clone(param), true, nil
		}
		e := fit(existing, len(param))
		if compareLE(param, e) < 0 {
			return clone(param), true, nil
		}
		return e, true, nil
	case ByteMin:
		if !present || string(param) < string(existing) {
			return clone(param), true, nil
		}
		return clone(existing), true, nil
	case ByteMax:
		if !present || string(param) > string(existing) {
			return clone(param), true, nil
		}
		return clone(existing), true, nil
	case CompareAndClear:
		if present && string(existing) == string(param) {
			return nil, false, nil
		}
		return clone(existing), present, nil
	}
	return nil, false, fmt.Errorf("kv: atomic mutation %v cannot be applied to a value: %w", op, ErrInvalidMutationType)
}

// fit zero-extends or truncates v to n bytes (little-endian, so the low bytes are kept).
func fit(v []byte, n int) []byte {
	out := make([]byte, n)
	copy(out, v)
	return out
}

func doAdd(existing, param []byte) []byte {
	out := fit(existing, len(param))
	carry := 0
	for i := range out {
		s := int(out[i]) + int(param[i]) + carry
		out[i] = byte(s)
		carry = s >> 8
	}
	return out
}

func bitwise(existing, param []byte, f func(a, b byte) byte) []byte {
	out := fit(existing, len(param))
	for i := range out {
		out[i] = f(out[i], param[i])
	}
	return out
}

// compareLE compares two equal-length little-endian unsigned integers.
func compareLE(a, b []byte) int {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// Limits of FoundationDB that both engines enforce.
const (
	// MaxKeySize is the largest key, in bytes (error 2102 above it).
	MaxKeySize = 10_000
	// MaxValueSize is the largest value, in bytes (error 2103 above it).
	MaxValueSize = 100_000
	// MaxTransactionSize is the most bytes a commit may send, its mutations and conflict ranges
	// counted as FoundationDB counts them (error 2101 above it; see the package documentation).
	MaxTransactionSize = 10_000_000
)
