package tuple

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/layerkit/layerkit/kv"
)

// Element is one value of a tuple. See the package documentation for the Go types it may hold.
type Element = any

// Tuple is an ordered list of elements, packed into and unpacked from order-preserving bytes.
type Tuple []Element

// Errors returned by AppendPack, PackWithVersionstamp and Unpack; each is wrapped with the
// position of the problem, so test them with errors.Is.
var (
	// ErrUnsupportedType is returned when an element has a Go type no tuple type can hold.
	ErrUnsupportedType = errors.New("tuple: unsupported element type")
	// ErrInvalidUTF8 is returned when a string to pack, or a packed string to unpack, is not
	// valid UTF-8.
	ErrInvalidUTF8 = errors.New("tuple: string is not valid UTF-8")
	// ErrIntegerTooLarge is returned when an integer's magnitude needs more than 255 bytes.
	ErrIntegerTooLarge = errors.New("tuple: integer magnitude larger than 255 bytes")
	// ErrIncompleteVersionstamp is returned when a plain pack meets an incomplete versionstamp,
	// which only PackWithVersionstamp can place.
	ErrIncompleteVersionstamp = errors.New("tuple: incomplete versionstamp in a plain pack")
	// ErrVersionstampCount is returned when PackWithVersionstamp gets a tuple without an
	// incomplete versionstamp, or when a tuple holds more than one.
	ErrVersionstampCount = errors.New("tuple: want exactly one incomplete versionstamp")
	// ErrMalformed is returned by Unpack for bytes that are not a packed tuple.
	ErrMalformed = errors.New("tuple: malformed packed tuple")
)

// Range returns the range of keys of every tuple that starts with the elements of t and has at
// least one more: [pack(t)+0x00, pack(t)+0xff). It does not contain pack(t) itself. It panics
// where Pack does.
func (t Tuple) Range() kv.Range {
	p := t.Pack()
	begin := make([]byte, len(p)+1)
	copy(begin, p)
	end := make([]byte, len(p)+1)
	copy(end, p)
	end[len(p)] = 0xff
	return kv.Range{Begin: begin, End: end}
}

// Selectors makes a Tuple a kv.Ranger: the selectors of Range, so a tuple can be passed to a
// range read directly. It panics where Pack does.
func (t Tuple) Selectors() (kv.KeySelector, kv.KeySelector) {
	return t.Range().Selectors()
}

// String prints the tuple as the official Go binding does, for example ("a", 1, <nil>): strings
// quoted, byte strings as b"…" with non-printable bytes escaped, UUIDs as UUID(…), nested tuples
// in parentheses, anything else with fmt's %v.
func (t Tuple) String() string {
	var sb strings.Builder
	writeTuple(&sb, t)
	return sb.String()
}

func writeTuple(sb *strings.Builder, t []Element) {
	sb.WriteByte('(')
	for i, e := range t {
		if i > 0 {
			sb.WriteString(", ")
		}
		switch e := e.(type) {
		case nil:
			sb.WriteString("<nil>")
		case Tuple:
			writeTuple(sb, e)
		case []any:
			writeTuple(sb, e)
		case string:
			sb.WriteString(strconv.Quote(e))
		case []byte:
			sb.WriteString(`b"`)
			sb.WriteString(kv.Printable(e))
			sb.WriteByte('"')
		case UUID:
			sb.WriteString("UUID(")
			sb.WriteString(e.String())
			sb.WriteByte(')')
		case *big.Int:
			sb.WriteString(e.String())
		default:
			fmt.Fprintf(sb, "%v", e)
		}
	}
	sb.WriteByte(')')
}

var _ kv.Ranger = Tuple{}

// UUID is an RFC 4122 UUID, packed as 16 bytes in network byte order. Packing also accepts
// github.com/google/uuid.UUID; Unpack returns this type.
type UUID [16]byte

// String formats the UUID as 8-4-4-4-12 lower-case hex digits.
func (u UUID) String() string {
	const hexdigits = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexdigits[c>>4], hexdigits[c&0xf]
		j += 2
	}
	return string(b[:])
}

// Versionstamp is a 12-byte versionstamp: the 10-byte transaction version the database assigns
// at commit (8-byte big-endian commit version, 2-byte batch order) and a 2-byte user version that
// orders several stamps written by one transaction.
type Versionstamp struct {
	TransactionVersion [10]byte
	UserVersion        uint16
}

// IncompleteVersionstamp returns a versionstamp whose transaction version is not known yet (all
// 0xff), to be filled in at commit through PackWithVersionstamp and a versionstamped-key
// mutation.
func IncompleteVersionstamp(userVersion uint16) Versionstamp {
	v := Versionstamp{UserVersion: userVersion}
	for i := range v.TransactionVersion {
		v.TransactionVersion[i] = 0xff
	}
	return v
}

// Bytes returns the 12 bytes of the stamp: transaction version, then the user version big-endian.
func (v Versionstamp) Bytes() []byte {
	b := make([]byte, 12)
	copy(b, v.TransactionVersion[:])
	b[10], b[11] = byte(v.UserVersion>>8), byte(v.UserVersion)
	return b
}

// IsComplete reports whether the transaction version is known (not all 0xff).
func (v Versionstamp) IsComplete() bool {
	for _, c := range v.TransactionVersion {
		if c != 0xff {
			return true
		}
	}
	return false
}

// String prints the stamp as the official binding does: Versionstamp(<transaction version with
// non-printable bytes escaped>, <user version>).
func (v Versionstamp) String() string {
	return fmt.Sprintf("Versionstamp(%s, %d)", kv.Printable(v.TransactionVersion[:]), v.UserVersion)
}
