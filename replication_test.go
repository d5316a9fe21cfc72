package wssync

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

// A nil link, the link of an object of this process only, answers every call of the
// publish path trivially.
func TestNilLinkAnswersTrivially(t *testing.T) {
	var d *distLink
	if d.attached() {
		t.Error("a nil link is attached")
	}
	if retry, err := d.commitLocked(nil, nil, nil, nil, 1); retry || err != nil {
		t.Errorf("commitLocked = %v, %v; want false, nil", retry, err)
	}
	if e := d.clientWrite(nil, nil, nil, nil, ""); e != nil {
		t.Errorf("clientWrite = %+v, want nil", e)
	}
	if st := d.status(); st != (BackendStatus{}) {
		t.Errorf("status = %+v, want the zero value", st)
	}
	d.close() // must not panic
}

// conflicting is a Backend that holds a key at version 1 and refuses every commit as a
// conflict, as if other nodes always committed first.
type conflicting struct{ commits atomic.Int32 }

func (b *conflicting) Load(context.Context, string, uint64) (Snapshot, error) {
	return Snapshot{Version: 1, State: []byte(`{"n":0}`), Epoch: 1}, nil
}

func (b *conflicting) Commit(context.Context, string, Proposal) error {
	b.commits.Add(1)
	return ErrVersionConflict
}

func (b *conflicting) Outcome(context.Context, string, string, uint64) (uint64, error) {
	return 0, nil
}

func (b *conflicting) Subscribe(string, func(Change)) func() { return func() {} }

// A change that loses the race every time gives up after maxCommitAttempts with an error
// wrapping ErrVersionConflict, publishing nothing, and keeps the edit in the struct.
func TestCommitGivesUpAfterRepeatedConflicts(t *testing.T) {
	type counter struct {
		N int `sync:"n"`
	}
	b := &conflicting{}
	v := &counter{}
	s, err := NewShared("CONFLICT", v, WithBackend(b))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unregister()
	s.Lock()
	v.N = 1
	s.Unlock()
	err = s.Sync()
	if !errors.Is(err, ErrVersionConflict) {
		t.Fatalf("Sync = %v, want ErrVersionConflict", err)
	}
	if n := b.commits.Load(); n != maxCommitAttempts {
		t.Errorf("%d commits, want %d", n, maxCommitAttempts)
	}
	if st, ver := s.Published(); string(st) != `{"n":0}` || ver != 1 {
		t.Errorf("published %s at %d, want the backend's state at 1", st, ver)
	}
	s.RLock()
	kept := v.N
	s.RUnlock()
	if kept != 1 {
		t.Errorf("the struct holds n=%d, want the unpublished edit kept", kept)
	}
	if st := s.BackendStatus(); st.Conflicts != maxCommitAttempts || st.Offline {
		t.Errorf("status %+v, want %d conflicts, online", st, maxCommitAttempts)
	}
}
