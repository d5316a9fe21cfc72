package wssync_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

type RenameParams struct {
	Index int    `json:"index"`
	Text  string `json:"text"`
	Note  *string
}

func (p RenameParams) Validate() error {
	if p.Text == "" {
		return &wssync.FieldError{Path: "/text", Message: "text must not be empty"}
	}
	return nil
}

type actionFixture struct {
	s     *wssync.Synced[Notes]
	notes *Notes
	c     *wssynctest.Client
	calls *int
}

func newActions(t *testing.T) actionFixture {
	t.Helper()
	sess := wssync.NewSession()
	notes := &Notes{Title: "t", Notes: []string{"a", "b"}}
	s, err := wssync.Register(sess, "NOTES", notes)
	if err != nil {
		t.Fatal(err)
	}
	calls := new(int)
	err = wssync.Action(s, "rename", func(ctx context.Context, p RenameParams) error {
		*calls++
		if p.Index < 0 || p.Index >= len(notes.Notes) {
			return fmt.Errorf("no note %d", p.Index)
		}
		s.Lock()
		notes.Notes[p.Index] = p.Text
		s.Unlock()
		return nil // no Sync: the library syncs after the action
	})
	if err != nil {
		t.Fatal(err)
	}
	err = wssync.ActionResult(s, "count", func(ctx context.Context, p struct{}) (int, error) {
		s.RLock()
		defer s.RUnlock()
		return len(notes.Notes), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = wssync.Action(s, "boom", func(ctx context.Context, p struct{}) error { panic("kaboom") })
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:NOTES")
	return actionFixture{s, notes, c, calls}
}

func TestActionRunsAndSyncs(t *testing.T) {
	t.Parallel()
	f := newActions(t)
	_ = f.c.Send("_ACTION:NOTES", map[string]any{"type": "rename", "index": 1, "text": "B"})
	p := waitType(t, f.c, "_PATCH:NOTES")
	if string(p.Data) != `[{"op":"replace","path":"/notes/1","value":"B"}]` {
		t.Fatalf("patch %s", p.Data)
	}
}

func TestActionResult(t *testing.T) {
	t.Parallel()
	f := newActions(t)
	_ = f.c.SendFrame(map[string]any{"type": "_ACTION:NOTES", "id": "q1", "data": map[string]any{"type": "count"}})
	r := waitType(t, f.c, "_RESULT")
	if r.ID != "q1" || string(r.Data) != "2" || r.Error != nil {
		t.Fatalf("result %+v", r)
	}
	// An action without a result answers null.
	_ = f.c.SendFrame(map[string]any{"type": "_ACTION:NOTES", "id": "q2", "data": map[string]any{"type": "rename", "index": 0, "text": "x"}})
	r = waitType(t, f.c, "_RESULT")
	if r.ID != "q2" || string(r.Data) != "null" {
		t.Fatalf("result %+v", r)
	}
	// Errors of a request with an id come in its _RESULT.
	_ = f.c.SendFrame(map[string]any{"type": "_ACTION:NOTES", "id": "q3", "data": map[string]any{"type": "rename", "index": 9, "text": "x"}})
	r = waitType(t, f.c, "_RESULT")
	if e := errorOf(t, r); r.ID != "q3" || e.Code != wssync.CodeActionFailed || e.Action != "rename" || !strings.Contains(e.Message, "no note 9") {
		t.Fatalf("result %+v / %+v", r, e)
	}
}

func TestActionRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data any
		code wssync.Code
		path string
	}{
		{"unknown action", map[string]any{"type": "frob"}, wssync.CodeUnknownAction, ""},
		{"data not an object", []int{1}, wssync.CodeBadData, ""},
		{"no type", map[string]any{"index": 1}, wssync.CodeBadData, ""},
		{"wrong param type", map[string]any{"type": "rename", "index": "one", "text": "x"}, wssync.CodeBadParams, "/index"},
		{"missing required", map[string]any{"type": "rename", "text": "x"}, wssync.CodeBadParams, "/index"},
		{"unknown param", map[string]any{"type": "rename", "index": 0, "text": "x", "extra": 1}, wssync.CodeBadParams, "/extra"},
		{"null for int", map[string]any{"type": "rename", "index": nil, "text": "x"}, wssync.CodeBadParams, "/index"},
		{"Validate refuses", map[string]any{"type": "rename", "index": 0, "text": ""}, wssync.CodeBadParams, "/text"},
		{"handler error", map[string]any{"type": "rename", "index": 7, "text": "x"}, wssync.CodeActionFailed, ""},
		{"handler panic", map[string]any{"type": "boom"}, wssync.CodeActionFailed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newActions(t)
			before, v := f.s.Published()
			_ = f.c.Send("_ACTION:NOTES", tt.data)
			e := errorOf(t, waitType(t, f.c, "_ERROR"))
			if e.Code != tt.code || e.Path != tt.path || e.Event != "_ACTION:NOTES" {
				t.Fatalf("error %+v, want %s at %q", e, tt.code, tt.path)
			}
			if after, v2 := f.s.Published(); string(after) != string(before) || v2 != v {
				t.Fatal("a refused action changed the state")
			}
			wantCalls := 0
			if tt.code == wssync.CodeActionFailed && tt.name == "handler error" {
				wantCalls = 1
			}
			if *f.calls != wantCalls {
				t.Fatalf("handler called %d times, want %d", *f.calls, wantCalls)
			}
			// The session lives on.
			_ = f.c.Send("_ACTION:NOTES", map[string]any{"type": "rename", "index": 0, "text": "ok"})
			waitType(t, f.c, "_PATCH:NOTES")
		})
	}
}

