package wsredis_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsredis"
	"github.com/wssync/wssync/wssynctest"
)

// Attacks on claims by session (Options.ShardedPubSub) on a Redis Cluster of three
// primaries: clients moving fast between nodes, a session re-created on the node that just
// let it go, Pub/Sub connections killed, the session's slot migrated, a wrapper that hides
// ClaimsBySession, many sessions, and the Manager shut down while Redis does not answer.

// scOpts are fast-failing Backend options for these tests.
var scOpts = wsredis.Options{ShardedPubSub: true, OpTimeout: 500 * time.Millisecond,
	HealthInterval: 300 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}

type scNode struct {
	mgr  *wssync.Manager
	url  string
	b    *wsredis.Backend
	logs *logBuffer
}

// scNodes starts n Managers, each on a Backend of its own on a cluster client, serving one
// atkSecret under "DOC" per session; wrap, when set, wraps the Backend as the Manager's
// store.
func scNodes(t *testing.T, servers []*redistest.Server, n int, ttl time.Duration, wrap func(*wsredis.Backend) wssync.SessionStore) []scNode {
	t.Helper()
	return claimNodesWith(t, servers, n, scOpts, ttl, wrap)
}

// claimNodesWith is scNodes with the Backends' options.
func claimNodesWith(t *testing.T, servers []*redistest.Server, n int, base wsredis.Options, ttl time.Duration, wrap func(*wsredis.Backend) wssync.SessionStore) []scNode {
	t.Helper()
	var nodes []scNode
	for range n {
		logs := &logBuffer{}
		opts := base
		opts.Logger = logs.logger()
		client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs(servers),
			DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
		b := closing(t, client, opts)
		var store wssync.SessionStore = b
		if wrap != nil {
			store = wrap(b)
		}
		m := wssync.NewManager(func(_ context.Context, sess *wssync.Session) error {
			_, err := wssync.Register(sess, "DOC", &atkSecret{})
			return err
		}, wssync.WithSessionStore(store), wssync.WithManagerLimits(wssync.ManagerLimits{SessionTTL: ttl}))
		url := wstest.Serve(t, http.HandlerFunc(m.ServeWS))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := m.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
		nodes = append(nodes, scNode{m, url, b, logs})
	}
	return nodes
}

func claimsChannelOf(session string) string { return "wssync:session:{" + session + "}:claims" }

