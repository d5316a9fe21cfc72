package wssync

import "sync"

// DefaultSeenMessages is how many message IDs a node remembers to drop duplicates: a
// message sent again after more messages than that went by is delivered again.
const DefaultSeenMessages = 8192

// seenIDs remembers the last n message IDs, oldest forgotten first.
type seenIDs struct {
	mu   sync.Mutex
	set  map[string]int // each remembered ID's slot in ring
	ring []string
	next int
}

func newSeenIDs(n int) *seenIDs {
	return &seenIDs{set: make(map[string]int, n), ring: make([]string, n)}
}

// forget removes id, which first recorded, when nothing was delivered under it.
func (s *seenIDs) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slot, ok := s.set[id]; ok {
		delete(s.set, id)
		s.ring[slot] = "" // so the slot's reuse evicts nothing: the ID may be remembered again elsewhere
	}
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
	s.set[id] = s.next
	s.next = (s.next + 1) % len(s.ring)
	return true
}
