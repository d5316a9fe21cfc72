package wssync_test

import (
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/backendtest"
)

// The in-memory backend runs the same scale-out suite as Redis: three nodes of one process
// share it as they would share a Redis server.
func TestMemoryBackendNodes(t *testing.T) {
	backendtest.RunNodes(t, func(t *testing.T) backendtest.Nodes {
		m := wssync.NewMemoryBackend()
		return backendtest.Nodes{
			Backends:  []wssync.Backend{m, m, m},
			Interrupt: m.Interrupt,
			Stop:      func() { m.SetUnavailable(true) },
			Start:     func() { m.SetUnavailable(false) },
			LoseNext:  m.LoseNext,
			Sessions:  []wssync.SessionStore{m, m, m},
			Presence:  []wssync.PresenceStore{m, m, m},
		}
	})
}
