package wssync

import "sync"

// DefaultSeenMessages is how many message IDs a node remembers to drop duplicates: a
// message sent again after more messages than that went by is delivered again.
const DefaultSeenMessages = 8192

// seenIDs remembers the last n message IDs, oldest forgotten first.
type seenIDs struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

func newSeenIDs(n int) *seenIDs {
	return &seenIDs{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

// forget removes id, which first recorded, when nothing was delivered under it.
func (s *seenIDs) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.set, id) // its ring slot stays: a later first of another ID recycles it
}

// first records id and reports whether it was new.
func (s *seenIDs) first(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.set[id]; ok {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.set, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.set[id] = struct{}{}
	return true
}
