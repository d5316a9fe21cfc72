package wsmemory_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/backendtest"
	"github.com/wssync/wssync/internal/leakcheck"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wspresence"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// A Backend is a presence store for wspresence.
var _ wspresence.Store = (*wsmemory.Backend)(nil)

// memoryNodes is three nodes of one process sharing m, for the scale-out suite.
func memoryNodes(m *wsmemory.Backend) backendtest.Nodes {
	return backendtest.Nodes{
		Backends:  []wssync.Backend{m, m, m},
		Interrupt: m.Interrupt,
		Stop:      func() { m.SetUnavailable(true) },
		Start:     func() { m.SetUnavailable(false) },
		LoseNext:  m.LoseNext,
		Sessions:  []wssync.SessionStore{m, m, m},
		Presence:  []wspresence.Store{m, m, m},
	}
}

// memoryCluster is three nodes sharing m, for the store suite.
func memoryCluster(m *wsmemory.Backend) backendtest.Cluster {
	return backendtest.Cluster{
		Nodes:     []backendtest.Node{m, m, m},
		Interrupt: m.Interrupt,
		Wipe:      m.Wipe,
		LogLength: wsmemory.LogLength,
		CommitIDs: wsmemory.CommitIDs,
	}
}

// The in-memory backend runs the same scale-out suite as Redis: three nodes of one process
// share it as they would share a Redis server.
func TestMemoryBackendNodes(t *testing.T) {
	backendtest.RunNodes(t, func(t *testing.T) backendtest.Nodes {
		m := wsmemory.New()
		return memoryNodes(m)
	})
}

// The scale-out suite again, with claims announced per session: each node's Manager hears
// the claims of the sessions it holds only.
func TestMemoryBackendNodesClaimsBySession(t *testing.T) {
	backendtest.RunNodes(t, func(t *testing.T) backendtest.Nodes {
		m := wsmemory.New(wsmemory.WithClaimsBySession())
		t.Cleanup(func() {
			if n := m.SessionClaimWatches(); n != 0 {
				t.Errorf("%d sessions still watched after every Manager shut down", n)
			}
		})
		return memoryNodes(m)
	})
}

// The store suite with claims announced per session.
func TestMemoryBackendClaimsBySession(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backendtest.Cluster {
		m := wsmemory.New(wsmemory.WithClaimsBySession())
		return memoryCluster(m)
	})
}

// TestMemoryBackend runs the suite against the reference implementation, three nodes
// sharing one Backend.
func TestMemoryBackend(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backendtest.Cluster {
		m := wsmemory.New()
		return memoryCluster(m)
	})
}

// TestMemoryFaults runs the fault suite on a Backend: an outage (every call fails),
// a store that loses its data while down (Wipe), and a store that runs every commit but
// whose answers are lost (each node's commit times out after it landed, as with a Redis
// resumed after SIGSTOP).
func TestMemoryFaults(t *testing.T) {
	t.Run("Outage", func(t *testing.T) {
		t.Parallel()
		m := wsmemory.New()
		backendtest.RunFault(t, backendtest.Fault{
			Backends: []wssync.Backend{m, m},
			Break:    func() { m.SetUnavailable(true) },
			Heal:     func() { m.SetUnavailable(false) },
			Hold:     500 * time.Millisecond,
		})
	})
	t.Run("RestartEmpty", func(t *testing.T) {
		t.Parallel()
		m := wsmemory.New()
		backendtest.RunFault(t, backendtest.Fault{
			Backends: []wssync.Backend{m, m},
			Break:    func() { m.SetUnavailable(true) },
			Heal:     func() { m.Wipe(); m.SetUnavailable(false) },
			Hold:     500 * time.Millisecond,
		})
	})
	t.Run("AnswersLost", func(t *testing.T) {
		t.Parallel()
		m := wsmemory.New()
		l := &lateBackend{Backend: m}
		backendtest.RunFault(t, backendtest.Fault{
			Backends: []wssync.Backend{l, l},
			Break:    func() { l.late.Store(true) },
			Heal:     func() { l.late.Store(false); m.Interrupt() },
			Hold:     500 * time.Millisecond,
		})
	})
}

// lateBackend is a Backend that, while late is set, runs every commit and then
// fails it as if the answer never came, and fails every other call: the nodes cannot
// tell the commits landed until they ask (Outcome) after late is cleared.
type lateBackend struct {
	*wsmemory.Backend
	late atomic.Bool
}

var errLate = errors.New("i/o timeout (the commit may have landed)")

func (l *lateBackend) Commit(ctx context.Context, key string, p wssync.Proposal) error {
	err := l.Backend.Commit(ctx, key, p)
	if l.late.Load() {
		return errLate
	}
	return err
}

func (l *lateBackend) Load(ctx context.Context, key string, since uint64) (wssync.Snapshot, error) {
	if l.late.Load() {
		return wssync.Snapshot{}, errLate
	}
	return l.Backend.Load(ctx, key, since)
}

func (l *lateBackend) Outcome(ctx context.Context, key, id string, base uint64) (uint64, error) {
	if l.late.Load() {
		return 0, errLate
	}
	return l.Backend.Outcome(ctx, key, id, base)
}
