package wsredis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsredis"
)

// waitTimeout bounds every wait for something to happen: generous, never a speed.
const waitTimeout = 10 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 3*waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// changes records what a subscription delivers.
type changes struct {
	mu     sync.Mutex
	all    []wssync.Change
	signal chan struct{}
}

func newChanges() *changes { return &changes{signal: make(chan struct{}, 1)} }

func (c *changes) deliver(ch wssync.Change) {
	c.mu.Lock()
	c.all = append(c.all, ch)
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

func (c *changes) snapshot() []wssync.Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]wssync.Change(nil), c.all...)
}

// wait waits until done holds for everything delivered, at most waitTimeout.
func (c *changes) wait(t *testing.T, what string, done func([]wssync.Change) bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		all := c.snapshot()
		if done(all) {
			return
		}
		select {
		case <-c.signal:
		case <-deadline.C:
			t.Fatalf("within %v: no %s; delivered %+v", waitTimeout, what, all)
		}
	}
}

// waitFor waits until done holds for a change delivered at index from or later, and
// returns the index of the first.
func (c *changes) waitFor(t *testing.T, what string, from int, done func(wssync.Change) bool) int {
	t.Helper()
	found := -1
	c.wait(t, what, func(all []wssync.Change) bool {
		for i := from; i < len(all); i++ {
			if done(all[i]) {
				found = i
				return true
			}
		}
		return false
	})
	return found
}

func (c *changes) waitLost(t *testing.T, from int) int {
	t.Helper()
	return c.waitFor(t, "Lost", from, func(ch wssync.Change) bool { return ch.Lost })
}

// waitLosts waits until n Lost were delivered.
func (c *changes) waitLosts(t *testing.T, n int) {
	t.Helper()
	c.wait(t, fmt.Sprintf("%d Lost", n), func(all []wssync.Change) bool {
		lost := 0
		for _, ch := range all {
			if ch.Lost {
				lost++
			}
		}
		return lost >= n
	})
}

func (c *changes) waitVersion(t *testing.T, from int, v uint64) int {
	t.Helper()
	return c.waitFor(t, fmt.Sprintf("version %d", v), from, func(ch wssync.Change) bool { return !ch.Lost && ch.Version == v })
}

// logBuffer collects a logger's output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitLog waits until the log holds n lines containing s.
func (b *logBuffer) waitLog(t *testing.T, s string, n int) {
	t.Helper()
	wstest.EventuallyNil(t, waitTimeout, fmt.Sprintf("%d log lines with %q", n, s), func() error {
		if log := b.String(); strings.Count(log, s) < n {
			return fmt.Errorf("the log has fewer:\n%s", log)
		}
		return nil
	})
}

// commit commits state to key on b from version base and returns the version it made:
// base+1, or, from version 0, the version the backend chose, which a Load tells.
func commit(ctx context.Context, b *wsredis.Backend, key string, base uint64, state, patch []byte) (uint64, error) {
	if err := b.Commit(ctx, key, wssync.Proposal{Base: base, State: state, Patch: patch}); err != nil {
		return 0, err
	}
	if base > 0 {
		return base + 1, nil
	}
	snap, err := b.Load(ctx, key, 0)
	if err != nil {
		return 0, err
	}
	if snap.Version == 0 || !bytes.Equal(snap.State, state) {
		return 0, fmt.Errorf("after creating %q: version %d, state %s", key, snap.Version, snap.State)
	}
	return snap.Version, nil
}

