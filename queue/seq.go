package queue

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/layerkit/layerkit/kv"
)

// maxUserVersions is how many IDs one transaction can give out under one prefix: the user
// version of an ID has two bytes.
const maxUserVersions = 1 << 16

// claimUserVersions reserves n consecutive user versions for IDs written by tr under one prefix
// and returns the first. Successive claims in one transaction return increasing versions, so
// entries appended in one transaction keep the order of the calls.
//
// The count lives in the transaction itself, the way the Java Record Layer keeps its local
// version counter in FDBRecordContext, but kv.Transaction has no room for it. So it is kept in
// the scratch key seq: the value is the transaction's read version and the next free user
// version. A snapshot read of seq sees this transaction's own write, or a value committed by an
// earlier transaction, whose read version is necessarily older than ours (it committed at or
// before our read version, and read before that). A value carrying our read version is
// therefore ours. The write is blind, and nobody reads seq with a conflict, so appenders never
// conflict over it. (It keeps its write conflict range: SetNextWriteNoWriteConflictRange would
// race with writes of other goroutines of the same transaction.)
func claimUserVersions(tr kv.Transaction, seq []byte, n int) (uint16, error) {
	rv, err := tr.GetReadVersion().Get()
	if err != nil {
		return 0, err
	}
	mu := seqLock(seq)
	mu.Lock()
	defer mu.Unlock()
	v, err := tr.Snapshot().Get(seq).Get()
	if err != nil {
		return 0, err
	}
	next := 0
	if len(v) == 12 && int64(binary.BigEndian.Uint64(v)) == rv {
		next = int(binary.BigEndian.Uint32(v[8:]))
	}
	if next+n > maxUserVersions {
		return 0, fmt.Errorf("%w: %d claimed, %d more asked", ErrTooManyAppends, next, n)
	}
	var buf [12]byte
	binary.BigEndian.PutUint64(buf[:], uint64(rv))
	binary.BigEndian.PutUint32(buf[8:], uint32(next+n))
	tr.Set(seq, buf[:])
	return uint16(next), nil
}

// The read and write of seq must not interleave between goroutines of one transaction; a
// striped lock by key keeps unrelated prefixes apart.
var (
	seqLocks [64]sync.Mutex
	seqSeed  = maphash.MakeSeed()
)

func seqLock(key []byte) *sync.Mutex {
	return &seqLocks[maphash.Bytes(seqSeed, key)%uint64(len(seqLocks))]
}
