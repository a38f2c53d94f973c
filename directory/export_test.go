package directory

// SetCandidates makes the allocator draw the given offsets within its window, in order, and
// random ones after them. It returns a function that restores the random source. Tests that use
// it must not run in parallel.
func SetCandidates(offsets ...int64) (restore func()) {
	old := drawCandidate
	queue := append([]int64(nil), offsets...)
	drawCandidate = func(n int64) int64 {
		if len(queue) > 0 {
			c := queue[0]
			queue = queue[1:]
			if c < n {
				return c
			}
		}
		return old(n)
	}
	return func() { drawCandidate = old }
}

// SetCandidateFunc makes the allocator draw offsets from f, and returns a function that
// restores the previous source.
func SetCandidateFunc(f func(n int64) int64) (restore func()) {
	old := drawCandidate
	drawCandidate = f
	return func() { drawCandidate = old }
}