// oddNames are keys, session ids and rooms with everything that could confuse the names
// in Redis: braces that end or open hash tags, an empty string, the escape character,
// the separators, and non-ASCII text.
var oddNames = []string{"", "}", "}x", `\`, `\}`, "{", "{}", "a{b}c/d:é☃}", "x", "x}:log", "x}:state", "ROOM:1/{x}", "日本語 ✓"}

// TestOddNames checks that every odd name is an object, session and room of its own, on a
// standalone server and on a Redis Cluster, which refuses a script whose keys are in
// different slots.
func TestOddNames(t *testing.T) {
	t.Parallel()
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t)
		testOddNames(t, newBackend(t, srv.Addr(), wsredis.Options{}), newBackend(t, srv.Addr(), wsredis.Options{}))
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		srv := redistest.StartCluster(t)
		newClient := func() redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr()}})
		}
		testOddNames(t, closing(t, newClient(), wsredis.Options{}), closing(t, newClient(), wsredis.Options{}))
	})
}

func testOddNames(t *testing.T, a, b *wsredis.Backend) {
	ctx := testContext(t)
	subs := make([]*changes, len(oddNames))
	for i, k := range oddNames {
		subs[i] = newChanges()
		t.Cleanup(b.Subscribe(k, subs[i].deliver))
	}
	versions := make([]uint64, len(oddNames))
	for i, k := range oddNames {
		state := fmt.Appendf(nil, `{"key":%q}`, k)
		patch := fmt.Appendf(nil, `[{"op":"add","path":"/key","value":%q}]`, k)
		v, err := commit(ctx, a, k, 0, state, patch)
		if err != nil {
			t.Fatalf("Commit %q: %v", k, err)
		}
		versions[i] = v
		if _, err := a.SaveSession(ctx, k, "user "+k, k, wssync.StoredObject{Version: uint64(i + 1), State: state}, time.Minute); err != nil {
			t.Fatalf("SaveSession %q: %v", k, err)
		}
		if err := a.SetPresence(ctx, k, map[string][]byte{k: state}, time.Minute); err != nil {
			t.Fatalf("SetPresence %q: %v", k, err)
		}
	}
	for i, k := range oddNames {
		state := fmt.Sprintf(`{"key":%q}`, k)
		snap, err := b.Load(ctx, k, 0)
		if err != nil || snap.Version != versions[i] || string(snap.State) != state {
			t.Errorf("Load %q: %d %s %v; want version %d and %s", k, snap.Version, snap.State, err, versions[i], state)
		}
		j := subs[i].waitVersion(t, 0, versions[i])
		if got := subs[i].snapshot(); j != 0 || len(got) != 1 || !strings.Contains(string(got[0].Patch), fmt.Sprintf("%q", k)) {
			t.Errorf("subscriber of %q got %+v, want its own version %d only", k, got, versions[i])
		}
		rec, ok, err := b.LoadSession(ctx, k)
		if err != nil || !ok || rec.User != "user "+k || len(rec.Objects) != 1 || string(rec.Objects[k].State) != state || rec.Objects[k].Version != uint64(i+1) {
			t.Errorf("LoadSession %q: %+v %v %v", k, rec, ok, err)
		}
		p, err := b.Presence(ctx, k)
		if err != nil || len(p) != 1 || string(p[k]) != state {
			t.Errorf("Presence %q: %v %v", k, p, err)
		}
	}
}

// TestLayout pins the data layout and message format the package documents: other tools
// (and other versions of this package) read them.
func TestLayout(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := testContext(t)
	b := newBackend(t, srv.Addr(), wsredis.Options{LogLength: 3})

	ps := admin.Subscribe(ctx, "wssync:{ROOM}:changes", "wssync:presence:{lobby}:changes")
	defer ps.Close()
	for range 2 {
		if _, err := ps.Receive(ctx); err != nil { // the confirmations
			t.Fatal(err)
		}
	}
	// The first version is Redis's time in microseconds; each commit adds one.
	micros := func() uint64 {
		now, err := admin.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		return uint64(now.UnixMicro())
	}
	before := micros()
	var first uint64
	for i := 1; i <= 5; i++ {
		state := fmt.Sprintf(`{"n":%d}`, i)
		patch := fmt.Sprintf(`[{"op":"add","path":"/n","value":%d}]`, i)
		base := uint64(0)
		if i > 1 {
			base = first + uint64(i) - 2
		}
		v, err := commit(ctx, b, "ROOM", base, []byte(state), []byte(patch))
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			first = v
			if after := micros(); v < before || v > after {
				t.Errorf("first version %d, want Redis's time in µs, in [%d, %d]", v, before, after)
			}
		}
		msg, err := ps.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint(v, " ", patch); msg.Channel != "wssync:{ROOM}:changes" || msg.Payload != want {
			t.Errorf("message %q on %s, want %q", msg.Payload, msg.Channel, want)
		}
	}
	h, err := admin.HGetAll(ctx, "wssync:{ROOM}:state").Result()
	if err != nil || h["v"] != fmt.Sprint(first+4) || h["s"] != `{"n":5}` || h["f"] != fmt.Sprint(first) || h["o"] != "0" || h["t"] != "0" || len(h) != 5 {
		t.Errorf("wssync:{ROOM}:state = %v, %v; want version %d, first version %d", h, err, first+4, first)
	}
	if n, err := admin.ZCard(ctx, "wssync:{ROOM}:ids").Result(); err != nil || n != 5 {
		t.Errorf("wssync:{ROOM}:ids holds %d, %v; want the five commits' IDs", n, err)
	}
	log, err := admin.LRange(ctx, "wssync:{ROOM}:log", 0, -1).Result()
	var want []string
	for i := 5; i >= 3; i-- {
		want = append(want, fmt.Sprintf(`%d [{"op":"add","path":"/n","value":%d}]`, first+uint64(i)-1, i))
	}
	if err != nil || fmt.Sprint(log) != fmt.Sprint(want) {
		t.Errorf("wssync:{ROOM}:log = %q, %v; want %q", log, err, want)
	}

	if _, err := b.SaveSession(ctx, "S1", "alice", "VIEW", wssync.StoredObject{Version: 3, State: []byte(`{"f":"x y"}`)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	h, err = admin.HGetAll(ctx, "wssync:session:{S1}").Result()
	if err != nil || h["_user"] != "alice" || h["_gen"] != "1" || h["o:VIEW"] != `3 {"f":"x y"}` || len(h) != 3 {
		t.Errorf("wssync:session:{S1} = %v, %v", h, err)
	}
	if ttl, err := admin.PTTL(ctx, "wssync:session:{S1}").Result(); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("PTTL of the session: %v, %v", ttl, err)
	}

	if err := b.SetPresence(ctx, "lobby", map[string][]byte{"s1": []byte(`{"user":"alice"}`)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	now, err := admin.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	score, err := admin.ZScore(ctx, "wssync:presence:{lobby}:expiry", "s1").Result()
	if exp := time.UnixMilli(int64(score)); err != nil || exp.Before(now) || exp.After(now.Add(time.Minute)) {
		t.Errorf("expiry of s1: %v (%v), now %v", exp, err, now)
	}
	if data, err := admin.HGet(ctx, "wssync:presence:{lobby}:data", "s1").Result(); err != nil || data != `{"user":"alice"}` {
		t.Errorf("data of s1: %q, %v", data, err)
	}
	for _, k := range []string{"wssync:presence:{lobby}:expiry", "wssync:presence:{lobby}:data"} {
		if ttl, err := admin.PTTL(ctx, k).Result(); err != nil || ttl <= time.Minute || ttl > 2*time.Minute+time.Second {
			t.Errorf("PTTL of %s: %v, %v; want a minute past the last entry's expiry", k, ttl, err)
		}
	}
	msg, err := ps.ReceiveMessage(ctx)
	if err != nil || msg.Channel != "wssync:presence:{lobby}:changes" || msg.Payload != "set" {
		t.Errorf("presence message %+v, %v", msg, err)
	}

	keys, err := admin.Keys(ctx, "*").Result()
	if err != nil || len(keys) != 6 {
		t.Errorf("keys %q, %v; want the six above", keys, err)
	}
}

func TestPrefix(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := testContext(t)
	app1 := newBackend(t, srv.Addr(), wsredis.Options{Prefix: "app1:"})
	app2 := newBackend(t, srv.Addr(), wsredis.Options{Prefix: "app2:"})
	if err := app1.Commit(ctx, "K", wssync.Proposal{Base: 0, State: []byte(`{}`), Patch: []byte(`[]`)}); err != nil {
		t.Fatal(err)
	}
	if snap, err := app2.Load(ctx, "K", 0); err != nil || snap.Version != 0 {
		t.Errorf("another prefix sees %+v, %v", snap, err)
	}
	if n, err := admin.Exists(ctx, "app1:{K}:state").Result(); err != nil || n != 1 {
		t.Errorf("EXISTS app1:{K}:state = %d, %v", n, err)
	}

	defer func() {
		if recover() == nil {
			t.Error("New accepted a prefix with a brace")
		}
	}()
	wsredis.New(admin, wsredis.Options{Prefix: "app{1}:"})
}

func TestLogDisabled(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := testContext(t)
	b := newBackend(t, srv.Addr(), wsredis.Options{LogLength: -1})
	var versions []uint64
	v := uint64(0)
	for i := 1; i <= 3; i++ {
		var err error
		if v, err = commit(ctx, b, "K", v, fmt.Appendf(nil, `{"n":%d}`, i), []byte(`[]`)); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	snap, err := b.Load(ctx, "K", versions[0])
	if err != nil || snap.Version != versions[2] || string(snap.State) != `{"n":3}` || snap.Patches != nil {
		t.Errorf("Load(since %d) without a log = %+v, %v; want the state at version %d", versions[0], snap, err, versions[2])
	}
	if n, err := admin.Exists(ctx, "wssync:{K}:log").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS of the log: %d, %v; want 0", n, err)
	}
}

func TestBadTTL(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := testContext(t)
	b := newBackend(t, srv.Addr(), wsredis.Options{})
	if _, err := b.SaveSession(ctx, "s", "u", "k", wssync.StoredObject{}, 0); err == nil {
		t.Error("SaveSession with TTL 0: no error")
	}
	if _, err := b.TouchSession(ctx, "s", -time.Second); err == nil {
		t.Error("TouchSession with a negative TTL: no error")
	}
	if err := b.SetPresence(ctx, "r", map[string][]byte{"a": nil}, 0); err == nil {
		t.Error("SetPresence with TTL 0: no error")
	}
}

func TestLogger(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never contacted
	b := closing(t, client, wsredis.Options{})
	if l := b.Logger(); l == nil || l.Enabled(context.Background(), slog.LevelError) {
		t.Errorf("Logger() without Options.Logger = %v; want a logger that discards everything", l)
	}
	var logs logBuffer
	l := logs.logger()
	if b := closing(t, client, wsredis.Options{Logger: l}); b.Logger() != l {
		t.Error("Logger() is not Options.Logger")
	}
}

// TestRestart stops Redis under a subscribed backend, checks that commits fail while it is
// down and that the subscription retries with backoff, starts it again, and checks that
// every subscriber gets Lost and then the changes committed after it.
func TestRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := testContext(t)
	var logs logBuffer
	b := newBackend(t, srv.Addr(), wsredis.Options{MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: logs.logger()})
	other := newBackend(t, srv.Addr(), wsredis.Options{})

	before := newChanges()
	t.Cleanup(b.Subscribe("K", before.deliver))
	watched := make(chan struct{}, 16)
	t.Cleanup(b.WatchPresence("lobby", func() { watched <- struct{}{} }))
	first, err := commit(ctx, other, "K", 0, []byte(`{"n":1}`), []byte(`[]`))
	if err != nil {
		t.Fatal(err)
	}
	before.waitVersion(t, 0, first)

	srv.Stop()
	err = other.Commit(ctx, "K", wssync.Proposal{Base: first, State: []byte(`{"n":2}`), Patch: []byte(`[]`)})
	if err == nil || errors.Is(err, wssync.ErrVersionConflict) {
		t.Fatalf("Commit while Redis is down: %v; want an error other than a conflict", err)
	}
	logs.waitLog(t, "subscription connection broken", 1)
	logs.waitLog(t, "subscribing failed", 3) // retrying, with backoff

	// A subscription made while Redis is down returns at once, and gets Lost once it is
	// in place.
	during := newChanges()
	start := time.Now()
	t.Cleanup(b.Subscribe("K", during.deliver))
	if d := time.Since(start); d > waitTimeout/2 {
		t.Errorf("Subscribe while Redis is down took %v", d)
	}

	srv.Restart()
	lostBefore := before.waitLost(t, 1)
	lostDuring := during.waitLost(t, 0)
	select {
	case <-watched:
	case <-time.After(waitTimeout):
		t.Fatal("the presence watcher was not called after the restart")
	}
	logs.waitLog(t, "subscription connection restored", 1)

	// Redis came back empty: the key is created again, at a version above the old one.
	var again uint64
	wstest.EventuallyNil(t, waitTimeout, "Commit after the restart", func() error {
		again, err = commit(ctx, other, "K", 0, []byte(`{"n":"again"}`), []byte(`[{"op":"replace","path":"/n","value":"again"}]`))
		return err
	})
	if again <= first {
		t.Errorf("created again at version %d, not above %d", again, first)
	}
	before.waitVersion(t, lostBefore+1, again)
	during.waitVersion(t, lostDuring+1, again)
}

// TestHungServer freezes Redis (SIGSTOP: connections stay open, nothing answers): the
// health ping must notice, and the backend must recover once Redis runs again.
func TestHungServer(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := testContext(t)
	var logs logBuffer
	b := newBackend(t, srv.Addr(), wsredis.Options{
		HealthInterval: 50 * time.Millisecond,
		OpTimeout:      200 * time.Millisecond,
		MinBackoff:     5 * time.Millisecond,
		MaxBackoff:     50 * time.Millisecond,
		Logger:         logs.logger(),
	})
	other := newBackend(t, srv.Addr(), wsredis.Options{})
	cs := newChanges()
	t.Cleanup(b.Subscribe("K", cs.deliver))
	first, err := commit(ctx, other, "K", 0, []byte(`{}`), []byte(`[]`))
	if err != nil {
		t.Fatal(err)
	}
	cs.waitVersion(t, 0, first)

	srv.Pause()
	logs.waitLog(t, "subscription connection broken", 1)
	srv.Resume()
	lost := cs.waitLost(t, 1)
	wstest.EventuallyNil(t, waitTimeout, "Commit after Resume", func() error {
		return other.Commit(ctx, "K", wssync.Proposal{Base: first, State: []byte(`{}`), Patch: []byte(`[]`)})
	})
	cs.waitVersion(t, lost+1, first+1)
}

// TestInterruptEachChannel kills the Pub/Sub connection three times under 60 subscribers
// of 20 keys: each time every subscriber gets Lost, and then the next commit of its key.
func TestInterruptEachChannel(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := testContext(t)
	b := newBackend(t, srv.Addr(), wsredis.Options{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	other := newBackend(t, srv.Addr(), wsredis.Options{})

	// Many subscribers on many keys, several per key.
	const keys, per = 20, 3
	var all [keys][per]*changes
	for k := range keys {
		for i := range per {
			all[k][i] = newChanges()
			t.Cleanup(b.Subscribe(fmt.Sprint("K", k), all[k][i].deliver))
		}
	}
	var versions [keys]uint64
	for round := range 3 {
		if err := admin.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
			t.Fatal(err)
		}
		for k := range keys {
			for i := range per {
				all[k][i].waitLosts(t, round+1)
			}
		}
		for k := range keys {
			v, err := commit(ctx, other, fmt.Sprint("K", k), versions[k], []byte(`{}`), []byte(`[]`))
			if err != nil {
				t.Fatal(err)
			}
			versions[k] = v
		}
		for k := range keys {
			for i := range per {
				// after the round's Lost, the round's commit arrives: every channel is subscribed again
				cs := all[k][i].snapshot()
				last := 0
				for j, ch := range cs {
					if ch.Lost {
						last = j
					}
				}
				all[k][i].waitVersion(t, last+1, versions[k])
			}
		}
	}
}

// TestStopUnsubscribes checks that the last stop of a key unsubscribes its channel, and
// that subscribing again works.
func TestStopUnsubscribes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := testContext(t)
	b := newBackend(t, srv.Addr(), wsredis.Options{})
	numsub := func() int64 {
		n, err := admin.PubSubNumSub(ctx, "wssync:{K}:changes").Result()
		if err != nil {
			t.Fatal(err)
		}
		return n["wssync:{K}:changes"]
	}
	stop1 := b.Subscribe("K", func(wssync.Change) {})
	stop2 := b.Subscribe("K", func(wssync.Change) {})
	if n := numsub(); n != 1 {
		t.Errorf("two subscribers of a key: %d subscriptions in Redis, want 1 (one connection)", n)
	}
	stop1()
	stop1() // harmless
	if n := numsub(); n != 1 {
		t.Errorf("one subscriber left: %d subscriptions in Redis, want 1", n)
	}
	stop2()
	wstest.EventuallyNil(t, waitTimeout, "unsubscribe", func() error {
		if n := numsub(); n != 0 {
			return fmt.Errorf("%d subscriptions in Redis after the last stop", n)
		}
		return nil
	})
	cs := newChanges()
	t.Cleanup(b.Subscribe("K", cs.deliver))
	v, err := commit(ctx, b, "K", 0, []byte(`{}`), []byte(`[]`))
	if err != nil {
		t.Fatal(err)
	}
	cs.waitVersion(t, 0, v)
}

// claims records what a WatchClaims callback gets.
type claims struct {
	mu  sync.Mutex
	got []string // "<id>|<user>|<claimant>"
}

func (c *claims) claimed(cl wssync.SessionClaim) {
	c.mu.Lock()
	c.got = append(c.got, cl.ID+"|"+cl.User+"|"+cl.Claimant)
	c.mu.Unlock()
}

func (c *claims) has(want string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range c.got {
		if g == want {
			return nil
		}
	}
	return fmt.Errorf("no claim %q among %q", want, c.got)
}

// TestClaims checks the claims channel and its messages, that a malformed message is
// skipped, and that a watch resumes after the Pub/Sub connection was killed.
func TestClaims(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := testContext(t)
	b := newBackend(t, srv.Addr(), wsredis.Options{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	var c claims
	t.Cleanup(b.WatchClaims(c.claimed))

	ps := admin.Subscribe(ctx, "wssync:sessions:claims")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the confirmation
		t.Fatal(err)
	}
	if err := b.ClaimSession(ctx, wssync.SessionClaim{ID: "a b{c}é", User: "3 al", Claimant: "0f1e"}); err != nil {
		t.Fatal(err)
	}
	if msg, err := ps.ReceiveMessage(ctx); err != nil || msg.Payload != "8 a b{c}é4 3 al0f1e" {
		t.Errorf("message %+v, %v; want %q", msg, err, "8 a b{c}é4 3 al0f1e") // é is two bytes
	}

	// Malformed messages are skipped; the good one after them arrives alone.
	for _, m := range []string{"", "x", "5 ab", "-1 x", "1x ab", "3 abc", "3 abc2 u", "3 abc-1 u", "3 abcx u", "3 abc1 u"} {
		if err := admin.Publish(ctx, "wssync:sessions:claims", m).Err(); err != nil {
			t.Fatal(err)
		}
	}
	wstest.EventuallyNil(t, waitTimeout, "the last claim", func() error { return c.has("abc|u|") })
	c.mu.Lock()
	if want := []string{"a b{c}é|3 al|0f1e", "abc|u|"}; fmt.Sprint(c.got) != fmt.Sprint(want) {
		t.Errorf("claims %q, want %q", c.got, want)
	}
	c.mu.Unlock()

	// After the connection was killed, claims arrive again once it is back (the ones in
	// between are lost: claim until one arrives).
	if err := admin.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	wstest.EventuallyNil(t, waitTimeout, "a claim after the connection was killed", func() error {
		if err := b.ClaimSession(ctx, wssync.SessionClaim{ID: "after", User: "u", Claimant: "aa"}); err != nil {
			return err
		}
		return c.has("after|u|aa")
	})
}
