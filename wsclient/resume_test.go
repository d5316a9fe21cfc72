package wsclient_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsclient"
)

// frameCounter counts the text frames the proxy relays from the server, by type.
type frameCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func countFrames(p *proxy) *frameCounter {
	fc := &frameCounter{n: map[string]int{}}
	p.setDrop(func(data []byte) bool {
		var f struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(data, &f) == nil {
			fc.mu.Lock()
			fc.n[f.Type]++
			fc.mu.Unlock()
		}
		return false
	})
	return fc
}

func (fc *frameCounter) reset() {
	fc.mu.Lock()
	fc.n = map[string]int{}
	fc.mu.Unlock()
}

func (fc *frameCounter) get(typ string) int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.n[typ]
}

// outage cuts the client's connection, keeps the proxy down while during runs (the server
// changes meanwhile), and lets the client back in.
func outage(t *testing.T, p *proxy, fc *frameCounter, during func()) {
	p.setDown(true)
	p.cut()
	// Every relay has ended, so no frame of the old connection is counted after the reset.
	wstest.Eventually(t, "the relays to end", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.conns) == 0
	})
	during()
	fc.reset()
	p.setDown(false)
}

// waitResumes waits until the client has received n `_RESUMED` answers and returns the last.
func waitResumes(t *testing.T, c *wsclient.Client, n int) wsclient.Resumed {
	t.Helper()
	wstest.Eventually(t, "_RESUMED answers", func() bool {
		_, got := c.LastResumed()
		return got >= n
	})
	r, _ := c.LastResumed()
	return r
}

func bump(t *testing.T, s *server, n int) {
	t.Helper()
	for range n {
		must(t, s.share.Update(func(b *Board) { b.Count++ }))
	}
}

// A reconnect within the history resumes: the server sends exactly the missed patches and
// no _SET, and the bound value is the server's.
func TestResumeSendsOnlyMissedPatches(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	p := newProxy(t, s.url)
	fc := countFrames(p)
	c := dial(t, p.url)
	b := bindBoard(t, c)
	waitBoard(t, b, "first state", nil)
	if r := waitResumes(t, c, 1); !slices.Equal(r.Set, []string{"BOARD"}) || len(r.Patched) != 0 {
		t.Fatalf("first connect: %+v, want BOARD set (the client held nothing)", r)
	}
	outage(t, p, fc, func() { bump(t, s, 3) })
	r := waitResumes(t, c, 2)
	if !slices.Equal(r.Patched, []string{"BOARD"}) || len(r.Set) != 0 {
		t.Fatalf("resume: %+v, want BOARD patched", r)
	}
	got := waitBoard(t, b, "resumed state", func(v board) bool { return v.Count == 3 })
	if got.Title != "start" {
		t.Fatalf("state %+v", got)
	}
	if n := fc.get("_SET:BOARD"); n != 0 {
		t.Fatalf("%d _SET:BOARD frames on a resumed connection, want 0", n)
	}
	if n := fc.get("_PATCH:BOARD"); n != 3 {
		t.Fatalf("%d _PATCH:BOARD frames, want the 3 missed", n)
	}
	if !b.Live() {
		t.Fatal("binding not live after _RESUMED")
	}
	// The key is writable again, on the resumed base.
	must(t, b.Update(wstest.Context(t), func(v *board) { v.Title = "resumed" }))
	wstest.Eventually(t, "the write on the server", func() bool {
		var title string
		s.share.Read(func(b *Board) { title = b.Title })
		return title == "resumed"
	})
}

// A new server incarnation (another process, same key) has another epoch: the client's
// versions mean nothing there, and it gets a _SET.
func TestResumeAcrossEpochsGetsASet(t *testing.T) {
	t.Parallel()
	s1, s2 := newServer(t), newServer(t)
	s2.obj.Title = "other"
	bump(t, s2, 1) // s2's BOARD has a version s1's client may also hold
	p := newProxy(t, s1.url)
	fc := countFrames(p)
	c := dial(t, p.url)
	b := bindBoard(t, c)
	waitBoard(t, b, "first state", nil)
	bump(t, s1, 1)
	waitBoard(t, b, "s1 patched", func(v board) bool { return v.Count == 1 })
	waitResumes(t, c, 1)
	outage(t, p, fc, func() { p.setUpstream(s2.url) })
	r := waitResumes(t, c, 2)
	if !slices.Equal(r.Set, []string{"BOARD"}) || len(r.Patched) != 0 {
		t.Fatalf("resume on another epoch: %+v, want BOARD set", r)
	}
	waitBoard(t, b, "s2 state", func(v board) bool { return v.Title == "other" && v.Count == 1 })
	if n := fc.get("_SET:BOARD"); n != 1 {
		t.Fatalf("%d _SET:BOARD frames, want 1", n)
	}
}

