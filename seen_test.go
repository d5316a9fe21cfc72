package wssync

import (
	"strconv"
	"testing"
)

// An ID forgotten and recorded again is remembered for a whole window from its second
// recording: the slot of its first recording, reused, does not evict it.
func TestSeenIDsForgetThenRememberAgain(t *testing.T) {
	s := newSeenIDs(4)
	if !s.first("x") {
		t.Fatal("x not new")
	}
	s.forget("x")
	for i := range 3 {
		s.first("o" + strconv.Itoa(i))
	}
	if !s.first("x") {
		t.Fatal("a forgotten id was still remembered")
	}
	s.first("o3") // reuses x's first slot
	if s.first("x") {
		t.Error("x was evicted by the reuse of the slot it was first recorded in")
	}
	for i := 4; i < 8; i++ {
		s.first("o" + strconv.Itoa(i))
	}
	if !s.first("x") {
		t.Error("x outlived the window")
	}
}
