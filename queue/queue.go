package queue

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/layerkit/layerkit/kv"
	"github.com/layerkit/layerkit/queue/internal/queuepb"
)

// Defaults of Options.
const (
	DefaultLeaseDuration  = 30 * time.Second
	DefaultClockTolerance = time.Second
	DefaultMaxAttempts    = 5
	DefaultPollInterval   = time.Second
	// DefaultBackoffBase and DefaultBackoffMax shape the default backoff after a Nack:
	// DefaultBackoffBase·2^(attempts-1), at most DefaultBackoffMax.
	DefaultBackoffBase = time.Second
	DefaultBackoffMax  = 5 * time.Minute
)

// MaxBatch is the most messages one Receive leases.
const MaxBatch = 1000

// Options configure a Queue handle. The zero value (or nil) gives the defaults. Every handle on
// one queue should use the same options: they are not stored in the database.
type Options struct {
	// Clock gives the time for visibility, leases and idempotency expiry; time.Now when nil.
	// See the package documentation on the lease clock.
	Clock func() time.Time
	// LeaseDuration is how long a lease lasts unless ReceiveOptions says otherwise;
	// DefaultLeaseDuration (30 s) when zero.
	LeaseDuration time.Duration
	// ClockTolerance is how long after its expiry a lease may be taken over by another
	// consumer: the largest difference between consumers' clocks the queue tolerates without
	// delivering a message to two holders at once. DefaultClockTolerance (1 s) when zero;
	// NoTolerance for none.
	ClockTolerance time.Duration
	// MaxAttempts is how many leases a message gets: a message nacked on its last attempt, or
	// whose last lease expired, goes to the dead-letter queue. DefaultMaxAttempts (5) when
	// zero.
	MaxAttempts int
	// Backoff returns how long a message nacked after its n-th attempt (n ≥ 1) stays invisible.
	// DefaultBackoffBase·2^(n-1), at most DefaultBackoffMax, when nil.
	Backoff func(attempts int) time.Duration
	// IdempotencyRetention is how long an idempotency key is remembered after the enqueue that
	// used it; DefaultIdempotencyRetention (24 hours) when zero.
	IdempotencyRetention time.Duration
	// PollInterval bounds how long ReceiveWait sleeps without looking again, in case of clock
	// jumps; DefaultPollInterval (1 s) when zero.
	PollInterval time.Duration
}

// NoTolerance is the ClockTolerance of a queue whose consumers share one clock.
const NoTolerance = time.Duration(-1)

// Queue is a work queue at a prefix: messages enqueued in transactions, leased by consumers,
// acknowledged, retried and dead-lettered. A Queue is a handle holding the prefix, the options
// and a pool of visible messages its consumers share; it is safe for concurrent use,
// and consumers in one process should share one handle. Handles on the same prefix, in one
// process or many, see the same queue.
type Queue struct {
	l           layout
	schedule    []byte             // P+(2)
	dead        []byte             // P+(3)
	laneReg     []byte             // P+(10)
	counterBase []byte             // P+(6)
	counters    [stateCount][]byte // P+(6, state)
	o           Options

	pools      sync.Map // int64 → *lanePool
	hints      laneHints
	wall       func() time.Time // the age of pools and hints; time.Now (tests stop it)
	knownLanes sync.Map         // int64 → true: lanes read as registered
	spread     atomic.Int64     // receive window multiplier, in 1/16ths; grows on conflicts
	metrics    metricsCounters
}

