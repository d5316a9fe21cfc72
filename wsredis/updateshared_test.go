package wsredis_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsredis"
)

// counterDoc is the shared object of the UpdateShared tests.
type counterDoc struct {
	Count int `sync:"count"`
}

// pausingCommits pauses Redis just before its first Commit goes out, and resumes it a
// second later: the commit waits in the paused server, its reply never comes in time, and
// the server runs it when it resumes.
type pausingCommits struct {
	*wsredis.Backend
	srv      *redistest.Server
	paused   atomic.Bool
	resumed  chan struct{}
	outcomes atomic.Int32
}

func (p *pausingCommits) Commit(ctx context.Context, key string, prop wssync.Proposal) error {
	if p.paused.CompareAndSwap(false, true) {
		p.srv.Pause()
		go func() {
			defer close(p.resumed)
			time.Sleep(time.Second)
			p.srv.Resume()
		}()
	}
	return p.Backend.Commit(ctx, key, prop)
}

func (p *pausingCommits) Outcome(ctx context.Context, key, id string, base uint64) (uint64, error) {
	p.outcomes.Add(1)
	return p.Backend.Outcome(ctx, key, id, base)
}

// TestUpdateSharedAcrossAPause: the commit of UpdateShared reaches a paused Redis and
// times out; UpdateShared asks Outcome until Redis answers, and the change is in the
// state once, on the node too.
func TestUpdateSharedAcrossAPause(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	node := closing(t, fastClient(srv.Addr()), fastOptions)
	s, err := wssync.NewShared("DOC", &counterDoc{}, wssync.WithBackend(node))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Unregister)

	worker := &pausingCommits{Backend: closing(t, fastClient(srv.Addr()), fastOptions), srv: srv, resumed: make(chan struct{})}
	calls := 0
	v, err := wssync.UpdateShared(testContext(t), worker, "DOC", func(d *counterDoc) error {
		calls++
		d.Count++
		return nil
	})
	<-worker.resumed
	if err != nil {
		t.Fatalf("UpdateShared: %v", err)
	}
	snap, err := node.Load(testContext(t), "DOC", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got counterDoc
	if err := json.Unmarshal(snap.State, &got); err != nil || got.Count != 1 || snap.Version != v {
		t.Fatalf("stored %s at %d (%v), UpdateShared returned %d: want count 1 at that version", snap.State, snap.Version, err, v)
	}
	if worker.outcomes.Load() == 0 {
		t.Error("UpdateShared did not ask Outcome after the commit timed out")
	}
	wstest.Eventually(t, "the node holds the change", func() bool {
		var d counterDoc
		_ = s.Update(func(c *counterDoc) { d = *c })
		return d.Count == 1
	})
	t.Logf("fn ran %d times, %d outcomes asked", calls, worker.outcomes.Load())
}
