package wssync_test

import (
	"sync"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wssynctest"
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

// Checks every millisecond race two nodes' concurrent increments and deliveries that go
// missing: every increment counts exactly once on both nodes, and the client of each node
// sees no patch out of order.
func TestVersionCheckRacesWritersAndLostDeliveries(t *testing.T) {
	m := wsmemory.New()
	nodes := []*wssync.Synced[Counter]{
		newCounterNode(t, "RACE", checkedMemory{m, time.Millisecond}),
		newCounterNode(t, "RACE", checkedMemory{m, time.Millisecond}),
	}
	var clients []*wssynctest.Client
	for _, n := range nodes {
		sess := wssync.NewSession()
		if err := n.Join(sess); err != nil {
			t.Fatal(err)
		}
		c := dial(t, serve(t, sess))
		waitType(t, c, "_SET:RACE")
		clients = append(clients, c)
	}
	const each = 150
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				if j%10 == i {
					m.LoseNext("RACE", 1)
				}
				if err := n.Update(func(c *Counter) { c.N++ }); err != nil {
					t.Error(err)
					return
				}
				if j%25 == 0 {
					time.Sleep(3 * time.Millisecond) // a quiet spell: a check runs
				}
			}
		}()
	}
	wg.Wait()
	waitUntil(t, func() bool {
		for i, n := range nodes {
			var got int
			n.Read(func(c *Counter) { got = c.N })
			if got != 2*each {
				return false
			}
			if s, _, _ := clients[i].State("RACE"); string(s) != `{"n":300}` {
				return false
			}
		}
		return true
	})
	for i, c := range clients {
		if err := c.Errs(); err != nil {
			t.Errorf("client of node %d: %v", i, err)
		}
	}
	t.Logf("checks %d / %d, missed %d / %d", nodes[0].BackendStatus().Checks, nodes[1].BackendStatus().Checks,
		nodes[0].BackendStatus().Missed, nodes[1].BackendStatus().Missed)
}