// Actions of one session run one at a time, in arrival order.
func TestActionsRunInOrder(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	type Log struct{ Seen []int }
	log := &Log{}
	s, _ := wssync.Register(sess, "LOG", log)
	var running, overlap int
	var mu sync.Mutex
	_ = wssync.Action(s, "step", func(ctx context.Context, p struct{ N int }) error {
		mu.Lock()
		running++
		if running > 1 {
			overlap++
		}
		mu.Unlock()
		_ = s.Update(func(l *Log) { l.Seen = append(l.Seen, p.N) })
		mu.Lock()
		running--
		mu.Unlock()
		return nil
	})
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:LOG")
	const n = 200
	for i := range n {
		_ = c.Send("_ACTION:LOG", map[string]any{"type": "step", "n": i})
	}
	got, err := wssynctest.WaitState(ctxT(t), c, "LOG", func(l Log) bool { return len(l.Seen) == n })
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got.Seen {
		if v != i {
			t.Fatalf("action %d ran at position %d", v, i)
		}
	}
	if overlap != 0 {
		t.Fatalf("%d actions overlapped", overlap)
	}
}

func TestActionRegistrationErrors(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	s, _ := wssync.Register(sess, "K", &Notes{})
	noop := func(context.Context, struct{}) error { return nil }
	if err := wssync.Action(s, "a", noop); err != nil {
		t.Fatal(err)
	}
	if err := wssync.Action(s, "a", noop); !errors.Is(err, wssync.ErrDuplicateHandler) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := wssync.Action(s, "b", func(context.Context, int) error { return nil }); err == nil {
		t.Fatal("non-struct params accepted")
	}
	if err := wssync.Action(s, "c", func(context.Context, struct{ Type string }) error { return nil }); !errors.Is(err, wssync.ErrDuplicateName) {
		t.Fatalf("a param named type: %v", err)
	}
	if !s.RemoveAction("a") || s.RemoveAction("a") {
		t.Fatal("RemoveAction")
	}
	if err := wssync.Action(s, "a", noop); err != nil {
		t.Fatalf("re-register after remove: %v", err)
	}
	s.Unregister()
	if err := wssync.Action(s, "z", noop); !errors.Is(err, wssync.ErrUnregistered) {
		t.Fatalf("after Unregister: %v", err)
	}
}

