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
