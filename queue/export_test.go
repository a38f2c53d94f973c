package queue

import "time"

// StopWall stops, for q, the wall clock by which pools of visible messages and lane hints age
// (at now), so that a test decides when a receive reads a lane, and from where, instead of the
// scheduler: a pool is then read again only when it runs short or DropPools empties it, and a
// lane hint, once taken, is always used.
func StopWall(q *Queue, now time.Time) { q.wall = func() time.Time { return now } }

// DropPools empties q's pools of visible messages, as their ageing past poolTTL does, so that
// the next receive reads each lane from the handle's hint.
func DropPools(q *Queue) { q.pools.Clear() }