func TestServerToClientEvents(t *testing.T) {
	t.Parallel()
	sess, s, url := newNotes(t)
	if err := sess.Toast(wssync.ToastInfo, "hi"); !errors.Is(err, wssync.ErrNotConnected) {
		t.Fatalf("toast while disconnected: %v", err)
	}
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	if err := s.SendAction("flash", map[string]any{"color": "red"}); err != nil {
		t.Fatal(err)
	}
	if f := waitType(t, c, "_ACTION:NOTES"); string(f.Data) != `{"type":"flash","color":"red"}` {
		t.Fatalf("exposed action %s", f.Data)
	}
	for _, kind := range []wssync.ToastKind{wssync.ToastDefault, wssync.ToastMessage, wssync.ToastInfo, wssync.ToastSuccess, wssync.ToastWarning, wssync.ToastError} {
		if err := sess.Toast(kind, "msg"); err != nil {
			t.Fatal(err)
		}
		if f := waitType(t, c, "_TOAST"); string(f.Data) != `{"type":"`+string(kind)+`","message":"msg"}` {
			t.Fatalf("toast %s", f.Data)
		}
	}
	if err := sess.Toast("shout", "x"); err == nil {
		t.Fatal("unknown toast kind accepted")
	}
	if err := sess.Download("a.txt", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if f := waitType(t, c, "_DOWNLOAD"); string(f.Data) != `{"filename":"a.txt","data":"aGVsbG8="}` {
		t.Fatalf("download %s", f.Data)
	}
	if err := sess.SendBinary("blob", map[string]any{"name": "x"}, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	meta := waitType(t, c, "_BIN_META")
	if string(meta.Data) != `{"type":"blob","metadata":{"name":"x"}}` {
		t.Fatalf("meta %s", meta.Data)
	}
	bin, _ := c.Next(ctxT(t))
	if string(bin.Binary) != "\x00\x01\x02" {
		t.Fatalf("binary %v", bin)
	}
}

type UploadParams struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

func TestBinaryToActionAndEvent(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	type Files struct{ Names []string }
	files := &Files{}
	s, _ := wssync.Register(sess, "FILES", files)
	got := make(chan []byte, 2)
	_ = wssync.Action(s, "upload", func(ctx context.Context, p UploadParams) error {
		got <- p.Data
		return s.Update(func(f *Files) { f.Names = append(f.Names, p.Name) })
	})
	_ = wssync.On(sess, "avatar", func(ctx context.Context, p UploadParams) error {
		got <- p.Data
		return nil
	})
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:FILES")
	payload := []byte{0xff, 0, 1, 2, 3}
	// ws-sync-react's sendBinary: _BIN_META for _ACTION:KEY with the action as metadata.
	if err := c.SendBinary("_ACTION:FILES", map[string]any{"type": "upload", "name": "a.bin"}, payload); err != nil {
		t.Fatal(err)
	}
	if b := wstest.Receive(t, got, "the action's bytes"); string(b) != string(payload) {
		t.Fatalf("action got %v", b)
	}
	waitType(t, c, "_PATCH:FILES")
	_ = c.SendBinary("avatar", map[string]any{"name": "me.png"}, payload[:2])
	if b := wstest.Receive(t, got, "the event's bytes"); string(b) != string(payload[:2]) {
		t.Fatalf("event got %v", b)
	}
	// An action without a []byte "data" param refuses binary.
	_ = wssync.Action(s, "plain", func(ctx context.Context, p struct{}) error { return nil })
	_ = c.SendBinary("_ACTION:FILES", map[string]any{"type": "plain"}, payload)
	if e := errorOf(t, waitType(t, c, "_ERROR")); e.Code != wssync.CodeBadParams || e.Path != "/data" {
		t.Fatalf("got %+v", e)
	}
}

func TestCustomEventsAndHooks(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	var mu sync.Mutex
	var log []string
	add := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	sess.OnConnect(func(ctx context.Context) { add("connect") })
	removeD := sess.OnDisconnect(func(ctx context.Context) { add("disconnect") })
	sess.OnClose(func(ctx context.Context) { add("close") })
	type Chat struct {
		Text string `json:"text"`
	}
	if err := wssync.On(sess, "chat", func(ctx context.Context, m Chat) error { add("chat:" + m.Text); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := wssync.On(sess, "chat", func(ctx context.Context, m Chat) error { return nil }); !errors.Is(err, wssync.ErrDuplicateHandler) {
		t.Fatalf("duplicate event: %v", err)
	}
	if err := wssync.On(sess, "count", func(ctx context.Context, n int) error { add(fmt.Sprint("count:", n)); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := wssync.On(sess, "_SET:X", func(ctx context.Context, n int) error { return nil }); err == nil {
		t.Fatal("a reserved name was accepted")
	}
	url := serve(t, sess)
	c := dial(t, url)
	_ = c.Send("chat", Chat{Text: "hi"})
	_ = c.Send("count", 3)
	_ = c.Send("count", "three")
	if e := errorOf(t, waitType(t, c, "_ERROR")); e.Code != wssync.CodeBadParams || e.Event != "count" {
		t.Fatalf("got %+v", e)
	}
	if err := wssync.On(sess, "chat", func(ctx context.Context, m Chat) error { add("chat2:" + m.Text); return nil }, wssync.Override()); err != nil {
		t.Fatal(err)
	}
	_ = c.Send("chat", Chat{Text: "again"})
	if !sess.Off("count") || sess.Off("count") {
		t.Fatal("Off")
	}
	_ = c.Send("count", 4)
	if e := errorOf(t, waitType(t, c, "_ERROR")); e.Code != wssync.CodeUnknownEvent {
		t.Fatalf("got %+v", e)
	}
	_ = c.Close()
	waitUntil(t, func() bool { return !sess.Connected() })
	removeD()
	c2 := dial(t, url)
	_ = c2.Send("chat", Chat{Text: "second"})
	snapshot := func() string { mu.Lock(); defer mu.Unlock(); return strings.Join(log, " ") }
	waitUntil(t, func() bool { return strings.HasSuffix(snapshot(), "chat2:second") })
	sess.Close()
	want := "connect chat:hi count:3 chat2:again disconnect connect chat2:second close"
	if got := snapshot(); got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
}

func TestSessionFromContext(t *testing.T) {
	t.Parallel()
	shared, _ := wssync.NewShared("ROOM", &Room{})
	callers := make(chan *wssync.Session, 2)
	_ = wssync.Action(shared, "who", func(ctx context.Context, p struct{}) error {
		s, _ := wssync.SessionFrom(ctx)
		callers <- s
		return nil
	})
	a, b := wssync.NewSession(), wssync.NewSession()
	_ = shared.Join(a)
	_ = shared.Join(b)
	ca, cb := dial(t, serve(t, a)), dial(t, serve(t, b))
	waitType(t, ca, "_SET:ROOM")
	waitType(t, cb, "_SET:ROOM")
	_ = cb.Send("_ACTION:ROOM", map[string]any{"type": "who"})
	if got := wstest.Receive(t, callers, "b's action"); got != b {
		t.Fatal("SessionFrom did not name the calling session")
	}
	_ = ca.Send("_ACTION:ROOM", map[string]any{"type": "who"})
	if got := wstest.Receive(t, callers, "a's action"); got != a {
		t.Fatal("SessionFrom did not name the calling session")
	}
}
