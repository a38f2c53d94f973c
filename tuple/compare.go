package tuple

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strings"

	"github.com/google/uuid"
)

// Compare returns -1, 0 or +1 as a orders before, equal to or after b, the same answer as
// bytes.Compare(a.Pack(), b.Pack()) without packing. Elements of different types order by type
// code (nil, []byte, string, nested tuple, integers, float32, float64, false, true, UUID,
// Versionstamp); integers of any Go type compare by value; floats in IEEE total order (NaNs by
// sign and payload, −0 before +0); a tuple orders before any tuple it is a prefix of.
//
// Compare does not validate UTF-8 (strings order by their bytes) and accepts incomplete
// versionstamps. Like Pack, it panics on an element of a Go type no tuple type can hold.
func Compare(a, b Tuple) int { return compareElems(a, b) }

func compareElems(a, b []Element) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := compareElem(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// kind returns the type code that orders e among other types, one code for every integer since
// integers order by value whatever their width, and e itself, or for a named type (type Name
// string) its value as the basic type.
func kind(e Element) (byte, Element) {
	switch v := e.(type) {
	case nil:
		return codeNil, e
	case []byte:
		return codeBytes, e
	case string:
		return codeString, e
	case Tuple, []any:
		return codeNested, e
	case int, int64, int32, int16, int8, uint, uint64, uint32, uint16, uint8, uintptr, big.Int:
		return codeIntZero, e
	case *big.Int:
		if v != nil {
			return codeIntZero, e
		}
	case float32:
		return codeFloat, e
	case float64:
		return codeDouble, e
	case bool:
		if v {
			return codeTrue, e
		}
		return codeFalse, e
	case UUID, uuid.UUID:
		return codeUUID, e
	case Versionstamp:
		return codeVersionstamp, e
	default:
		if b := basic(e); b != nil {
			return kind(b)
		}
	}
	panic(&packError{msg: fmt.Sprintf("%T cannot be compared (value %v)", e, e), kind: ErrUnsupportedType})
}

func compareElem(x, y Element) int {
	kx, x := kind(x)
	ky, y := kind(y)
	if kx != ky {
		return cmp.Compare(kx, ky)
	}
	switch kx {
	case codeBytes:
		return bytes.Compare(x.([]byte), y.([]byte))
	case codeString:
		// Escaping 00 as 00 ff keeps the order of the raw bytes, since the byte after a
		// terminator (a type code or end) is always below ff.
		return strings.Compare(x.(string), y.(string))
	case codeNested:
		return compareElems(asSlice(x), asSlice(y))
	case codeIntZero:
		return compareInts(x, y)
	case codeFloat:
		return cmp.Compare(float32Key(x.(float32)), float32Key(y.(float32)))
	case codeDouble:
		return cmp.Compare(float64Key(x.(float64)), float64Key(y.(float64)))
	case codeUUID:
		ux, uy := asUUID(x), asUUID(y)
		return bytes.Compare(ux[:], uy[:])
	case codeVersionstamp:
		vx, vy := x.(Versionstamp), y.(Versionstamp)
		if c := bytes.Compare(vx.TransactionVersion[:], vy.TransactionVersion[:]); c != 0 {
			return c
		}
		return cmp.Compare(vx.UserVersion, vy.UserVersion)
	}
	return 0 // nil, false, true: the kind is the value
}

func asSlice(e Element) []Element {
	if t, ok := e.(Tuple); ok {
		return t
	}
	return e.([]any)
}

func asUUID(e Element) UUID {
	if u, ok := e.(UUID); ok {
		return u
	}
	return UUID(e.(uuid.UUID))
}

func float32Key(f float32) uint32 {
	u := math.Float32bits(f)
	if u&(1<<31) != 0 {
		return ^u
	}
	return u ^ 1<<31
}

func float64Key(f float64) uint64 {
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		return ^u
	}
	return u ^ 1<<63
}

// intValue splits an integer element into sign and 64-bit magnitude, or returns it as a
// *big.Int when the magnitude needs more than 64 bits.
func intValue(e Element) (neg bool, mag uint64, large *big.Int) {
	switch v := e.(type) {
	case int:
		return splitInt(int64(v))
	case int64:
		return splitInt(v)
	case int32:
		return splitInt(int64(v))
	case int16:
		return splitInt(int64(v))
	case int8:
		return splitInt(int64(v))
	case uint:
		return false, uint64(v), nil
	case uint64:
		return false, v, nil
	case uint32:
		return false, uint64(v), nil
	case uint16:
		return false, uint64(v), nil
	case uint8:
		return false, uint64(v), nil
	case uintptr:
		return false, uint64(v), nil
	case *big.Int:
		return splitBig(v)
	case big.Int:
		return splitBig(&v)
	}
	panic("unreachable: intValue of a non-integer")
}

func splitInt(v int64) (bool, uint64, *big.Int) {
	if v < 0 {
		return true, uint64(-v), nil
	}
	return false, uint64(v), nil
}

func splitBig(v *big.Int) (bool, uint64, *big.Int) {
	if v.BitLen() > 64 {
		return v.Sign() < 0, 0, v
	}
	var m uint64
	for i, w := range v.Bits() {
		m |= uint64(w) << (i * bits.UintSize)
	}
	return v.Sign() < 0, m, nil
}

func compareInts(x, y Element) int {
	nx, mx, bx := intValue(x)
	ny, my, by := intValue(y)
	if bx != nil || by != nil {
		return toBig(nx, mx, bx).Cmp(toBig(ny, my, by))
	}
	switch {
	case nx && !ny:
		return -1
	case !nx && ny:
		return 1
	case nx:
		return cmp.Compare(my, mx)
	}
	return cmp.Compare(mx, my)
}

func toBig(neg bool, mag uint64, large *big.Int) *big.Int {
	if large != nil {
		return large
	}
	v := new(big.Int).SetUint64(mag)
	if neg {
		v.Neg(v)
	}
	return v
}
