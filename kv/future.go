package kv

import "sync"

// Future is the result of a read that has been issued but perhaps not completed. Get blocks until
// the result is ready; calling it again returns the same result. A Future is safe for concurrent
// use. On the embedded engine futures are ready when returned; on FoundationDB they complete as
// the cluster answers, so issue every read you need before calling Get on any.
type Future[T any] interface {
	Get() (T, error)
}

// Ready returns a Future that is already complete.
func Ready[T any](v T, err error) Future[T] { return ready[T]{v, err} }

type ready[T any] struct {
	v   T
	err error
}

func (r ready[T]) Get() (T, error) { return r.v, r.err }

// FutureFunc adapts a function to a Future. The function runs once, on the first Get; its result
// is kept for later calls. It is for engines and layers that compose futures, such as decoding the
// value of a Get.
func FutureFunc[T any](f func() (T, error)) Future[T] { return &lazy[T]{f: f} }

// Map returns a Future whose result is f applied to the result of in, computed on the first Get.
// An error from in is returned unchanged without calling f.
func Map[T, U any](in Future[T], f func(T) (U, error)) Future[U] {
	return FutureFunc(func() (U, error) {
		v, err := in.Get()
		if err != nil {
			var zero U
			return zero, err
		}
		return f(v)
	})
}

type lazy[T any] struct {
	f    func() (T, error)
	done bool
	v    T
	err  error
	mu   sync.Mutex
}

func (l *lazy[T]) Get() (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.v, l.err = l.f()
		l.done, l.f = true, nil
	}
	return l.v, l.err
}
