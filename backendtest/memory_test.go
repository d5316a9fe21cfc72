package backendtest_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/backendtest"
	"github.com/wssync/wssync/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestMemoryBackend runs the suite against the reference implementation, three nodes
// sharing one MemoryBackend.
func TestMemoryBackend(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backendtest.Cluster {
		m := wssync.NewMemoryBackend()
		return backendtest.Cluster{
			Nodes:     []backendtest.Node{m, m, m},
			Interrupt: m.Interrupt,
			Wipe:      m.Wipe,
			LogLength: wssync.MemoryLogLength,
			CommitIDs: wssync.MemoryCommitIDs,
		}
	})
}

// TestMemoryFaults runs the fault suite on a MemoryBackend: an outage (every call fails),
// a store that loses its data while down (Wipe), and a store that runs every commit but
// whose answers are lost (each node's commit times out after it landed, as with a Redis
// resumed after SIGSTOP).
func TestMemoryFaults(t *testing.T) {
	t.Run("Outage", func(t *testing.T) {
		t.Parallel()
		m := wssync.NewMemoryBackend()
		backendtest.RunFault(t, backendtest.Fault{
			Backends: []wssync.Backend{m, m},
			Break:    func() { m.SetUnavailable(true) },
			Heal:     func() { m.SetUnavailable(false) },
			Hold:     500 * time.Millisecond,
		})
	})
	t.Run("RestartEmpty", func(t *testing.T) {
		t.Parallel()
		m := wssync.NewMemoryBackend()
		backendtest.RunFault(t, backendtest.Fault{
			Backends: []wssync.Backend{m, m},
			Break:    func() { m.SetUnavailable(true) },
			Heal:     func() { m.Wipe(); m.SetUnavailable(false) },
			Hold:     500 * time.Millisecond,
		})
	})
	t.Run("AnswersLost", func(t *testing.T) {
		t.Parallel()
		m := wssync.NewMemoryBackend()
		l := &lateBackend{MemoryBackend: m}
		backendtest.RunFault(t, backendtest.Fault{
			Backends: []wssync.Backend{l, l},
			Break:    func() { l.late.Store(true) },
			Heal:     func() { l.late.Store(false); m.Interrupt() },
			Hold:     500 * time.Millisecond,
		})
	})
}

// lateBackend is a MemoryBackend that, while late is set, runs every commit and then
// fails it as if the answer never came, and fails every other call: the nodes cannot
// tell the commits landed until they ask (Outcome) after late is cleared.
type lateBackend struct {
	*wssync.MemoryBackend
	late atomic.Bool
}

var errLate = errors.New("i/o timeout (the commit may have landed)")

func (l *lateBackend) Commit(ctx context.Context, key string, p wssync.Proposal) error {
	err := l.MemoryBackend.Commit(ctx, key, p)
	if l.late.Load() {
		return errLate
	}
	return err
}

func (l *lateBackend) Load(ctx context.Context, key string, since uint64) (wssync.Snapshot, error) {
	if l.late.Load() {
		return wssync.Snapshot{}, errLate
	}
	return l.MemoryBackend.Load(ctx, key, since)
}

func (l *lateBackend) Outcome(ctx context.Context, key, id string, base uint64) (uint64, error) {
	if l.late.Load() {
		return 0, errLate
	}
	return l.MemoryBackend.Outcome(ctx, key, id, base)
}