// A client that missed more patches than the server's history keeps gets a _SET.
func TestResumeBeyondHistoryGetsASet(t *testing.T) {
	t.Parallel()
	s := newServerWith(t, []wssync.RegisterOption{wssync.WithHistory(2, 1<<20)})
	p := newProxy(t, s.url)
	fc := countFrames(p)
	c := dial(t, p.url)
	b := bindBoard(t, c)
	waitBoard(t, b, "first state", nil)
	waitResumes(t, c, 1)
	outage(t, p, fc, func() { bump(t, s, 5) })
	r := waitResumes(t, c, 2)
	if !slices.Equal(r.Set, []string{"BOARD"}) || len(r.Patched) != 0 {
		t.Fatalf("resume beyond history: %+v, want BOARD set", r)
	}
	waitBoard(t, b, "state", func(v board) bool { return v.Count == 5 })
	if n, np := fc.get("_SET:BOARD"), fc.get("_PATCH:BOARD"); n != 1 || np != 0 {
		t.Fatalf("%d _SET:BOARD and %d _PATCH:BOARD frames, want 1 and 0", n, np)
	}
}

// WithoutResume: no _RESUME, so every reconnect is a _SET and no _RESUMED comes.
func TestWithoutResumeReconnectsWithASet(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	p := newProxy(t, s.url)
	fc := countFrames(p)
	c := dial(t, p.url, wsclient.WithoutResume())
	b := bindBoard(t, c)
	waitBoard(t, b, "first state", nil)
	outage(t, p, fc, func() { bump(t, s, 2) })
	waitBoard(t, b, "state", func(v board) bool { return v.Count == 2 })
	if n := fc.get("_SET:BOARD"); n != 1 {
		t.Fatalf("%d _SET:BOARD frames, want 1", n)
	}
	if _, n := c.LastResumed(); n != 0 || fc.get("_RESUMED") != 0 {
		t.Fatalf("%d _RESUMED without resume", n)
	}
}

// A server without the identification handshake (one Session) takes `_RESUME` as the
// first frame of the connection.
func TestResumeWithoutHandshake(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	t.Cleanup(sess.Close)
	obj := &Board{Title: "solo"}
	share, err := wssync.Register(sess, "BOARD", obj)
	must(t, err)
	p := newProxy(t, wstest.Serve(t, http.HandlerFunc(sess.ServeWS)))
	fc := countFrames(p)
	c := dial(t, p.url)
	b := bindBoard(t, c)
	waitBoard(t, b, "first state", nil)
	waitResumes(t, c, 1)
	outage(t, p, fc, func() {
		must(t, share.Update(func(b *Board) { b.Count = 7 }))
	})
	if r := waitResumes(t, c, 2); !slices.Equal(r.Patched, []string{"BOARD"}) {
		t.Fatalf("resume: %+v, want BOARD patched", r)
	}
	waitBoard(t, b, "resumed", func(v board) bool { return v.Count == 7 })
	if n := fc.get("_SET:BOARD"); n != 0 {
		t.Fatalf("%d _SET:BOARD frames, want 0", n)
	}
}

// A key the client wrote since its last _SET is not resumed: the write was applied locally
// at once and may not have reached the server, so the key gets a _SET.
func TestResumeAfterALocalWriteGetsASet(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	p := newProxy(t, s.url)
	fc := countFrames(p)
	c := dial(t, p.url)
	b := bindBoard(t, c)
	waitBoard(t, b, "first state", nil)
	waitResumes(t, c, 1)
	must(t, b.Update(wstest.Context(t), func(v *board) { v.Title = "mine" }))
	outage(t, p, fc, func() { bump(t, s, 1) })
	if r := waitResumes(t, c, 2); !slices.Equal(r.Set, []string{"BOARD"}) || len(r.Patched) != 0 {
		t.Fatalf("resume after a write: %+v, want BOARD set", r)
	}
	waitBoard(t, b, "state", func(v board) bool { return v.Count == 1 })
	if n := fc.get("_SET:BOARD"); n != 1 {
		t.Fatalf("%d _SET:BOARD frames, want 1", n)
	}
}
