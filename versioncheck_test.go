package wssync_test

import (
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsmemory"
)

// checkedMemory is an in-memory backend that asks its objects to check their version
// after every quiet spell of every.
type checkedMemory struct {
	*wsmemory.Backend
	every time.Duration
}

func (c checkedMemory) CheckInterval() time.Duration { return c.every }

// A node that silently missed the last change of a key (no later change reveals the gap)
// catches up when its quiet spell ends with a version check, and its client gets the
// change as a patch; the node counts one check that found it behind.
func TestVersionCheckCatchesUpAfterLastDeliveryLost(t *testing.T) {
	m := wsmemory.New()
	a := newCounterNode(t, "QUIET", m)
	b := newCounterNode(t, "QUIET", checkedMemory{m, 20 * time.Millisecond})
	sess := wssync.NewSession()
	if err := b.Join(sess); err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:QUIET")
	_, v0 := b.Published()
	before := b.BackendStatus()
	m.LoseNext("QUIET", 1)
	if err := a.Update(func(c *Counter) { c.N = 7 }); err != nil {
		t.Fatal(err)
	}
	got, err := c.WaitVersion(ctxT(t), "QUIET", v0+1)
	if err != nil || string(got) != `{"n":7}` {
		t.Fatalf("b's client got %s (%v), want the change the node never received", got, err)
	}
	for _, f := range c.Frames() {
		if f.Type == "_SET:QUIET" && f.V != nil && *f.V > v0 {
			t.Errorf("b's client got a _SET at version %d, want the missed change as a patch", *f.V)
		}
	}
	if st := b.BackendStatus(); st.Missed != 1 || st.Checks <= before.Checks || st.Reloads != before.Reloads {
		t.Errorf("b's status went from %+v to %+v, want one check that found it behind and no reload", before, st)
	}
	if st := a.BackendStatus(); st.Checks != 0 {
		t.Errorf("a's backend asks for no checks, yet a made %d", st.Checks)
	}
}

// Checks of an object that is up to date change nothing: no reload, no frame to its
// clients, nothing counted as missed.
func TestVersionCheckOfCurrentObjectChangesNothing(t *testing.T) {
	m := wsmemory.New()
	s := newCounterNode(t, "CURRENT", checkedMemory{m, 5 * time.Millisecond})
	sess := wssync.NewSession()
	if err := s.Join(sess); err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:CURRENT")
	if err := s.Update(func(c *Counter) { c.N = 1 }); err != nil {
		t.Fatal(err)
	}
	_, v := s.Published()
	if _, err := c.WaitVersion(ctxT(t), "CURRENT", v); err != nil {
		t.Fatal(err)
	}
	before := s.BackendStatus()
	frames := len(c.Frames())
	waitUntil(t, func() bool { return s.BackendStatus().Checks >= before.Checks+5 })
	st := s.BackendStatus()
	if st.Missed != 0 || st.Reloads != before.Reloads || st.Applied != before.Applied {
		t.Errorf("status went from %+v to %+v after checks of a current object", before, st)
	}
	if _, v2 := s.Published(); v2 != v {
		t.Errorf("version moved from %d to %d", v, v2)
	}
	if n := len(c.Frames()); n != frames {
		t.Errorf("the client got %d frames from checks: %s", n-frames, frameTypes(c.Frames()[frames:]))
	}
}

// An object whose backend is unreachable does not check: its retries bring it back, and
// a check of a backend that fails must not take it offline by itself or count as missed.
func TestVersionCheckSkipsWhileBackendDown(t *testing.T) {
	m := wsmemory.New()
	s := newCounterNode(t, "DOWN", checkedMemory{m, 5 * time.Millisecond})
	waitUntil(t, func() bool { return s.BackendStatus().Checks >= 2 })
	m.SetUnavailable(true)
	before := s.BackendStatus()
	time.Sleep(50 * time.Millisecond) // about ten check intervals
	st := s.BackendStatus()
	if st.Missed != 0 || st.Outages != before.Outages {
		t.Errorf("checks against a backend that fails changed the status from %+v to %+v", before, st)
	}
	m.SetUnavailable(false)
	if err := s.Update(func(c *Counter) { c.N = 2 }); err != nil {
		t.Fatal(err)
	}
	if st := s.BackendStatus(); st.Offline {
		t.Errorf("offline after the backend came back: %+v", st)
	}
}
