package wssync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wssynctest"
)

type resumeDoc struct {
	Items []int `sync:"items"`
	N     int   `sync:"n"`
}

// newResumable registers DOC in a session served on loopback.
func newResumable(t *testing.T, opts ...wssync.RegisterOption) (*wssync.Session, *wssync.Synced[resumeDoc], string) {
	t.Helper()
	sess := wssync.NewSession()
	s, err := wssync.Register(sess, "DOC", &resumeDoc{Items: []int{1, 2, 3}}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return sess, s, serve(t, sess)
}

// holdAndLeave connects a client (with opts), waits until it holds every key at the
// version published, takes what it holds, and disconnects it.
func holdAndLeave(t *testing.T, sess *wssync.Session, url string, keys map[string]func() uint64, opts ...wssynctest.DialOption) wssynctest.Held {
	t.Helper()
	c := wstest.Dial(t, url, opts...)
	for key, version := range keys {
		if _, err := c.WaitVersion(ctxT(t), key, version()); err != nil {
			t.Fatalf("waiting for %s: %v", key, err)
		}
	}
	h := c.Held()
	_ = c.Close()
	waitUntil(t, func() bool { return !sess.Connected() })
	return h
}

// resumeAnswer waits for `_RESUMED` and returns it with the types of the frames before it.
func resumeAnswer(t *testing.T, c *wssynctest.Client) (wssynctest.Resumed, []string) {
	t.Helper()
	waitType(t, c, "_RESUMED")
	r, ok := c.Resumed()
	if !ok {
		t.Fatal("no _RESUMED recorded")
	}
	var types []string
	for _, f := range c.Frames() {
		if f.Type == "_RESUMED" {
			break
		}
		types = append(types, f.Type)
	}
	return r, types
}

// assertConverged checks that the client's state of key is the server's published one.
func assertConverged(t *testing.T, c *wssynctest.Client, key string, published func() ([]byte, uint64)) {
	t.Helper()
	state, v := published()
	got, err := c.WaitVersion(ctxT(t), key, v)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(got, state) {
		t.Fatalf("client state %s, server %s", got, state)
	}
	if err := c.Errs(); err != nil {
		t.Fatal(err)
	}
}

func count(types []string, typ string) int {
	n := 0
	for _, x := range types {
		if x == typ {
			n++
		}
	}
	return n
}

// TestResumeMissedChanges: a client that missed k changes gets exactly k patches when
// they fit in the history, a _SET when they do not, and in every case the server's state.
func TestResumeMissedChanges(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		k       int
		patched bool
	}{{0, true}, {1, true}, {100, true}, {129, false}, {300, false}} {
		t.Run(fmt.Sprint(tt.k), func(t *testing.T) {
			t.Parallel()
			sess, s, url := newResumable(t, wssync.WithHistory(128, 1<<20))
			h := holdAndLeave(t, sess, url, map[string]func() uint64{"DOC": s.Version})
			for i := range tt.k {
				if err := s.Update(func(d *resumeDoc) { d.N++; d.Items = append(d.Items, i) }); err != nil {
					t.Fatal(err)
				}
			}
			c := wstest.Dial(t, url, wssynctest.WithResume(h))
			r, types := resumeAnswer(t, c)
			if tt.patched {
				if !slices.Equal(r.Patched, []string{"DOC"}) || len(r.Set) != 0 || count(types, "_PATCH:DOC") != tt.k || count(types, "_SET:DOC") != 0 {
					t.Fatalf("_RESUMED %+v after %v; want %d patches", r, types, tt.k)
				}
			} else if !slices.Equal(r.Set, []string{"DOC"}) || count(types, "_SET:DOC") != 1 || count(types, "_PATCH:DOC") != 0 {
				t.Fatalf("_RESUMED %+v after %v; want one _SET", r, types)
			}
			assertConverged(t, c, "DOC", s.Published)
			// Patches published from now on reach the resumed client.
			_ = s.Update(func(d *resumeDoc) { d.N = -1 })
			assertConverged(t, c, "DOC", s.Published)
		})
	}
}

