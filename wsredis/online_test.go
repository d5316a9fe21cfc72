package wsredis_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/wspresence"
	"github.com/wssync/wssync/wsredis"
	"github.com/wssync/wssync/wssynctest"
)

// onlineNodeEnv carries the Redis address to the node process of TestOnlineAfterNodeKilled.
const onlineNodeEnv = "WSSYNC_TEST_ONLINE_NODE_REDIS"

// onlineTTL is the presence TTL of both nodes of TestOnlineAfterNodeKilled.
const onlineTTL = 1500 * time.Millisecond

// TestOnlineNodeProcess is no test of its own: TestOnlineAfterNodeKilled runs this test
// binary again with onlineNodeEnv set, and this function is then a node in a process of
// its own — an Online on Redis and a Manager whose sessions it tracks, serving WebSockets
// on loopback — until the process is killed (or its stdin closes, when the parent died).
func TestOnlineNodeProcess(t *testing.T) {
	addr := os.Getenv(onlineNodeEnv)
	if addr == "" {
		t.Skip("the node process of TestOnlineAfterNodeKilled")
	}
	o, err := wspresence.NewOnline(newBackend(t, addr, wsredis.Options{}), "online", wspresence.WithTTL(onlineTTL))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		if err := o.Track(sess); err != nil {
			return err
		}
		return o.SetMeta(sess, map[string]string{"node": "child"})
	})
	srv := httptest.NewServer(http.HandlerFunc(m.ServeWS))
	defer srv.Close()
	fmt.Printf("node: ws%s\n", strings.TrimPrefix(srv.URL, "http"))
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// A node process is killed (SIGKILL: no Close, no cleanup) while a user's tab is connected
// to it. The other node's Online, reading the same redis-server, still lists the tab, with
// its meta, until the entry expires, and no longer lists it once the TTL has passed since
// the kill (plus a margin for a refresh the node had sent but Redis had not yet run);
// the surviving node's own user stays listed throughout.
func TestOnlineAfterNodeKilled(t *testing.T) {
	if os.Getenv(onlineNodeEnv) != "" {
		t.Skip("inside the node process")
	}
	t.Parallel()
	srv := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestOnlineNodeProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), onlineNodeEnv+"="+srv.Addr())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "node: "); ok {
				urls <- u
			}
		}
		exited <- cmd.Wait() // after stdout is drained, as Wait requires
	}()
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = stdin.Close()
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	var childURL string
	select {
	case childURL = <-urls:
	case err := <-exited:
		t.Fatalf("the node process exited before serving: %v", err)
	case <-ctx.Done():
		t.Fatal("the node process never served")
	}

	here, err := wspresence.NewOnline(newBackend(t, srv.Addr(), wsredis.Options{}), "online", wspresence.WithTTL(onlineTTL))
	if err != nil {
		t.Fatal(err)
	}
	defer here.Close()
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return here.Track(sess) })
	hereSrv := httptest.NewServer(http.HandlerFunc(m.ServeWS))
	defer hereSrv.Close()
	defer func() { _ = m.Shutdown(context.Background()) }()

	ada, err := wssynctest.Dial(ctx, childURL, wssynctest.WithIdentity("ada", "tab-on-child"))
	if err != nil {
		t.Fatal(err)
	}
	defer ada.Close()
	bob, err := wssynctest.Dial(ctx, "ws"+strings.TrimPrefix(hereSrv.URL, "http"), wssynctest.WithIdentity("bob", "tab-here"))
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()

	lookup := func(user string) []wspresence.Member {
		t.Helper()
		ms, err := here.Sessions(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(lookup("ada")) == 0 || len(lookup("bob")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("ada (on the node process) and bob (here) were never both online")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ms := lookup("ada"); len(ms) != 1 || ms[0].Session != "tab-on-child" || string(ms[0].Meta) != `{"node":"child"}` {
		t.Fatalf("ada's sessions %+v, want tab-on-child with its meta", ms)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed = true
	<-exited
	at := time.Now()
	// The entry was refreshed at most TTL/3 before the kill: for two thirds of the TTL
	// nobody removed it, and the lookup says so (checked only when the lookup ran that soon).
	if ms := lookup("ada"); time.Since(at) < onlineTTL*2/3 && len(ms) != 1 {
		t.Errorf("right after the kill ada's sessions are %+v: the dead node cannot have removed them", ms)
	}
	gone := time.Duration(-1)
	for time.Since(at) < onlineTTL+300*time.Millisecond {
		if gone < 0 && len(lookup("ada")) == 0 {
			gone = time.Since(at)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ms := lookup("ada"); len(ms) != 0 {
		t.Fatalf("%v after the kill (TTL %v) ada is still listed: %+v", time.Since(at), onlineTTL, ms)
	}
	if len(lookup("bob")) != 1 {
		t.Fatal("bob, on the surviving node, is no longer listed")
	}
	t.Logf("the killed node's session disappeared from lookups %v after SIGKILL (TTL %v)", gone.Round(10*time.Millisecond), onlineTTL)
}