// sessionShardChannels counts the session claim channels subscribed on every primary.
func sessionShardChannels(t *testing.T, servers []*redistest.Server) int {
	t.Helper()
	n := 0
	for _, s := range servers {
		got, err := s.Client(t).PubSubShardChannels(testContext(t), "wssync:session:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		n += len(got)
	}
	return n
}

func holds(n scNode, session string) bool {
	_, ok := n.mgr.Session(session)
	return ok
}

// write patches the client's DOC and waits for the next version: the node serves it.
func write(t *testing.T, c *wssynctest.Client, secret string) {
	t.Helper()
	_, v, _ := c.State("DOC")
	if err := c.Patch("DOC", wssynctest.Replace("/secret", secret)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.WaitVersion(ctx, "DOC", v+1); err != nil {
		t.Fatalf("write %q not served: %v (closed: %v)", secret, err, c.CloseError())
	}
}

func stillOpen(t *testing.T, c *wssynctest.Client, what string) {
	t.Helper()
	select {
	case <-c.Done():
		t.Fatalf("%s: closed: %v", what, c.CloseError())
	default:
	}
}

// settled waits until exactly node want holds the session and the session's channel has
// exactly one shard subscriber.
func settled(t *testing.T, servers []*redistest.Server, nodes []scNode, session string, want int) {
	t.Helper()
	wstest.EventuallyNil(t, 10*time.Second, fmt.Sprintf("node %d alone to hold the session", want), func() error {
		for i, n := range nodes {
			if holds(n, session) != (i == want) {
				return fmt.Errorf("node %d holds it: %v", i, holds(n, session))
			}
		}
		if got := shardSubscribers(t, servers, claimsChannelOf(session)); got != 1 {
			return fmt.Errorf("%d shard subscribers of the session's channel", got)
		}
		return nil
	})
}

// expired waits until no node holds the session and its channel has no subscriber.
func expired(t *testing.T, servers []*redistest.Server, nodes []scNode, session string) {
	t.Helper()
	wstest.EventuallyNil(t, 10*time.Second, "the session to expire everywhere", func() error {
		for i, n := range nodes {
			if holds(n, session) {
				return fmt.Errorf("node %d holds it", i)
			}
		}
		if got := shardSubscribers(t, servers, claimsChannelOf(session)); got != 0 {
			return fmt.Errorf("%d shard subscribers of the session's channel", got)
		}
		return nil
	})
}

// A client alternates between two nodes 30 times, each time writing once served: the last
// node serves it, the other lets go, the channel has one subscriber, none after expiry.
func TestAttackShardedClaimsAlternate(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	nodes := scNodes(t, servers, 2, 300*time.Millisecond, nil)
	const session, rounds = "tab-alt", 30
	var last atkOutcome
	for i := range rounds {
		if last.c != nil {
			_ = last.c.Close()
		}
		last = atkConnect(t, nodes[i%2].url, "alice", session)
		if !last.set {
			t.Fatalf("round %d refused: %d", i, last.code)
		}
		write(t, last.c, fmt.Sprint("r", i))
	}
	final := (rounds - 1) % 2
	settled(t, servers, nodes, session, final)
	stillOpen(t, last.c, "the last connection")
	write(t, last.c, "after")
	_ = last.c.Close()
	expired(t, servers, nodes, session)
}

// The client moves to node 1 and straight back to node 0, without waiting for node 0 to let
// its copy go: node 0's old copy's Close ends its watch while the new copy's watch already
// runs on the same channel. 15 times; after each, node 0 alone holds the session and hears
// the next claim (node 1's of the next round lets it go).
func TestAttackShardedClaimsReacquireSameNode(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	nodes := scNodes(t, servers, 2, time.Minute, nil)
	const session = "tab-back"
	first := atkConnect(t, nodes[0].url, "alice", session)
	if !first.set {
		t.Fatal("refused")
	}
	_ = first.c.Close()
	for i := range 15 {
		away := atkConnect(t, nodes[1].url, "alice", session)
		if !away.set {
			t.Fatalf("round %d: node 1 refused: %d", i, away.code)
		}
		_ = away.c.Close()
		back := atkConnect(t, nodes[0].url, "alice", session)
		if !back.set {
			t.Fatalf("round %d: node 0 refused: %d", i, back.code)
		}
		write(t, back.c, fmt.Sprint("back", i))
		settled(t, servers, nodes, session, 0)
		stillOpen(t, back.c, fmt.Sprintf("round %d: node 0's connection", i))
		_ = back.c.Close()
	}
	// node 0 still hears: one more move lets it go
	away := atkConnect(t, nodes[1].url, "alice", session)
	if !away.set {
		t.Fatal("node 1 refused")
	}
	settled(t, servers, nodes, session, 1)
}

// The Pub/Sub connections of every primary are killed while the client moves. A claim may
// be lost then (allowed); once the subscriptions are back, the next moves are heard and the
// stale node reloads the session from the store's generation.
func TestAttackShardedClaimsKillPubSub(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	nodes := scNodes(t, servers, 2, time.Minute, nil)
	kill := interruptAll(t, servers)
	const session = "tab-kill"
	c := atkConnect(t, nodes[0].url, "alice", session)
	write(t, c.c, "on0")
	_ = c.c.Close()
	for i := range 5 {
		kill()
		c = atkConnect(t, nodes[(i+1)%2].url, "alice", session)
		if !c.set {
			t.Fatalf("round %d refused: %d", i, c.code)
		}
		want := fmt.Sprint("kill", i)
		write(t, c.c, want)
		_ = c.c.Close()
		// whichever node may hold a stale copy, the next connection on either gets the write
		for j := range 2 {
			c = atkConnect(t, nodes[(i+j)%2].url, "alice", session)
			if !strings.Contains(c.state, want) {
				t.Fatalf("round %d: node %d served %s, want the last write %q", i, (i+j)%2, c.state, want)
			}
			_ = c.c.Close()
		}
	}
	// the subscriptions are back: moves are heard again
	wstest.EventuallyNil(t, 10*time.Second, "node 1 alone to hold the session after moves", func() error {
		c := atkConnect(t, nodes[0].url, "alice", session)
		_ = c.c.Close()
		c = atkConnect(t, nodes[1].url, "alice", session)
		defer func() { _ = c.c.Close() }()
		deadline := time.Now().Add(time.Second)
		for holds(nodes[0], session) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if holds(nodes[0], session) {
			return errors.New("node 0 still holds it")
		}
		return nil
	})
}

// The slot of the session (its record and its claims channel) migrates to another primary
// while two nodes... one node holds it: its watch follows the channel to the new primary,
// and the next move to another node is heard there.
func TestAttackShardedClaimsSlotMigration(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	nodes := scNodes(t, servers, 2, time.Minute, nil)
	// a session on primary 0
	session := ""
	for i := 0; session == ""; i++ {
		id := fmt.Sprint("tab-mig-", i)
		n, err := servers[0].Client(t).ClusterKeySlot(testContext(t), "wssync:session:{"+id+"}").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n < 16384/3 {
			session = id
		}
	}
	c := atkConnect(t, nodes[0].url, "alice", session)
	write(t, c.c, "before")
	migrateSlot(t, servers, "wssync:session:{"+session+"}", 0, 1)
	wstest.EventuallyNil(t, 10*time.Second, "node 0's watch on primary 1", func() error {
		got, err := servers[1].Client(t).PubSubShardNumSub(testContext(t), claimsChannelOf(session)).Result()
		if err != nil {
			return err
		}
		if got[claimsChannelOf(session)] != 1 {
			return fmt.Errorf("%d subscribers on primary 1", got[claimsChannelOf(session)])
		}
		return nil
	})
	write(t, c.c, "after migration")
	moved := atkConnect(t, nodes[1].url, "alice", session)
	if !moved.set || !strings.Contains(moved.state, "after migration") {
		t.Fatalf("node 1: %+v", moved)
	}
	settled(t, servers, nodes, session, 1)
	select {
	case <-c.c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("node 0's connection is still open")
	}
	// and back
	_ = moved.c.Close()
	back := atkConnect(t, nodes[0].url, "alice", session)
	write(t, back.c, "back")
	settled(t, servers, nodes, session, 0)
}

// hideClaimsBySession is a wrapper of a store that embeds the SessionStore interface, so
// that the Manager does not see ClaimsBySession.
type hideClaimsBySession struct{ wssync.SessionStore }

// A wrapper that hides ClaimsBySession: wsredis logs a warning on each node (the doc), and,
// as documented, no node hears another's claims: both keep the session.
func TestAttackShardedClaimsHiddenByWrapper(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	nodes := scNodes(t, servers, 2, time.Minute, func(b *wsredis.Backend) wssync.SessionStore { return hideClaimsBySession{b} })
	for i, n := range nodes {
		if !strings.Contains(n.logs.String(), "WatchClaims on a Backend with ShardedPubSub hears no claim") {
			t.Errorf("node %d: no warning logged:\n%s", i, n.logs.String())
		}
	}
	const session = "tab-hidden"
	a := atkConnect(t, nodes[0].url, "alice", session)
	b := atkConnect(t, nodes[1].url, "alice", session)
	if !a.set || !b.set {
		t.Fatal("refused")
	}
	time.Sleep(500 * time.Millisecond)
	if !holds(nodes[0], session) || !holds(nodes[1], session) {
		t.Errorf("documented failure mode: both nodes keep the session; node 0 %v, node 1 %v", holds(nodes[0], session), holds(nodes[1], session))
	}
}

// Many sessions connect to one node and close: while held, one shard channel each; once
// expired, none, and no goroutine is left over. Every client stays connected until the
// channels are counted, so the count does not depend on how long the connects took.
func TestAttackShardedClaimsManySessions(t *testing.T) {
	servers := redistest.StartShardedCluster(t, 3)
	nodes := scNodes(t, servers, 1, 2*time.Second, nil)
	const n = 1000
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	clients := make([]*wssynctest.Client, n)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := wssynctest.Dial(ctx, nodes[0].url, wssynctest.WithIdentity(fmt.Sprint("u", i), fmt.Sprint("many-", i))) // a user each: one user may hold DefaultMaxConnsPerUser
			if err != nil {
				errs <- err
				return
			}
			clients[i] = c
			if _, err := c.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_SET:DOC" }); err != nil {
				errs <- fmt.Errorf("session %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	closeAll := func() {
		for _, c := range clients {
			if c != nil {
				_ = c.Close()
			}
		}
	}
	close(errs)
	for err := range errs {
		closeAll()
		t.Fatal(err)
	}
	if got := sessionShardChannels(t, servers); got != n {
		t.Errorf("%d session channels while %d sessions are held", got, n)
	}
	closeAll()
	wstest.EventuallyNil(t, 20*time.Second, "every session to expire", func() error {
		if s := nodes[0].mgr.Stats().Sessions; s != 0 {
			return fmt.Errorf("%d sessions", s)
		}
		if got := sessionShardChannels(t, servers); got != 0 {
			return fmt.Errorf("%d session channels", got)
		}
		return nil
	})
	wstest.EventuallyNil(t, 10*time.Second, "goroutines back", func() error {
		if g := runtime.NumGoroutine(); g > before+20 {
			return fmt.Errorf("%d goroutines, %d before", g, before)
		}
		return nil
	})
}

// Shutdown while the first connection of a session waits for its watch (every primary
// paused): Shutdown returns within a few OpTimeouts, and once Redis is back no subscription
// of the session is left.
func TestAttackShardedClaimsShutdownRedisPaused(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	nodes := scNodes(t, servers, 1, time.Minute, nil)
	warm := atkConnect(t, nodes[0].url, "alice", "tab-warm") // the hubs are up
	_ = warm.c.Close()
	for _, s := range servers {
		s.Pause()
	}
	paused := true
	defer func() {
		if paused {
			for _, s := range servers {
				s.Resume()
			}
		}
	}()
	const session = "tab-paused"
	dialed := make(chan struct{})
	go func() {
		defer close(dialed)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		c, err := wssynctest.Dial(ctx, nodes[0].url, wssynctest.WithIdentity("alice", session))
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		<-c.Done()
	}()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := nodes[0].mgr.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v with Redis paused", d)
	}
	t.Logf("Shutdown with every primary paused took %v", time.Since(start))
	for _, s := range servers {
		s.Resume()
	}
	paused = false
	select {
	case <-dialed:
	case <-time.After(10 * time.Second):
		t.Fatal("the client's connection did not end")
	}
	wstest.EventuallyNil(t, 10*time.Second, "no session channel subscribed", func() error {
		if got := sessionShardChannels(t, servers); got != 0 {
			return fmt.Errorf("%d session channels", got)
		}
		return nil
	})
}

// A primary goes down while a node holds a session on it, the session expires meanwhile,
// and the primary comes back: the node does not subscribe the expired session's channel
// again.
func TestAttackShardedClaimsExpireWhileRedisDown(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedClusterPersistent(t, 3)
	nodes := scNodes(t, servers, 1, 300*time.Millisecond, nil)
	sessions := make([]string, 0, 3)
	for i := 0; len(sessions) < 6; i++ {
		sessions = append(sessions, fmt.Sprint("tab-down-", i))
	}
	for _, s := range sessions {
		c := atkConnect(t, nodes[0].url, "alice", s)
		if !c.set {
			t.Fatalf("%s refused", s)
		}
		_ = c.c.Close()
	}
	servers[2].Stop()
	wstest.EventuallyNil(t, 10*time.Second, "the sessions to expire", func() error {
		if s := nodes[0].mgr.Stats().Sessions; s != 0 {
			return fmt.Errorf("%d sessions", s)
		}
		return nil
	})
	servers[2].Restart()
	time.Sleep(time.Second) // the hub reconnects
	wstest.EventuallyNil(t, 10*time.Second, "no session channel subscribed", func() error {
		if got := sessionShardChannels(t, servers); got != 0 {
			return fmt.Errorf("%d session channels", got)
		}
		return nil
	})
}

// primaryOf returns the index of the primary that owns name's slot in a fresh
// StartShardedCluster (the slots split evenly, in order).
func primaryOf(t *testing.T, servers []*redistest.Server, name string) int {
	t.Helper()
	n, err := servers[0].Client(t).ClusterKeySlot(testContext(t), name).Result()
	if err != nil {
		t.Fatal(err)
	}
	return min(int(n)/(16384/len(servers)), len(servers)-1)
}

// A session watch stopped after Redis dropped its channel (the slot migrated away)
// but before the Backend has resubscribed it elsewhere left a stray SUNSUBSCRIBE count on
// the old primary's hub; when the slot comes back and the session is watched there again,
// the next migration's sunsubscribe is taken for that old SUNSUBSCRIBE's answer: the watch
// is not moved, Redis no longer has it, and the node hears none of the session's claims
// any more (promise 1; a node that does not hear a claim keeps serving the session).
//
// (This happened; the cause, fixed in hub.unsubscribe, which now writes nothing for a
// subscriber already handed over: after hub.release took the subscriber out of
// the hub, the routedSub's stop is still the old hub's until shards.resubscribe runs (it
// waits a backoff when moves follow each other within a second). That stop finds no
// subscriber of the channel left and writes SUNSUBSCRIBE, counting h.unsubs[channel]++;
// Redis 7 answers a SUNSUBSCRIBE of a slot it no longer owns with MOVED (checked on
// 7.0.15), which hub.read handles as a move and never counts against h.unsubs. So the
// count stays at 1, and hub.unsubscribed later treats Redis's own sunsubscribe of that
// channel as the awaited answer.)
func TestAttackShardedWatchStoppedWhileMovingLosesLaterMove(t *testing.T) {
	t.Parallel()
	servers := redistest.StartShardedCluster(t, 3)
	ctx := testContext(t)
	// a session and a dummy object whose channels are on primary 0, in different slots
	session, dummy := "", ""
	for i := 0; session == "" || dummy == ""; i++ {
		id := fmt.Sprint("mv-", i)
		switch {
		case session == "" && primaryOf(t, servers, "wssync:session:{"+id+"}") == 0:
			session = id
		case dummy == "" && primaryOf(t, servers, "wssync:{"+id+"}:changes") == 0:
			dummy = id
		}
	}
	channel := claimsChannelOf(session)
	opts := scOpts
	opts.MinBackoff, opts.MaxBackoff = 5*time.Second, 5*time.Second // a second move waits up to 5 s
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs(servers)})
	b := closing(t, client, opts)
	other := closing(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs(servers)}), scOpts)

	var mu sync.Mutex
	var heard []string
	claimed := func(c wssync.SessionClaim) {
		mu.Lock()
		heard = append(heard, c.Claimant)
		mu.Unlock()
	}
	numsub := func(i int) int64 {
		got, err := servers[i].Client(t).PubSubShardNumSub(ctx, channel).Result()
		if err != nil {
			t.Fatal(err)
		}
		return got[channel]
	}
	waitNumsub := func(i int, want int64, d time.Duration) error {
		deadline := time.Now().Add(d)
		for {
			n := numsub(i)
			if n == want {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("primary %d: %d subscribers of the session's channel, want %d", i, n, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	stopDummy := b.Subscribe(dummy, func(wssync.Change) {})
	defer stopDummy()
	stop := b.WatchSessionClaims(session, claimed)
	if err := waitNumsub(0, 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// two moves within a second: the second (the session's) waits a backoff
	migrateSlot(t, servers, "wssync:{"+dummy+"}:state", 0, 2)
	migrateSlot(t, servers, "wssync:session:{"+session+"}", 0, 1)
	time.Sleep(100 * time.Millisecond) // Redis dropped the channel; the Backend has not moved it yet
	stop()                             // the session ends: SUNSUBSCRIBE on primary 0, answered MOVED

	// the slot comes back, and the session is watched on primary 0 again
	migrateSlot(t, servers, "wssync:session:{"+session+"}", 1, 0)
	client.ReloadState(ctx)
	time.Sleep(300 * time.Millisecond)
	stop2 := b.WatchSessionClaims(session, claimed)
	defer stop2()
	if err := waitNumsub(0, 1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// it migrates once more: the watch must follow it to primary 1
	migrateSlot(t, servers, "wssync:session:{"+session+"}", 0, 1)
	if err := waitNumsub(1, 1, 8*time.Second); err != nil {
		t.Errorf("the watch did not follow its channel: %v", err)
	}
	mu.Lock()
	before := len(heard)
	mu.Unlock()
	if err := other.ClaimSession(ctx, wssync.SessionClaim{ID: session, User: "alice", Claimant: "after-move"}); err != nil {
		t.Fatal(err)
	}
	wstest.EventuallyNil(t, 3*time.Second, "the watch to hear a claim after the move", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(heard) == before {
			return errors.New("heard nothing")
		}
		return nil
	})
}
