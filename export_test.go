package wssync

import "time"

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

// SetClaimInFlightMost shortens how long m counts an own claim in flight, for tests of a
// claim the bus lost.
func SetClaimInFlightMost(m *Manager, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inFlightMost = d
}

// ClaimsInFlight is how many of m's own claims it has not seen back yet.
func ClaimsInFlight(m *Manager) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, marks := range m.inFlight {
		n += len(marks)
	}
	return n
}
