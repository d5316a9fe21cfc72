package wsredis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsredis"
)

// Fault tests of sharded pub/sub on a Redis Cluster of three primaries that keep their
// data (append-only, synced at every write). One writer per object appends 0, 1, 2, … to
// the object's list, retrying each commit with its ID until Redis acknowledges it; three
// nodes follow every object with Subscribe, applying each change that follows their
// version and reloading (Load) after Lost. The history check: once the writers are done,
// every node holds every object at its last acknowledged version with the list 0 … n-1,
// every acknowledged append exactly once and in order; and a change a node did not get
// was always announced by a Lost first (a version jump without one is a silent loss and
// fails the test).

// follower is one node's copy of one object.
type follower struct {
	b   *wsredis.Backend
	key string

	mu      sync.Mutex
	version uint64
	items   []int
	lost    int    // Lost deliveries
	resyncs int    // Loads after a Lost
	silent  []int  // versions that jumped with no Lost before them
	pending bool   // a Lost not followed by a reload yet
	skipped uint64 // the highest version delivered while pending
	kick    chan struct{}
}

func (f *follower) deliver(ch wssync.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case ch.Lost:
		f.lost++
		f.pending = true
	case f.pending:
		f.skipped = max(f.skipped, ch.Version) // the reload must bring it
	case ch.Version <= f.version:
		// a change a reload brought already
	case ch.Version == f.version+1 && f.version > 0:
		var op []struct {
			Value int `json:"value"`
		}
		if err := json.Unmarshal(ch.Patch, &op); err != nil || len(op) != 1 {
			f.silent = append(f.silent, -int(ch.Version)) // a patch it cannot read: count as a failure
			return
		}
		f.items = append(f.items, op[0].Value)
		f.version = ch.Version
	default:
		if f.version != 0 {
			f.silent = append(f.silent, int(ch.Version-f.version))
		}
		f.pending = true // first version seen, or a gap: reload
		f.skipped = ch.Version
	}
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// resync reloads the whole state when a reload is pending, until ctx ends.
func (f *follower) resync(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
		case <-time.After(50 * time.Millisecond):
		}
		f.mu.Lock()
		need := f.pending
		f.mu.Unlock()
		if !need {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, time.Second)
		snap, err := f.b.Load(lctx, f.key, 0)
		cancel()
		if err != nil || snap.Version == 0 {
			continue // Redis is away: try again
		}
		var items []int
		if err := json.Unmarshal(snap.State, &items); err != nil {
			continue
		}
		f.mu.Lock()
		if snap.Version >= f.version {
			f.version, f.items = snap.Version, items
		}
		// changes skipped while pending that the reload did not bring: reload again
		f.pending = f.skipped > f.version
		f.resyncs++
		f.mu.Unlock()
	}
}

// writer appends to one object; acked[i] is the version that append i made.
type writer struct {
	b     *wsredis.Backend
	key   string
	acked []uint64
	fails int // attempts that returned an error and were retried
}