// NewQueue returns a handle on the queue at prefix. It fails with an error wrapping
// ErrInvalidArgument for a nil prefix, one in the system keyspace, or negative options.
func NewQueue(prefix Prefix, opts *Options) (*Queue, error) {
	l, err := newLayout(prefix)
	if err != nil {
		return nil, err
	}
	l.idem.counted = true // EnqueueMany's records count its messages
	var o Options
	if opts != nil {
		o = *opts
	}
	for name, d := range map[string]time.Duration{"lease duration": o.LeaseDuration, "idempotency retention": o.IdempotencyRetention, "poll interval": o.PollInterval} {
		if d < 0 {
			return nil, fmt.Errorf("%w: negative %s %v", ErrInvalidArgument, name, d)
		}
	}
	if o.MaxAttempts < 0 || o.MaxAttempts > math.MaxUint32 {
		return nil, fmt.Errorf("%w: max attempts %d", ErrInvalidArgument, o.MaxAttempts)
	}
	if o.ClockTolerance < 0 && o.ClockTolerance != NoTolerance {
		return nil, fmt.Errorf("%w: negative clock tolerance %v (NoTolerance for none)", ErrInvalidArgument, o.ClockTolerance)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	o.LeaseDuration = orDefault(o.LeaseDuration, DefaultLeaseDuration)
	o.ClockTolerance = orDefault(o.ClockTolerance, DefaultClockTolerance)
	if o.ClockTolerance == NoTolerance {
		o.ClockTolerance = 0
	}
	o.MaxAttempts = int(orDefault(int64(o.MaxAttempts), DefaultMaxAttempts))
	o.IdempotencyRetention = orDefault(o.IdempotencyRetention, DefaultIdempotencyRetention)
	o.PollInterval = orDefault(o.PollInterval, DefaultPollInterval)
	if o.Backoff == nil {
		o.Backoff = defaultBackoff
	}
	q := &Queue{l: l, schedule: l.sub(codeSchedule), dead: l.sub(codeDead), laneReg: l.sub(codeLanes), counterBase: l.sub(codeCounters), o: o, wall: time.Now}
	for s := range q.counters {
		q.counters[s] = l.sub(codeCounters, s)
	}
	q.spread.Store(spreadOne)
	return q, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func defaultBackoff(attempts int) time.Duration {
	d := DefaultBackoffBase
	for i := 1; i < attempts && d < DefaultBackoffMax; i++ {
		d *= 2
	}
	return min(d, DefaultBackoffMax)
}

// Prefix returns the queue's prefix bytes. The slice is shared and must not be modified.
func (q *Queue) Prefix() []byte { return q.l.prefix[:len(q.l.prefix):len(q.l.prefix)] }

// State is where a message stands as of the last transaction that changed it.
type State int

// The states of a message. The queue's counters (Stats) count messages by state.
const (
	// Ready: waiting, visible since its visible time.
	Ready State = State(queuepb.Message_STATE_READY)
	// Delayed: waiting for a visible time that was in the future when it was set (an enqueue
	// with a delay, a nack with a backoff). It can be received once that time has passed,
	// although it stays Delayed until then.
	Delayed State = State(queuepb.Message_STATE_DELAYED)
	// Leased: held by a consumer until its lease expires; after that (and the clock tolerance)
	// it can be received again, although it stays Leased until then.
	Leased State = State(queuepb.Message_STATE_LEASED)
	// Dead: in the dead-letter queue.
	Dead State = State(queuepb.Message_STATE_DEAD)
)

// stateCount sizes tables indexed by State.
const stateCount = int(Dead) + 1

func (s State) String() string {
	switch s {
	case Ready:
		return "ready"
	case Delayed:
		return "delayed"
	case Leased:
		return "leased"
	case Dead:
		return "dead"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Message is a queue message as stored.
type Message struct {
	ID       MessageID
	Payload  []byte
	Headers  map[string]string
	Priority int32
	// EnqueuedAt is the producer's clock at enqueue, to the millisecond.
	EnqueuedAt time.Time
	State      State
	// VisibleAt is when the message can next be received: for a waiting message its visible
	// time, for a leased one its lease expiry plus the clock tolerance.
	VisibleAt time.Time
	// Attempts counts the leases handed out so far.
	Attempts int
	// LastError is the error of the last Nack, or why the message was dead-lettered.
	LastError string
	// DeadAt is when the message was dead-lettered (zero otherwise).
	DeadAt time.Time
}

// LeaseToken identifies one lease of one message. Only its holder can Ack, Nack or Extend.
type LeaseToken [16]byte

// String returns the token as 32 hex digits.
func (t LeaseToken) String() string { return fmt.Sprintf("%x", t[:]) }

// Lease is a message leased to a consumer: its copy of the message (with Attempts counting this
// lease), its token and its expiry. Pass it to Ack, Nack or Extend. A Lease is a value and may
// be handed to another goroutine or process (the token is what proves the holder).
type Lease struct {
	Message
	Token LeaseToken
	// Expires is when the lease ends by the receiving consumer's clock; other consumers take
	// it over only ClockTolerance later.
	Expires time.Time
}

// EnqueueOptions are the options of one enqueue. The zero value (or nil) enqueues a message
// visible at once, at priority 0.
type EnqueueOptions struct {
	// Delay makes the message visible only after this long.
	Delay time.Duration
	// Priority picks the lane: higher priorities are received first; within a lane, messages
	// come in order of visible time, then of enqueue.
	Priority int32
	// IdempotencyKey, when not empty, makes the enqueue happen once per key: an enqueue whose
	// key was used by an earlier committed one (within the queue's idempotency retention)
	// writes nothing, and its future resolves at once to the earlier message's ID.
	IdempotencyKey []byte
	// Headers are stored with the message and returned with it.
	Headers map[string]string
}

// Enqueue adds a message to the queue in t and returns a future of its ID, which resolves once
// the transaction has committed.
//
// Given a transaction, Enqueue writes in it and commits with it (with a record save, say):
// producers never conflict with each other or with consumers. Given a database, it runs its
// own retried transaction and is safe under commit_unknown_result: without an idempotency key
// it uses one of its own for the call. A message whose stored form exceeds kv.MaxValueSize
// fails with ErrPayloadTooLarge.
func (q *Queue) Enqueue(ctx context.Context, t kv.Transactor, payload []byte, opts *EnqueueOptions) (kv.Future[MessageID], error) {
	one := [1][]byte{payload}
	w, err := q.enqueueCall(ctx, t, one[:], opts)
	if err != nil {
		return nil, err
	}
	return w.one(), nil
}

// EnqueueMany adds one message per payload, all with the options opts, in t, and returns a
// future of their IDs in the order of payloads, which resolves once the transaction has
// committed. The messages are those of as many Enqueue calls in one transaction, in order, and
// cost less: the work Enqueue does per call (the user version claim, the counters, the lane,
// the idempotency record) is done once.
//
// opts.IdempotencyKey stands for the whole call: a later call with that key (within the
// queue's idempotency retention) writes nothing and its future resolves to the first call's
// IDs; one with the key and a different number of payloads fails with ErrInvalidArgument.
// Given a database, EnqueueMany is safe under commit_unknown_result, as Enqueue is. One
// transaction enqueues at most 65,536 messages to a queue (ErrTooManyAppends). A payload whose
// message exceeds kv.MaxValueSize fails the call with ErrPayloadTooLarge, writing nothing.
func (q *Queue) EnqueueMany(ctx context.Context, t kv.Transactor, payloads [][]byte, opts *EnqueueOptions) (kv.Future[[]MessageID], error) {
	if len(payloads) == 0 {
		return kv.Ready([]MessageID{}, nil), nil
	}
	w, err := q.enqueueCall(ctx, t, payloads, opts)
	if err != nil {
		return nil, err
	}
	return w.all(), nil
}

// enqueueCall checks the arguments of an Enqueue or EnqueueMany and runs it in t.
func (q *Queue) enqueueCall(ctx context.Context, t kv.Transactor, payloads [][]byte, opts *EnqueueOptions) (written, error) {
	var o EnqueueOptions
	if opts != nil {
		o = *opts
	}
	if o.Delay < 0 {
		return written{}, fmt.Errorf("%w: negative delay %v", ErrInvalidArgument, o.Delay)
	}
	if len(payloads) > maxUserVersions {
		return written{}, fmt.Errorf("%w: %d messages in one call", ErrTooManyAppends, len(payloads))
	}
	var key any
	if o.IdempotencyKey != nil {
		if len(o.IdempotencyKey) == 0 {
			return written{}, fmt.Errorf("%w: empty idempotency key", ErrInvalidArgument)
		}
		key = o.IdempotencyKey
	}
	for i, p := range payloads {
		if len(p) > kv.MaxValueSize {
			// Without headers a message is its payload and about 30 bytes; enqueue checks the
			// exact size.
			return written{}, fmt.Errorf("%w: payload%s of %d bytes, at most %d fit", ErrPayloadTooLarge, nth(i, len(payloads)), len(p), kv.MaxValueSize)
		}
	}
	retention := q.o.IdempotencyRetention
	if _, ok := t.(kv.Database); ok && key == nil {
		key, retention = autoKey(), autoKeyRetention
	}
	if tr, ok := t.(kv.Transaction); ok {
		if err := ctx.Err(); err != nil {
			return written{}, err
		}
		return q.enqueue(tr, payloads, &o, key, retention)
	}
	return kv.Transact(ctx, t, func(tr kv.Transaction) (written, error) {
		return q.enqueue(tr, payloads, &o, key, retention)
	})
}

// enqueue writes the messages of one call in tr. Every message of a call has the same fields
// but its payload, so those are encoded once (see encodeMessages), and the call claims its user
// versions, registers its lane and counts its messages once.
func (q *Queue) enqueue(tr kv.Transaction, payloads [][]byte, o *EnqueueOptions, key any, retention time.Duration) (written, error) {
	now := q.o.Clock()
	nowMs := now.UnixMilli()
	buf := getWriteBuf()
	defer buf.release()
	m := &buf.msg
	m.Headers, m.Priority, m.EnqueuedAtMs = o.Headers, o.Priority, nowMs
	m.State, m.VisibleAtMs = queuepb.Message_STATE_READY, now.Add(o.Delay).UnixMilli()
	if m.VisibleAtMs > nowMs {
		m.State = queuepb.Message_STATE_DELAYED
	}
	if err := buf.encodeShared(payloads); err != nil {
		return written{}, err
	}
	w, err := q.l.startWrite(tr, key, len(payloads), now, "enqueue to")
	if err != nil || w.found {
		return w, err
	}
	buf.sched = q.scheduleTimeKey(buf.sched[:0], lane(m.Priority), m.VisibleAtMs)
	for i, p := range payloads {
		uv := w.first + uint16(i)
		buf.key = appendStampedKey(buf.key[:0], q.l.items, uv)
		tr.Atomic(kv.SetVersionstampedKey, buf.key, buf.value(p))
		buf.key = appendStampedKey(buf.key[:0], buf.sched, uv)
		tr.Atomic(kv.SetVersionstampedKey, buf.key, nil)
	}
	if err := q.registerLane(tr, lane(m.Priority)); err != nil {
		return written{}, err
	}
	count := one
	if len(payloads) > 1 {
		count = int64Bytes(int64(len(payloads)))
	}
	tr.Atomic(kv.Add, q.counters[m.State], count)
	return q.l.finishWrite(tr, key, w, now, retention)
}

// writeBuf holds what one enqueue builds its keys and values in. The kv contract lets a caller
// reuse the slices it passed to a write once the call returns, so the buffers are kept in a
// pool and serve call after call.
type writeBuf struct {
	msg    queuepb.Message // the fields the messages of the call share; no payload
	shared []byte          // msg encoded
	val    []byte          // one message's value
	key    []byte          // one key
	sched  []byte          // P+(2, lane, at) of the call's messages
}

var writeBufs = sync.Pool{New: func() any { return new(writeBuf) }}

func getWriteBuf() *writeBuf { return writeBufs.Get().(*writeBuf) }

// maxPooledValue bounds the value buffer a pooled writeBuf keeps, so that one large message
// does not pin its size in the pool.
const maxPooledValue = 16 << 10

func (b *writeBuf) release() {
	b.msg.Reset() // drop the caller's headers
	if cap(b.val) > maxPooledValue {
		b.val = nil
	}
	writeBufs.Put(b)
}

// encodeShared encodes b.msg, the fields shared by every message of a call, and checks that
// the message of each payload fits a value.
//
// A message's value is its payload field followed by the shared fields: deterministic protobuf
// encoding writes fields in the order of their numbers and the payload is field 1, so that is
// byte for byte what proto.Marshal gives for the whole message (a test holds the package to
// it), for the price of encoding the shared fields once per call rather than once per message.
func (b *writeBuf) encodeShared(payloads [][]byte) error {
	var err error
	if b.shared, err = marshalOptions.MarshalAppend(b.shared[:0], &b.msg); err != nil {
		return fmt.Errorf("queue: encode message: %w", err)
	}
	for i, p := range payloads {
		if n := payloadFieldSize(p) + len(b.shared); n > kv.MaxValueSize {
			return fmt.Errorf("%w: message%s of %d bytes (payload %d), at most %d fit", ErrPayloadTooLarge, nth(i, len(payloads)), n, len(p), kv.MaxValueSize)
		}
	}
	return nil
}

// value returns the value of the message with payload p, valid until the next call.
func (b *writeBuf) value(p []byte) []byte {
	b.val = b.val[:0]
	if len(p) > 0 { // proto3 leaves an empty payload out
		b.val = protowire.AppendTag(b.val, payloadField, protowire.BytesType)
		b.val = protowire.AppendBytes(b.val, p)
	}
	b.val = append(b.val, b.shared...)
	return b.val
}

// nth names payload i of a call with n payloads in errors: nothing for a call of one.
func nth(i, n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf(" [%d]", i)
}

// payloadField is the field number of queuepb.Message.payload.
const payloadField = 1

func payloadFieldSize(p []byte) int {
	if len(p) == 0 {
		return 0
	}
	return protowire.SizeTag(payloadField) + protowire.SizeBytes(len(p))
}

// deltas are the counter changes of one attempt of one call, written as one ADD per state
// (flush) rather than one per message.
type deltas [stateCount]int64

// move counts a message leaving state from and entering state to.
func (d *deltas) move(from, to State) {
	if from != to {
		d[from]--
		d[to]++
	}
}

// flush writes the deltas to the counters.
func (q *Queue) flush(tr kv.Transaction, d *deltas) {
	for s, n := range d {
		if n != 0 {
			tr.Atomic(kv.Add, q.counters[s], int64Bytes(n))
		}
	}
}

var marshalOptions = proto.MarshalOptions{Deterministic: true}

func marshal(m *queuepb.Message) ([]byte, error) {
	b, err := marshalOptions.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("queue: encode message: %w", err)
	}
	if len(b) > kv.MaxValueSize {
		return nil, fmt.Errorf("%w: message of %d bytes (payload %d), at most %d fit", ErrPayloadTooLarge, len(b), len(m.Payload), kv.MaxValueSize)
	}
	return b, nil
}

func unmarshal(id MessageID, v []byte) (*queuepb.Message, error) {
	m := &queuepb.Message{}
	if err := proto.Unmarshal(v, m); err != nil {
		return nil, fmt.Errorf("%w: message %s: %v", ErrCorrupt, id, err)
	}
	if m.State < queuepb.Message_STATE_READY || m.State > queuepb.Message_STATE_DEAD {
		return nil, fmt.Errorf("%w: message %s: state %d", ErrCorrupt, id, m.State)
	}
	return m, nil
}

// toMessage converts the stored form.
func toMessage(id MessageID, m *queuepb.Message) Message {
	out := Message{
		ID: id, Payload: m.Payload, Headers: m.Headers, Priority: m.Priority,
		EnqueuedAt: time.UnixMilli(m.EnqueuedAtMs), State: State(m.State),
		VisibleAt: time.UnixMilli(m.VisibleAtMs), Attempts: int(m.Attempts), LastError: m.LastError,
	}
	if m.DeadAtMs != 0 {
		out.DeadAt = time.UnixMilli(m.DeadAtMs)
	}
	return out
}
