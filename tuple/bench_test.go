package tuple_test

import (
	"testing"

	"github.com/layerkit/layerkit/tuple"
)

// benchTuples are the tuples of issue 3's performance targets.
var benchTuples = []struct {
	name string
	t    tuple.Tuple
}{
	{"lib", tuple.Tuple{"lib", 2, 5, 201}},
	{"mixed", tuple.Tuple{"user\x00name", []byte{0x00, 0x01, 0xff, 0x00}, -123456789, 3.14159, true, nil, tuple.Tuple{"inner", int64(7), nil}}},
}

func BenchmarkAppendPack(b *testing.B) {
	for _, bt := range benchTuples {
		b.Run("tuple="+bt.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 256)
			var err error
			for b.Loop() {
				buf, err = bt.t.AppendPack(buf[:0])
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPack(b *testing.B) {
	for _, bt := range benchTuples {
		b.Run("tuple="+bt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = bt.t.Pack()
			}
		})
	}
}

func BenchmarkUnpack(b *testing.B) {
	for _, bt := range benchTuples {
		packed := bt.t.Pack()
		b.Run("tuple="+bt.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(packed)))
			for b.Loop() {
				if _, err := tuple.Unpack(packed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompare(b *testing.B) {
	for _, bt := range benchTuples {
		other, err := tuple.Unpack(bt.t.Pack())
		if err != nil {
			b.Fatal(err)
		}
		b.Run("tuple="+bt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if tuple.Compare(bt.t, other) != 0 {
					b.Fatal("not equal")
				}
			}
		})
	}
}

// BenchmarkGolden packs and unpacks every pack vector of testdata/vectors.golden per iteration.
func BenchmarkGolden(b *testing.B) {
	var ts []tuple.Tuple
	var packed [][]byte
	for _, v := range loadVectors(b) {
		if v.op == "pack" {
			ts, packed = append(ts, v.in), append(packed, v.packed)
		}
	}
	b.Run("op=AppendPack", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			for _, t := range ts {
				buf, _ = t.AppendPack(buf[:0])
			}
		}
	})
	b.Run("op=Unpack", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range packed {
				if _, err := tuple.Unpack(p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("op=Compare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i := 1; i < len(ts); i++ {
				_ = tuple.Compare(ts[i-1], ts[i])
			}
		}
	})
}

func BenchmarkPackedSize(b *testing.B) {
	for _, bt := range benchTuples {
		b.Run("tuple="+bt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = bt.t.PackedSize()
			}
		})
	}
}
