package queue

import "errors"

// Errors of arguments, returned before anything is read or written.
var (
	// ErrInvalidID is returned when bytes or text do not encode an EntryID.
	ErrInvalidID = errors.New("queue: invalid entry ID")
	// ErrInvalidArgument is returned for a nil prefix, a negative limit, an empty group name or
	// idempotency key, and other arguments no call can use.
	ErrInvalidArgument = errors.New("queue: invalid argument")
	// ErrPayloadTooLarge is returned when an entry or message would not fit one value of the
	// database (kv.MaxValueSize, 100,000 bytes, with its header). Nothing is written; store
	// large payloads elsewhere (a record, chunks under a key of your own) and append their key.
	ErrPayloadTooLarge = errors.New("queue: payload too large")
)

// Errors of a transaction's use.
var (
	// ErrTooManyAppends is returned when one transaction appends or enqueues more than 65,536
	// entries or messages under one prefix: the 2-byte user version of their IDs is used up.
	ErrTooManyAppends = errors.New("queue: more than 65536 appends under one prefix in one transaction")
	// ErrKeyUsedTwice is returned when one transaction appends or enqueues twice with the same
	// idempotency key: the first write's ID is known only after commit, so the second cannot
	// be answered with it.
	ErrKeyUsedTwice = errors.New("queue: idempotency key used twice in one transaction")
)

// Errors of stored data.
var (
	// ErrCorrupt is returned when stored bytes under a stream or queue prefix cannot be decoded:
	// they were not written by this package, or were damaged.
	ErrCorrupt = errors.New("queue: corrupt data")
)

// Errors of consumer groups.
var (
	// ErrCursorBackwards is returned by Group.Advance when the new cursor orders before the
	// group's stored cursor: a consumer working from a stale read must not move the group back.
	// Group.Reset moves a cursor anywhere.
	ErrCursorBackwards = errors.New("queue: group cursor would move backwards")
)
