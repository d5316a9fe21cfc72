package backendtest_test

import (
	"testing"

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