// TestResumeRefusesWhatWasNeverPublished: another epoch, a version from the future, a
// key left out, a malformed entry: each gets a _SET, never a patch.
func TestResumeRefusesWhatWasNeverPublished(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		edit func(wssynctest.Held)
	}{
		{"other epoch", func(h wssynctest.Held) { k := h["DOC"]; k.Epoch = "b1"; h["DOC"] = k }},
		{"future version", func(h wssynctest.Held) { k := h["DOC"]; k.V += 5; h["DOC"] = k }},
		{"huge version", func(h wssynctest.Held) { k := h["DOC"]; k.V = 1<<64 - 1; h["DOC"] = k }},
		{"not listed", func(h wssynctest.Held) { delete(h, "DOC") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sess, s, url := newResumable(t)
			h := holdAndLeave(t, sess, url, map[string]func() uint64{"DOC": s.Version})
			_ = s.Update(func(d *resumeDoc) { d.N = 7 })
			tt.edit(h)
			if _, ok := h["DOC"]; !ok {
				h["OTHER"] = wssynctest.HeldKey{State: []byte(`{}`), V: 1, Epoch: "x"}
			}
			c := wstest.Dial(t, url, wssynctest.WithResume(h))
			r, types := resumeAnswer(t, c)
			if !slices.Equal(r.Set, []string{"DOC"}) || count(types, "_PATCH:DOC") != 0 {
				t.Fatalf("_RESUMED %+v after %v; want a _SET", r, types)
			}
			assertConverged(t, c, "DOC", s.Published)
		})
	}
}

// TestResumeMalformed: _RESUME data of the wrong shape is refused with bad_data, and the
// client still gets every key's _SET and _RESUMED.
func TestResumeMalformed(t *testing.T) {
	t.Parallel()
	for _, data := range []string{`[]`, `"x"`, `null`, `{"DOC":{"v":1,"epoch":"e"},"A":{},"B":{}}`} {
		t.Run(data, func(t *testing.T) {
			t.Parallel()
			_, _, url := newResumable(t)
			raw := resumingDial(t, url)
			if err := raw.WriteMessage(1, []byte(`{"type":"_RESUME","data":`+data+`}`)); err != nil {
				t.Fatal(err)
			}
			types := readTypes(t, raw, "_RESUMED")
			if !strings.Contains(types, "_ERROR") || !strings.Contains(types, "_SET:DOC") {
				t.Fatalf("frames %s; want _ERROR, _SET:DOC, _RESUMED", types)
			}
		})
	}
}

// TestResumeOnlyFirstFrame: a client without the subprotocol gets its _SETs at connect,
// as ws-sync-react does, and a _RESUME from it is refused; a resuming client whose first
// frame is something else gets the _SETs, then that frame is handled.
func TestResumeOnlyFirstFrame(t *testing.T) {
	t.Parallel()
	t.Run("no subprotocol", func(t *testing.T) {
		t.Parallel()
		_, _, url := newResumable(t)
		c := dial(t, url)
		waitType(t, c, "_SET:DOC")
		if err := c.SendRaw([]byte(`{"type":"_RESUME","data":{}}`)); err != nil {
			t.Fatal(err)
		}
		if e := errorOf(t, waitType(t, c, "_ERROR")); e.Code != wssync.CodeBadData {
			t.Fatalf("code %q", e.Code)
		}
		if slices.ContainsFunc(c.Frames(), func(f wssynctest.Frame) bool { return f.Type == "_RESUMED" }) {
			t.Fatal("a client that did not resume got _RESUMED")
		}
	})
	t.Run("other first frame", func(t *testing.T) {
		t.Parallel()
		_, _, url := newResumable(t)
		raw := resumingDial(t, url)
		if err := raw.WriteMessage(1, []byte(`{"type":"_NOPE"}`)); err != nil {
			t.Fatal(err)
		}
		if types := readTypes(t, raw, "_ERROR"); types != "_SET:DOC _ERROR" {
			t.Fatalf("frames %s; want _SET:DOC _ERROR", types)
		}
	})
}

