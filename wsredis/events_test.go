package wsredis_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsredis"
	"github.com/wssync/wssync/wssynctest"
)

// eventRoom is the shared object the sessions of the event tests join: a room.
type eventRoom struct {
	Topic string   `sync:"topic"`
	Notes []string `sync:"notes"`
}

// eventNode is one wssync process: a Manager on a Backend of its own (session store and
// event bus), serving ROOM, attached to the same Backend, on a loopback HTTP server.
type eventNode struct {
	b   *wsredis.Backend
	m   *wssync.Manager
	url string
}

// fastClient is a client whose timeouts (300 ms) are well below the faults' durations
// and which does not retry a failed command, as faultNodes has.
func fastClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:         addr,
		DialTimeout:  300 * time.Millisecond,
		ReadTimeout:  300 * time.Millisecond,
		WriteTimeout: 300 * time.Millisecond,
		PoolTimeout:  300 * time.Millisecond,
		MaxRetries:   -1,
	})
}

var fastOptions = wsredis.Options{
	OpTimeout: 300 * time.Millisecond, HealthInterval: 300 * time.Millisecond,
	MinBackoff: 20 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
}

func newEventNodes(t *testing.T, srv *redistest.Server, n int) []*eventNode {
	t.Helper()
	var nodes []*eventNode
	for range n {
		b := closing(t, fastClient(srv.Addr()), fastOptions)
		room, err := wssync.NewShared("ROOM", &eventRoom{Topic: "events"}, wssync.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(room.Unregister)
		m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return room.Join(sess) },
			wssync.WithSessionStore(b), wssync.WithEventBus(b))
		url := wstest.Serve(t, http.HandlerFunc(m.ServeWS))
		t.Cleanup(func() { // before the server closes
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if err := m.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
		nodes = append(nodes, &eventNode{b: b, m: m, url: url})
	}
	return nodes
}

// tab dials node as user/session and waits until it holds the room.
func (n *eventNode) tab(t *testing.T, user, session string) *wssynctest.Client {
	t.Helper()
	c := wstest.Dial(t, n.url, wssynctest.WithIdentity(user, session))
	wstest.WaitType(t, c, "_SET:ROOM")
	return c
}

// received returns the data of every frame of type typ c received, in order.
func received(c *wssynctest.Client, typ string) []string {
	var out []string
	for _, f := range c.Frames() {
		if f.Type == typ {
			out = append(out, string(f.Data))
		}
	}
	return out
}

func event(t testing.TB, name string, data any) wssync.Message {
	t.Helper()
	m, err := wssync.NewEvent(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// settle sends a marker from send to everyone and waits until every client got it: a
// message from the same sender sent before it has arrived, or never will.
func settle(t *testing.T, send func(wssync.Target, wssync.Message) error, clients map[string]*wssynctest.Client) {
	t.Helper()
	id := rand.Text() // the marker's data, to tell markers apart
	if err := send(wssync.ToEveryone(), event(t, "marker", id)); err != nil {
		t.Fatal(err)
	}
	want := strconv.Quote(id)
	for name, c := range clients {
		wstest.Eventually(t, name+" got the marker", func() bool {
			return slices.Contains(received(c, "marker"), want)
		})
	}
}

// TestEventsAcrossThreeNodes: three nodes on one redis-server, a user with tabs on two of
// them, a room with members on all three, and a worker that is a separate OS process with
// only a Publisher and UpdateShared.
func TestEventsAcrossThreeNodes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	nodes := newEventNodes(t, srv, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	tab1, tab2 := a.tab(t, "alice", "alice-1"), b.tab(t, "alice", "alice-2")
	bob, carol, dave := b.tab(t, "bob", "bob-1"), c.tab(t, "carol", "carol-1"), a.tab(t, "dave", "dave-1")
	everyone := map[string]*wssynctest.Client{"alice-1": tab1, "alice-2": tab2, "bob": bob, "carol": carol, "dave": dave}
	ctx := testContext(t)
	from := func(n *eventNode) func(wssync.Target, wssync.Message) error {
		return func(to wssync.Target, m wssync.Message) error { _, err := n.m.Send(ctx, to, m); return err }
	}

	t.Run("ToUser", func(t *testing.T) {
		d, err := c.m.Send(ctx, wssync.ToUser("alice"), event(t, "hello", 1))
		if err != nil || d.Nodes != 2 || d.Sessions() != 0 {
			t.Fatalf("delivery from a node without alice: %+v, %v; want no session here and 2 other nodes", d, err)
		}
		settle(t, from(c), everyone)
		for name, cl := range everyone {
			want := 0
			if strings.HasPrefix(name, "alice") {
				want = 1
			}
			if got := received(cl, "hello"); len(got) != want {
				t.Errorf("%s got %q, want %d", name, got, want)
			}
		}
	})

	t.Run("ToRoomExceptTheSender", func(t *testing.T) {
		toast, err := wssync.NewToast(wssync.ToastInfo, "bob added a note")
		if err != nil {
			t.Fatal(err)
		}
		d, err := b.m.Send(ctx, wssync.ToSubscribers("ROOM").Except("bob-1"), toast)
		if err != nil || d.Delivered != 1 || d.Nodes != 2 {
			t.Fatalf("delivery %+v, %v; want alice-2 here and 2 other nodes", d, err)
		}
		settle(t, from(b), everyone)
		for name, cl := range everyone {
			want := 1
			if name == "bob" {
				want = 0
			}
			if got := received(cl, "_TOAST"); len(got) != want {
				t.Errorf("%s got %q, want %d", name, got, want)
			}
		}
	})

	t.Run("WorkerProcess", func(t *testing.T) {
		out := runWorker(t, srv.Addr())
		if out.User.Nodes != 3 || out.Room.Nodes != 3 || out.Err != "" {
			t.Fatalf("worker: %+v; want each send handed to the 3 nodes", out)
		}
		for name, cl := range everyone {
			wantJob := 0
			if strings.HasPrefix(name, "alice") {
				wantJob = 1
			}
			wstest.Eventually(t, name+" got the worker's room event and state", func() bool {
				var room eventRoom
				return len(received(cl, "room_event")) == 1 && cl.Decode("ROOM", &room) == nil &&
					len(room.Notes) == 1 && room.Notes[0] == "from the worker"
			})
			if got := received(cl, "job_done"); len(got) != wantJob {
				t.Errorf("%s got job_done %q, want %d", name, got, wantJob)
			}
			if _, v, _ := cl.State("ROOM"); v != out.Version {
				t.Errorf("%s holds ROOM at version %d, the worker made %d", name, v, out.Version)
			}
		}
	})

	t.Run("OrderOf1000", func(t *testing.T) {
		const n = 1000
		for i := range n {
			if _, err := c.m.Send(ctx, wssync.ToSubscribers("ROOM"), event(t, "seq", i)); err != nil {
				t.Fatal(err)
			}
		}
		for name, cl := range everyone {
			wstest.EventuallyNil(t, 6*waitTimeout, name+" got every event", func() error {
				if got := len(received(cl, "seq")); got < n {
					return fmt.Errorf("%d of %d", got, n)
				}
				return nil
			})
			for i, s := range received(cl, "seq") {
				if s != strconv.Itoa(i) {
					t.Fatalf("%s: event %d is %s: out of order", name, i, s)
				}
			}
		}
		for i, nd := range nodes {
			if st := nd.m.Stats(); st.SlowCloses != 0 || st.MessagesDuplicate != 0 {
				t.Errorf("node %d: %+v", i, st)
			}
		}
	})
}

// workerResult is what the worker process reports on its standard output.
type workerResult struct {
	User, Room wssync.Delivery
	Version    uint64
	Err        string
}

const workerEnv = "WSREDIS_TEST_WORKER_ADDR"

// runWorker runs TestEventWorkerProcess in a child process of this test binary against
// the server at addr and returns what it reports.
func runWorker(t *testing.T, addr string) workerResult {
	t.Helper()
	cmd := exec.CommandContext(testContext(t), os.Args[0], "-test.run=^TestEventWorkerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), workerEnv+"="+addr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("worker process: %v\n%s\n%s", err, stdout, stderr.Bytes())
	}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "worker-result "); ok {
			var r workerResult
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	t.Fatalf("the worker reported nothing:\n%s\n%s", stdout, stderr.Bytes())
	return workerResult{}
}

// TestEventWorkerProcess is the worker of TestEventsAcrossThreeNodes, run in a process of
// its own: no Manager, no shared object, only a Publisher and UpdateShared on a client.
func TestEventWorkerProcess(t *testing.T) {
	addr := os.Getenv(workerEnv)
	if addr == "" {
		t.Skip("the worker process of TestEventsAcrossThreeNodes")
	}
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	ctx := testContext(t)
	pub := wsredis.NewPublisher(client, wsredis.Options{})
	var r workerResult
	var err error
	if r.User, err = pub.Send(ctx, wssync.ToUser("alice"), event(t, "job_done", "report.pdf")); err == nil {
		if r.Room, err = pub.Send(ctx, wssync.ToSubscribers("ROOM"), event(t, "room_event", "hi")); err == nil {
			r.Version, err = wssync.UpdateShared(ctx, wsredis.New(client, wsredis.Options{}), "ROOM", func(room *eventRoom) error {
				room.Notes = append(room.Notes, "from the worker")
				return nil
			})
		}
	}
	if err != nil {
		r.Err = err.Error()
	}
	b, _ := json.Marshal(r)
	fmt.Printf("worker-result %s\n", b)
}

// TestNewPublisherStartsNothing: the publisher holds no subscription and runs no
// goroutine of this package; PUBLISH counts the nodes that subscribe.
func TestNewPublisherStartsNothing(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := testContext(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer client.Close()
	pub := wsredis.NewPublisher(client, wsredis.Options{Prefix: "pub:"})
	d, err := pub.Send(ctx, wssync.ToEveryone(), event(t, "nobody", nil))
	if err != nil || d.Nodes != 0 {
		t.Fatalf("send with no node: %+v, %v", d, err)
	}
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "wsredis.(*hub)") {
		t.Errorf("a publisher started the subscription goroutine:\n%s", stacks)
	}
	if n, err := admin.PubSubNumSub(ctx, "pub:events").Result(); err != nil || n["pub:events"] != 0 {
		t.Errorf("subscribers of pub:events: %v, %v; want none", n, err)
	}
	// Two Backends with event subscriptions: PUBLISH reaches 2.
	for range 2 {
		b := newBackend(t, srv.Addr(), wsredis.Options{Prefix: "pub:"})
		t.Cleanup(b.SubscribeEvents(func([]byte) {}))
	}
	if d, err := pub.Send(ctx, wssync.ToEveryone(), event(t, "two", nil)); err != nil || d.Nodes != 2 {
		t.Errorf("send to two nodes: %+v, %v", d, err)
	}
}
