package wssync_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsmemory"
)

// An object whose backend is unreachable keeps publishing to its local clients, with
// versions counted locally; once the backend is back, the edit made meanwhile is made
// again and committed, the object is online again, and its clients get a _SET.
func TestOfflineObjectServesLocallyAndReturns(t *testing.T) {
	m := wsmemory.New()
	s := newCounterNode(t, "OFFLINE", m)
	sess := wssync.NewSession()
	if err := s.Join(sess); err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:OFFLINE")
	_, v0 := s.Published()

	m.SetUnavailable(true)
	if err := s.Update(func(c *Counter) { c.N = 5 }); err != nil {
		t.Fatalf("an unreachable backend is not an error: %v", err)
	}
	st := s.BackendStatus()
	if !st.Attached || !st.Offline || st.Outages != 1 {
		t.Fatalf("status %+v, want attached, offline, one outage", st)
	}
	if got, err := c.WaitVersion(ctxT(t), "OFFLINE", v0+1); err != nil || string(got) != `{"n":5}` {
		t.Fatalf("the local client got %s (%v), want the offline edit at a local version", got, err)
	}

	m.SetUnavailable(false)
	waitUntil(t, func() bool { return !s.BackendStatus().Offline })
	snap, err := m.Load(context.Background(), "OFFLINE", 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(snap.State) != `{"n":5}` {
		t.Fatalf("the backend holds %s, want the edit made offline", snap.State)
	}
	if st := s.BackendStatus(); st.Replayed != 1 || st.Lost != 0 {
		t.Errorf("status %+v, want the edit replayed once and nothing lost", st)
	}
	state, v := s.Published()
	if _, err := c.WaitVersion(ctxT(t), "OFFLINE", v); err != nil || string(state) != `{"n":5}` {
		t.Errorf("the client did not reach the backend's version %d with %s: %v", v, state, err)
	}
}

// A shared object without a backend reports the zero BackendStatus.
func TestBackendStatusWithoutBackend(t *testing.T) {
	s, err := wssync.NewShared("LOCAL", &Counter{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unregister()
	if err := s.Update(func(c *Counter) { c.N++ }); err != nil {
		t.Fatal(err)
	}
	if st := s.BackendStatus(); st != (wssync.BackendStatus{}) {
		t.Errorf("status %+v, want the zero value", st)
	}
}

// stuckBackend is a Backend whose Commit, once armed, blocks until release is closed,
// whatever its context says: a store that stopped answering, behind a client library that
// ignores deadlines.
type stuckBackend struct {
	wssync.Backend
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (b *stuckBackend) Commit(ctx context.Context, key string, p wssync.Proposal) error {
	if b.armed.Load() {
		b.entered <- struct{}{}
		<-b.release
	}
	return b.Backend.Commit(ctx, key, p)
}

// BackendStatus, which a metrics scrape calls, answers while a publish waits on the
// backend with the object's publish lock held.
func TestBackendStatusAnswersDuringACommit(t *testing.T) {
	b := &stuckBackend{Backend: wsmemory.New(), entered: make(chan struct{}, 1), release: make(chan struct{})}
	s := newCounterNode(t, "STUCK", b)
	b.armed.Store(true)
	synced := make(chan error, 1)
	go func() { synced <- s.Update(func(c *Counter) { c.N++ }) }()
	<-b.entered // the Update holds the publish lock inside Commit
	status := make(chan wssync.BackendStatus, 1)
	go func() { status <- s.BackendStatus() }()
	select {
	case st := <-status:
		if !st.Attached || st.Offline {
			t.Errorf("status %+v during a commit; want attached, online", st)
		}
	case <-time.After(wstest.Timeout):
		t.Error("BackendStatus waited for the commit in progress")
	}
	b.armed.Store(false)
	close(b.release)
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
}
