// Package backendtest holds conformance suites for implementations of wssync.Backend,
// wssync.SessionStore and wspresence.Store, exported so that any implementation runs
// them from its own tests.
//
// Run checks the interfaces directly: versions, conflicts, catch-up patches, delivery
// order across nodes, Lost after an interruption, versions never reused after the store
// restarted empty, stop, session records and their TTL, session ids bound to one user
// (atomically, before any record exists, expiring with the record), session claims with
// their user, presence entries, notifications and expiry. RunNodes checks whole wssync nodes (shared objects, WebSocket
// clients) on top of a backend. The in-memory backend runs Run like this:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backendtest.Cluster {
//			m := wsmemory.New()
//			return backendtest.Cluster{
//				Nodes:     []backendtest.Node{m, m, m},
//				Interrupt: m.Interrupt,
//				LogLength: wsmemory.LogLength,
//			}
//		})
//	}
//
// In Run, every subtest makes its own cluster and uses its own keys. Subtests run in
// parallel, except the ones that call Interrupt and Wipe. Waits are polls with generous
// upper bounds (10 s), never fixed sleeps that assume a speed.
package backendtest

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wspresence"
)

// Node is one process's view of the shared store.
type Node interface {
	wssync.Backend
	wssync.SessionStore
	wspresence.Store
}

// Cluster is what one subtest runs against.
type Cluster struct {
	// Nodes are the backends of the processes of a deployment: every node sees the same
	// store. An in-memory backend may pass the same value several times. At least one;
	// three exercise more.
	Nodes []Node

	// Interrupt breaks every node's subscriptions (for Redis: CLIENT KILL TYPE pubsub),
	// after which each subscriber must receive Change{Lost: true}, each presence watcher a
	// call, and then further changes again. Nil skips that subtest.
	Interrupt func()

	// Wipe kills the store and starts it again empty, as a Redis without persistence
	// restarts; the nodes stay, and must reach it again on their own. Nil skips that
	// subtest.
	Wipe func()

	// LogLength is how many patches per key the backend keeps for Load; the suite commits
	// more than that to see Load fall back to the whole state. Zero means 64.
	LogLength int

	// CommitIDs is how many commit IDs per key the backend remembers; OutcomeFences
	// commits one more to see Outcome answer ErrOutcomeUnknown. Zero skips that part.
	CommitIDs int
}

// waitTimeout bounds every wait of the suite for something to happen.
const waitTimeout = 10 * time.Second

// Run runs the suite. newCluster is called once per subtest, with the subtest's t, and
// should return a store of its own, cleaned up through t.Cleanup. The suite calls every
// stop function it gets once, and its deliver and changed functions return at once,
// except in StopWaitsForDeliver, whose deliver blocks until the test has seen stop wait.
func Run(t *testing.T, newCluster func(t *testing.T) Cluster) {
	tests := []struct {
		name   string
		serial bool // runs alone: it disturbs every subscription of the store
		run    func(t *testing.T, c Cluster)
	}{
		{name: "LoadEmpty", run: testLoadEmpty},
		{name: "CommitLoad", run: testCommitLoad},
		{name: "Conflict", run: testConflict},
		{name: "IdempotentCommit", run: testIdempotentCommit},
		{name: "OutcomeFences", run: testOutcomeFences},
		{name: "LoadSince", run: testLoadSince},
		{name: "LoadAfterLogOverflow", run: testLoadAfterLogOverflow},
		{name: "SubscribeOrder", run: testSubscribeOrder},
		{name: "ConcurrentCommitters", run: testConcurrentCommitters},
		{name: "Stop", run: testStop},
		{name: "StopWaitsForDeliver", run: testStopWaitsForDeliver},
		{name: "Interrupt", serial: true, run: testInterrupt},
		{name: "RestartEmpty", serial: true, run: testRestartEmpty},
		{name: "Session", run: testSession},
		{name: "SessionExpiry", run: testSessionExpiry},
		{name: "SessionBinding", run: testSessionBinding},
		{name: "SessionBindingRace", run: testSessionBindingRace},
		{name: "SessionBindingExpiry", run: testSessionBindingExpiry},
		{name: "Claims", run: testClaims},
		{name: "ClaimsInOneOrder", run: testClaimsOrder},
		{name: "ClaimsOfOneSession", run: testClaimsOfOneSession},
		{name: "Presence", run: testPresence},
		{name: "PresenceExpiry", run: testPresenceExpiry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.serial {
				t.Parallel()
			}
			c := newCluster(t)
			if len(c.Nodes) == 0 {
				t.Fatal("backendtest: newCluster returned no nodes")
			}
			if c.LogLength <= 0 {
				c.LogLength = 64
			}
			tc.run(t, c)
		})
	}
}