// TestResumeHoldTimesOut: a resuming client that sends nothing gets its _SETs after the
// handshake timeout, behind a Manager's _USER_SESSION handshake.
func TestResumeHoldTimesOut(t *testing.T) {
	t.Parallel()
	m := wssync.NewManager(func(_ context.Context, sess *wssync.Session) error {
		_, err := wssync.Register(sess, "DOC", &resumeDoc{})
		return err
	}, wssync.WithManagerLimits(wssync.ManagerLimits{HandshakeTimeout: 200 * time.Millisecond}))
	url := serveManager(t, m)
	raw := resumingDial(t, url)
	if types := readTypes(t, raw, "_REQUEST_USER_SESSION"); types != "_REQUEST_USER_SESSION" {
		t.Fatalf("frames %s", types)
	}
	if err := raw.WriteMessage(1, []byte(`{"type":"_USER_SESSION","data":{"user":"u","session":"s"}}`)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if types := readTypes(t, raw, "_SET:DOC"); types != "_SET:DOC" {
		t.Fatalf("frames %s", types)
	}
	if time.Since(start) < 150*time.Millisecond {
		t.Fatal("the state came before the hold ended")
	}
}

// TestResumeThroughManager: the resume follows the _USER_SESSION handshake, and a session
// rebuilt (a new object instance, as on another node) never matches the old epoch.
func TestResumeThroughManager(t *testing.T) {
	t.Parallel()
	docs := make(chan *wssync.Synced[resumeDoc], 2)
	m := wssync.NewManager(func(_ context.Context, sess *wssync.Session) error {
		s, err := wssync.Register(sess, "DOC", &resumeDoc{})
		docs <- s
		return err
	})
	url := serveManager(t, m)
	c := wstest.Dial(t, url, wssynctest.WithIdentity("ann", "s1"))
	waitType(t, c, "_SET:DOC")
	s := <-docs
	h := c.Held()
	_ = c.Close()
	wstest.Eventually(t, "disconnect", func() bool { return m.Stats().Connections == 0 })
	_ = s.Update(func(d *resumeDoc) { d.N = 1 })

	c2 := wstest.Dial(t, url, wssynctest.WithIdentity("ann", "s1"), wssynctest.WithResume(h))
	r, types := resumeAnswer(t, c2)
	if !slices.Equal(r.Patched, []string{"DOC"}) || count(types, "_PATCH:DOC") != 1 {
		t.Fatalf("_RESUMED %+v after %v", r, types)
	}
	assertConverged(t, c2, "DOC", s.Published)

	// Another session (as if rebuilt elsewhere) has another epoch: a _SET.
	c3 := wstest.Dial(t, url, wssynctest.WithIdentity("ann", "s2"), wssynctest.WithResume(c2.Held()))
	r, _ = resumeAnswer(t, c3)
	if !slices.Equal(r.Set, []string{"DOC"}) {
		t.Fatalf("_RESUMED %+v: a new object's epoch matched", r)
	}
}

// TestResumeViewsGetSet: an object with views keeps no history, so it is always _SET.
func TestResumeViewsGetSet(t *testing.T) {
	t.Parallel()
	shared, err := wssync.NewShared("TEAM", &resumeDoc{}, wssync.WithViews(func(wssync.Identity) string { return "all" }, wssync.View{Name: "all"}))
	if err != nil {
		t.Fatal(err)
	}
	sess := wssync.NewSession()
	if err := shared.Join(sess); err != nil {
		t.Fatal(err)
	}
	url := serve(t, sess)
	h := holdAndLeave(t, sess, url, map[string]func() uint64{"TEAM": shared.Version})
	if h["TEAM"].Epoch == "" {
		t.Fatal("a view's _SET carries no epoch")
	}
	_ = shared.Update(func(d *resumeDoc) { d.N = 3 })
	c := wstest.Dial(t, url, wssynctest.WithResume(h))
	r, _ := resumeAnswer(t, c)
	if !slices.Equal(r.Set, []string{"TEAM"}) {
		t.Fatalf("_RESUMED %+v", r)
	}
	assertConverged(t, c, "TEAM", shared.Published)
}

// resumingDial opens a raw connection that offers the subprotocol wssync.resume.
func resumingDial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	return wstest.RawDial(t, url, http.Header{"Sec-WebSocket-Protocol": {"wssync, wssync.resume"}})
}

// readTypes reads frames from ws until one of type until, and returns their types, space
// separated.
func readTypes(t *testing.T, ws *websocket.Conn, until string) string {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(wstest.Timeout))
	var types []string
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after %v: %v", types, err)
		}
		var f struct{ Type string }
		_ = json.Unmarshal(data, &f)
		types = append(types, f.Type)
		if f.Type == until {
			return strings.Join(types, " ")
		}
	}
}