// run appends until n appends were acknowledged or ctx ends.
func (w *writer) run(ctx context.Context, n int, pace time.Duration) {
	var items []int
	version := uint64(0)
	for i := range n {
		items = append(items, i)
		state, _ := json.Marshal(items)
		p := wssync.Proposal{Base: version, State: state, ID: fmt.Sprintf("%s-%d", w.key, i),
			Patch: fmt.Appendf(nil, `[{"op":"add","path":"/-","value":%d}]`, i)}
		for {
			if ctx.Err() != nil {
				return
			}
			cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			err := w.b.Commit(cctx, w.key, p)
			cancel()
			if err == nil {
				break
			}
			w.fails++
			time.Sleep(20 * time.Millisecond)
		}
		if version == 0 {
			for {
				snap, err := w.b.Load(ctx, w.key, 0)
				if err == nil {
					version = snap.Version
					break
				}
				if ctx.Err() != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		} else {
			version++
		}
		w.acked = append(w.acked, version)
		time.Sleep(pace)
	}
}

// history runs the writers and followers on the cluster, calls fault once every object
// has its first version, and checks the history. It returns each node's followers, in
// the order of keys.
func history(t *testing.T, servers []*redistest.Server, keys []string, appends int, fault func()) [][]*follower {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	newBackend := func() *wsredis.Backend {
		client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs(servers),
			DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
		return closing(t, client, wsredis.Options{ShardedPubSub: true, OpTimeout: 300 * time.Millisecond,
			HealthInterval: 300 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	}
	const nodes = 3
	fs := make([][]*follower, nodes)
	var wg sync.WaitGroup
	rctx, stopResync := context.WithCancel(ctx)
	for n := range nodes {
		b := newBackend()
		for _, k := range keys {
			f := &follower{b: b, key: k, kick: make(chan struct{}, 1)}
			fs[n] = append(fs[n], f)
			t.Cleanup(b.Subscribe(k, f.deliver))
			wg.Go(func() { f.resync(rctx) })
		}
	}
	defer func() {
		stopResync()
		wg.Wait()
	}()
	wb := newBackend()
	writers := make([]*writer, len(keys))
	var ww sync.WaitGroup
	for i, k := range keys {
		writers[i] = &writer{b: wb, key: k}
		ww.Go(func() { writers[i].run(ctx, appends, 5*time.Millisecond) })
	}
	// the fault, once every object exists
	wstest.EventuallyNil(t, waitTimeout, "every object's first version", func() error {
		for _, f := range fs[0] {
			f.mu.Lock()
			v := f.version
			f.mu.Unlock()
			if v == 0 {
				return fmt.Errorf("%s has no version yet", f.key)
			}
		}
		return nil
	})
	fault()
	ww.Wait()
	fails := 0
	for _, w := range writers {
		if len(w.acked) != appends {
			t.Fatalf("%s: %d of %d appends acknowledged within the time", w.key, len(w.acked), appends)
		}
		fails += w.fails
	}
	want := make([]int, appends)
	for i := range want {
		want[i] = i
	}
	for n := range nodes {
		lost, resyncs := 0, 0
		for i, f := range fs[n] {
			last := writers[i].acked[appends-1]
			wstest.EventuallyNil(t, waitTimeout, fmt.Sprintf("node %d at %s's last version", n, f.key), func() error {
				f.mu.Lock()
				defer f.mu.Unlock()
				if f.version != last {
					return fmt.Errorf("at version %d, the last acknowledged is %d (%d items)", f.version, last, len(f.items))
				}
				return nil
			})
			f.mu.Lock()
			if !slices.Equal(f.items, want) {
				t.Errorf("node %d, %s: items %v, want every acknowledged append once, in order: %v", n, f.key, f.items, want)
			}
			if len(f.silent) > 0 {
				t.Errorf("node %d, %s: versions jumped by %v with no Lost before: changes lost silently", n, f.key, f.silent)
			}
			lost += f.lost
			resyncs += f.resyncs
			f.mu.Unlock()
		}
		t.Logf("node %d: %d Lost, %d reloads over %d objects; the writer retried %d times", n, lost, resyncs, len(keys), fails)
	}
	return fs[:]
}

// flatKeys returns the keys of keysOnEachShard, per shard in turn.
func flatKeys(keys [][]string) []string {
	var out []string
	for _, ks := range keys {
		out = append(out, ks...)
	}
	return out
}

// TestShardedKillPubSubConnection kills every Pub/Sub connection of one primary twice
// while objects on every primary change: the nodes' subscriptions on that primary recover
// (Lost, then a reload), the others are untouched (no Lost), and the history holds.
func TestShardedKillPubSubConnection(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedClusterPersistent(t, 3)
	keys := keysOnEachShard(t, servers, 2)
	kill := interrupter(t, servers[1])
	fs := history(t, servers, flatKeys(keys), 120, func() {
		kill()
		time.Sleep(150 * time.Millisecond)
		kill()
	})
	for n, node := range fs {
		for i, f := range node {
			onKilled := slices.Contains(keys[1], f.key)
			f.mu.Lock()
			if lost := f.lost; (lost > 0) != onKilled {
				t.Errorf("node %d, object %d (%s): %d Lost; want some only for the objects of the killed primary's connections (%v)", n, i, f.key, lost, onKilled)
			}
			f.mu.Unlock()
		}
	}
}

// TestShardedRestartPrimary stops one primary (SIGKILL) for half a second and starts it
// again with its data while objects on every primary change: commits to it fail and are
// retried, the nodes subscribe on it again, and the history holds.
func TestShardedRestartPrimary(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedClusterPersistent(t, 3)
	keys := keysOnEachShard(t, servers, 2)
	history(t, servers, flatKeys(keys), 120, func() {
		servers[2].Stop()
		time.Sleep(500 * time.Millisecond)
		servers[2].Restart()
	})
}

// migrateSlot moves the slot of key, and its keys, from primary from to primary to, the
// way redis-cli --cluster reshard does: IMPORTING and MIGRATING, MIGRATE of every key,
// then SETSLOT NODE on both (and on the third primary).
func migrateSlot(t *testing.T, servers []*redistest.Server, key string, from, to int) {
	t.Helper()
	ctx := testContext(t)
	src, dst := servers[from].Client(t), servers[to].Client(t)
	srcID, err := src.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	dstID, err := dst.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	n, err := src.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	must := func(c *redis.Client, args ...any) {
		t.Helper()
		if err := c.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	must(dst, "CLUSTER", "SETSLOT", n, "IMPORTING", srcID)
	must(src, "CLUSTER", "SETSLOT", n, "MIGRATING", dstID)
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, int(n), 100).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", "127.0.0.1", strconv.Itoa(portOf(servers[to])), "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		must(src, args...)
	}
	must(dst, "CLUSTER", "SETSLOT", n, "NODE", dstID)
	must(src, "CLUSTER", "SETSLOT", n, "NODE", dstID)
	for i, s := range servers {
		if i != from && i != to {
			must(s.Client(t), "CLUSTER", "SETSLOT", n, "NODE", dstID)
		}
	}
}

// portOf returns the port of s.
func portOf(s *redistest.Server) int {
	_, p, _ := strings.Cut(s.Addr(), ":")
	n, _ := strconv.Atoi(p)
	return n
}

// TestShardedSlotMigration moves the slot of one followed object from one primary to
// another while it and others change: Redis unsubscribes the nodes from its channel on
// the old primary (sunsubscribe), they subscribe on the new one (PUBSUB SHARDCHANNELS
// there), and the history holds.
func TestShardedSlotMigration(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedClusterPersistent(t, 3)
	keys := keysOnEachShard(t, servers, 2)
	moving := keys[0][0]
	channel := "wssync:{" + moving + "}:changes"
	history(t, servers, flatKeys(keys), 120, func() {
		migrateSlot(t, servers, "wssync:{"+moving+"}:state", 0, 1)
	})
	ctx := testContext(t)
	for i, want := range []bool{false, true, false} {
		got, err := servers[i].Client(t).PubSubShardChannels(ctx, channel).Result()
		if err != nil {
			t.Fatal(err)
		}
		if (len(got) == 1) != want {
			t.Errorf("primary %d: shard channels %q; want the moved channel there: %v", i, got, want)
		}
	}
}

// TestShardedFailoverToAnotherAddress: a primary dies for good and another takes over its
// slots (as a replica at another address would after a failover; the test cluster has no
// replicas, so it reassigns the slots by hand). The subscription on the dead primary cannot
// be set up again; the backend asks who owns its channel now, subscribes there, delivers
// Lost, and then the changes committed on the new owner.
func TestShardedFailoverToAnotherAddress(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	ctx := testContext(t)
	key := keysOnEachShard(t, servers, 1)[2][0] // on the primary that dies
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs(servers[:2]),
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	b := closing(t, client, wsredis.Options{ShardedPubSub: true, OpTimeout: 300 * time.Millisecond,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	cs := newChanges()
	t.Cleanup(b.Subscribe(key, cs.deliver))
	first, err := commit(ctx, b, key, 0, []byte(`{}`), []byte(`[]`))
	if err != nil {
		t.Fatal(err)
	}
	cs.waitVersion(t, 0, first)

	servers[2].Stop()
	per := 16384 / 3
	for _, i := range []int{0, 1} {
		if err := servers[i].Client(t).Do(ctx, "CLUSTER", "DELSLOTSRANGE", 2*per, 16383).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := servers[0].Client(t).Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 2*per, 16383).Err(); err != nil {
		t.Fatal(err)
	}
	lost := cs.waitLost(t, 1)
	var again uint64
	wstest.EventuallyNil(t, waitTimeout, "a commit on the new owner", func() error {
		again, err = commit(ctx, b, key, 0, []byte(`{"again":1}`), []byte(`[]`))
		return err
	})
	cs.waitVersion(t, lost+1, again)
	got, err := servers[0].Client(t).PubSubShardChannels(ctx, "wssync:{"+key+"}:changes").Result()
	if err != nil || len(got) != 1 {
		t.Errorf("shard channels on the new owner: %q, %v; want the object's", got, err)
	}
}

// TestShardedSlotMigrationBackAndForth moves the slots of two followed objects (one from
// each of two primaries) away and back again under writes: the subscriptions follow each
// move, end on the primaries they started on, and the history holds.
func TestShardedSlotMigrationBackAndForth(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedClusterPersistent(t, 3)
	keys := keysOnEachShard(t, servers, 2)
	a, b := keys[0][0], keys[1][0]
	history(t, servers, flatKeys(keys), 150, func() {
		migrateSlot(t, servers, "wssync:{"+a+"}:state", 0, 2)
		migrateSlot(t, servers, "wssync:{"+b+"}:state", 1, 2)
		time.Sleep(100 * time.Millisecond)
		migrateSlot(t, servers, "wssync:{"+a+"}:state", 2, 0)
		migrateSlot(t, servers, "wssync:{"+b+"}:state", 2, 1)
	})
	ctx := testContext(t)
	for _, c := range []struct {
		key   string
		owner int
	}{{a, 0}, {b, 1}} {
		for i, s := range servers {
			got, err := s.Client(t).PubSubShardChannels(ctx, "wssync:{"+c.key+"}:changes").Result()
			if err != nil {
				t.Fatal(err)
			}
			if (len(got) == 1) != (i == c.owner) {
				t.Errorf("primary %d: shard channels %q for %s, which primary %d owns again", i, got, c.key, c.owner)
			}
		}
	}
}

// TestShardedSubscribeWithStaleClusterView: the cluster client still places an object's
// slot on its old primary when Subscribe runs, and keeps doing so for a while (its view of
// the slots is held back: ClusterSlots returns the layout from before the move). Redis
// answers each SSUBSCRIBE with MOVED; the backend tries again with backoff, and once the
// view is current the subscription lands on the new primary, gets Lost, then the changes
// committed after.
func TestShardedSubscribeWithStaleClusterView(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	ctx := testContext(t)
	key := keysOnEachShard(t, servers, 1)[0][0]
	admin := servers[2].Client(t)
	//lint:ignore SA1019 ClusterOptions.ClusterSlots wants the CLUSTER SLOTS form
	before, err := admin.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	var stale atomic.Bool
	stale.Store(true)
	var logs logBuffer
	b := closing(t, redis.NewClusterClient(&redis.ClusterOptions{
		ClusterSlots: func(ctx context.Context) ([]redis.ClusterSlot, error) {
			if stale.Load() {
				return before, nil
			}
			//lint:ignore SA1019 as above
			return admin.ClusterSlots(ctx).Result()
		},
	}), wsredis.Options{ShardedPubSub: true, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: logs.logger()})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("backend's log:\n%s", logs.String())
		}
	})
	writer := closing(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs(servers)}), sharded)
	first, err := commit(ctx, writer, key, 0, []byte(`{}`), []byte(`[]`))
	if err != nil {
		t.Fatal(err)
	}
	migrateSlot(t, servers, "wssync:{"+key+"}:state", 0, 1)
	cs := newChanges()
	t.Cleanup(b.Subscribe(key, cs.deliver))
	logs.waitLog(t, "shard channels moved", 3) // MOVED, again and again while the view is stale
	stale.Store(false)
	lost := cs.waitLost(t, 0)
	if err := writer.Commit(ctx, key, wssync.Proposal{Base: first, State: []byte(`{"n":2}`), Patch: []byte(`[]`)}); err != nil {
		t.Fatal(err)
	}
	cs.waitVersion(t, lost+1, first+1)
	got, err := servers[1].Client(t).PubSubShardChannels(ctx, "wssync:{"+key+"}:changes").Result()
	if err != nil || len(got) != 1 {
		t.Errorf("shard channels on the new primary: %q, %v", got, err)
	}
}

// TestShardedCloseWhileMoving closes a Backend whose subscription keeps bouncing off
// MOVED (its cluster view stays stale for good): Close returns, and the package's leak
// check proves that the move in progress ended with it.
func TestShardedCloseWhileMoving(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	ctx := testContext(t)
	key := keysOnEachShard(t, servers, 1)[0][0]
	admin := servers[2].Client(t)
	//lint:ignore SA1019 ClusterOptions.ClusterSlots wants the CLUSTER SLOTS form
	before, err := admin.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClusterClient(&redis.ClusterOptions{
		ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) { return before, nil },
	})
	t.Cleanup(func() { _ = client.Close() })
	var logs logBuffer
	b := wsredis.New(client, wsredis.Options{ShardedPubSub: true, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second, Logger: logs.logger()})
	migrateSlot(t, servers, "wssync:{"+key+"}:state", 0, 1)
	stop := b.Subscribe(key, func(wssync.Change) {})
	logs.waitLog(t, "shard channels moved", 3)
	done := make(chan struct{})
	go func() {
		b.Close()
		stop() // harmless after Close
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("Close did not return while a subscription was moving")
	}
}
