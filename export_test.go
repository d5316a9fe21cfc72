package wssync

// QueueStats reports the live connection's outbound queue: frames and bytes queued, and the
// capacity of its backing array. For tests of the memory bound.
func QueueStats(s *Session) (frames, bytes, capacity int, ok bool) {
	c := s.live.Load()
	if c == nil {
		return 0, 0, 0, false
	}
	frames, bytes, capacity = c.q.stats()
	return frames, bytes, capacity, true
}