// TestResumeProperty: whatever versions and epochs a client names, with the state it
// holds at that version, it ends in the server's state, with no protocol violation, and
// with patches only for a version the server published in that epoch and still holds.
func TestResumeProperty(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 11))
	sess, s, url := newResumable(t, wssync.WithHistory(8, 4096))
	states := map[uint64][]byte{}
	record := func() {
		st, v := s.Published()
		states[v] = st
	}
	record()
	for round := range 40 {
		h := holdAndLeave(t, sess, url, map[string]func() uint64{"DOC": s.Version})
		for range r.IntN(12) {
			_ = s.Update(func(d *resumeDoc) {
				switch r.IntN(3) {
				case 0:
					d.Items = append(d.Items, r.IntN(100))
				case 1:
					if len(d.Items) > 0 {
						d.Items = d.Items[r.IntN(len(d.Items)):]
					}
				default:
					d.N = r.IntN(1000)
				}
			})
			record()
		}
		k := h["DOC"]
		cur := s.Version()
		switch r.IntN(4) {
		case 0: // an older version the client held once
			if v := k.V - uint64(r.IntN(int(k.V)+1)); states[v] != nil {
				k.V, k.State = v, states[v]
			}
		case 1: // a version from the future
			k.V = cur + 1 + uint64(r.IntN(1000))
		case 2:
			k.Epoch = fmt.Sprint(r.Uint64())
		}
		h["DOC"] = k
		c := wstest.Dial(t, url, wssynctest.WithResume(h))
		res, types := resumeAnswer(t, c)
		if slices.Contains(res.Patched, "DOC") && count(types, "_PATCH:DOC") != int(cur-k.V) {
			t.Fatalf("round %d: %d patches from %d to %d", round, count(types, "_PATCH:DOC"), k.V, cur)
		}
		if slices.Contains(res.Patched, "DOC") && (k.V > cur || cur-k.V > 8) {
			t.Fatalf("round %d: patched from %d to %d, beyond the history", round, k.V, cur)
		}
		assertConverged(t, c, "DOC", s.Published)
		_ = c.Close()
		waitUntil(t, func() bool { return !sess.Connected() })
	}
}

// TestResumeWrongTypes: an entry of the wrong shape (a string version, a numeric epoch, a
// negative or fractional version) counts as not listed: its key gets a _SET, with no
// refusal, and the client converges.
func TestResumeWrongTypes(t *testing.T) {
	t.Parallel()
	for _, entry := range []string{`{"v":"0","epoch":"e"}`, `{"v":0,"epoch":5}`, `{"v":-1,"epoch":"e"}`, `{"v":0.5,"epoch":"e"}`, `{"v":0}`, `[]`, `7`} {
		t.Run(entry, func(t *testing.T) {
			t.Parallel()
			_, _, url := newResumable(t)
			raw := resumingDial(t, url)
			if err := raw.WriteMessage(1, []byte(`{"type":"_RESUME","data":{"DOC":`+entry+`}}`)); err != nil {
				t.Fatal(err)
			}
			if types := readTypes(t, raw, "_RESUMED"); types != "_SET:DOC _RESUMED" {
				t.Fatalf("frames %s; want _SET:DOC _RESUMED", types)
			}
		})
	}
}

// TestResumeBacklogAfterState: addressed messages kept for a disconnected session, and
// those sent while a resuming connection waits for its `_RESUME`, reach the client after
// `_RESUMED`, in the order they were sent.
func TestResumeBacklogAfterState(t *testing.T) {
	t.Parallel()
	bus := wsmemory.New()
	a, url := roomNode(t, bus)
	c := joined(t, url, "alice", "tab-1")
	h := c.Held()
	sess, _ := a.Session("tab-1")
	sess.Disconnect()
	wstest.WaitClosed(t, c)
	wstest.Eventually(t, "the session is disconnected", func() bool { return !sess.Connected() })
	ctx := wstest.Context(t)
	to := wssync.ToUser("alice")
	if _, err := a.Send(ctx, to, mustEvent(t, "kept", 1)); err != nil {
		t.Fatal(err)
	}
	// A resuming connection that has not sent _RESUME yet: the messages wait for it.
	raw := wstest.RawDial(t, url, http.Header{"Sec-WebSocket-Protocol": {"wssync, wssync.resume"}})
	if types := readTypes(t, raw, "_REQUEST_USER_SESSION"); types != "_REQUEST_USER_SESSION" {
		t.Fatalf("frames %s", types)
	}
	if err := raw.WriteMessage(1, []byte(`{"type":"_USER_SESSION","data":{"user":"alice","session":"tab-1"}}`)); err != nil {
		t.Fatal(err)
	}
	wstest.Eventually(t, "the session is connected", sess.Connected)
	if _, err := a.Send(ctx, to, mustEvent(t, "kept", 2)); err != nil {
		t.Fatal(err)
	}
	k := h["ROOM"]
	msg := fmt.Sprintf(`{"type":"_RESUME","data":{"ROOM":{"v":%d,"epoch":%q}}}`, k.V, k.Epoch)
	if err := raw.WriteMessage(1, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if types := readTypes(t, raw, "kept"); !strings.HasSuffix(types, "_RESUMED kept") {
		t.Fatalf("frames %s; want _RESUMED, then the backlog", types)
	}
	if types := readTypes(t, raw, "kept"); types != "kept" {
		t.Fatalf("frames %s; want the second message", types)
	}
}