// testContext returns a context for the subtest's calls, canceled when it ends or after
// twice waitTimeout.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// keyFor returns a key unique to the subtest; it contains '/' (from the test's name).
func keyFor(t *testing.T, name string) string { return t.Name() + "/" + name }

// nodeAt returns the i-th node, wrapping around.
func nodeAt(c Cluster, i int) Node { return c.Nodes[i%len(c.Nodes)] }

// apply applies patches to doc in order.
func apply(t *testing.T, doc []byte, patches ...[]byte) []byte {
	t.Helper()
	for i, p := range patches {
		patch, err := jsonpatch.DecodePatch(p)
		if err != nil {
			t.Fatalf("patch %d %s: %v", i, p, err)
		}
		doc, err = patch.Apply(doc)
		if err != nil {
			t.Fatalf("applying patch %d %s: %v", i, p, err)
		}
	}
	return doc
}

// recorder is a subscriber that keeps what it is delivered.
type recorder struct {
	mu      sync.Mutex
	changes []wssync.Change
	stopped bool // set once stop returned; a delivery after that is counted in late
	late    int
	signal  chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) deliver(c wssync.Change) {
	c.Patch = append([]byte(nil), c.Patch...)
	r.mu.Lock()
	if r.stopped {
		r.late++
	}
	r.changes = append(r.changes, c)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// subscribe subscribes r to key on n until stop is called or the test ends. The
// backend's stop is called once either way: the interface does not promise more.
func (r *recorder) subscribe(t *testing.T, n Node, key string) (stop func()) {
	unsubscribe := onlyOnce(n.Subscribe(key, r.deliver))
	t.Cleanup(unsubscribe)
	return func() {
		unsubscribe()
		r.mu.Lock()
		r.stopped = true
		r.mu.Unlock()
	}
}

// onlyOnce returns a function that calls f the first time it is called.
func onlyOnce(f func()) func() {
	var once sync.Once
	return func() { once.Do(f) }
}

func (r *recorder) snapshot() []wssync.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wssync.Change(nil), r.changes...)
}

func (r *recorder) lateCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.late
}

// waitFor waits until done holds for what r was delivered, at most waitTimeout.
func (r *recorder) waitFor(t *testing.T, what string, done func([]wssync.Change) bool) []wssync.Change {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		cs := r.snapshot()
		if done(cs) {
			return cs
		}
		select {
		case <-r.signal:
		case <-deadline.C:
			t.Fatalf("after %v, still waiting for %s; delivered: %s", waitTimeout, what, describe(cs))
		}
	}
}

// waitVersion waits until r was delivered version v.
func (r *recorder) waitVersion(t *testing.T, v uint64) []wssync.Change {
	t.Helper()
	return r.waitFor(t, "version "+itoa(v), func(cs []wssync.Change) bool {
		for _, c := range cs {
			if c.Version == v && !c.Lost {
				return true
			}
		}
		return false
	})
}

func describe(cs []wssync.Change) string {
	s := "["
	for i, c := range cs {
		if i > 0 {
			s += " "
		}
		if c.Lost {
			s += "Lost"
		} else {
			s += itoa(c.Version)
		}
	}
	return s + "]"
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
