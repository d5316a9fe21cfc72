package wssync_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/wssync/wssync"
)

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

// TestHookPanicIsContained: a panicking hook is logged and does not stop the hooks after
// it, which run in the order they were added; a removed hook no longer runs.
func TestHookPanicIsContained(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	var mu sync.Mutex
	var log []string
	add := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	sess.OnClose(func(context.Context) { add("first") })
	sess.OnClose(func(context.Context) { panic("boom") })
	remove := sess.OnClose(func(context.Context) { add("removed") })
	sess.OnClose(func(context.Context) { add("last") })
	remove()
	remove() // removing twice is harmless
	sess.Close()
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(log, " "); got != "first last" {
		t.Errorf("hooks ran %q, want \"first last\"", got)
	}
}

// TestOnRefusesNames: the empty name and names starting with '_' belong to the protocol;
// Off of such a name reports false.
func TestOnRefusesNames(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	defer sess.Close()
	if _, err := wssync.Register(sess, "NOTES", &Notes{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "_", "_TOAST", "_custom", "_GET:NOTES"} {
		if err := wssync.On(sess, name, func(context.Context, int) error { return nil }); err == nil {
			t.Errorf("On(%q) accepted a reserved name", name)
		}
		if sess.Off(name) {
			t.Errorf("Off(%q) reported a handler", name)
		}
	}
	if sess.Off("never") {
		t.Error("Off of a name without a handler reported one")
	}
	if err := wssync.On(sess, "ok", func(context.Context, chan int) error { return nil }); err == nil {
		t.Error("On with a parameter type JSON cannot decode into was accepted")
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:NOTES")
	_ = c.Send("_GET:NOTES", nil)
	waitType(t, c, "_SET:NOTES") // the protocol's handler is still there
}

// TestOnHandlerError: a handler's error reaches the client as CodeActionFailed naming the
// event.
func TestOnHandlerError(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	if err := wssync.On(sess, "fail", func(context.Context, struct{}) error { return errors.New("no luck") }); err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	_ = c.Send("fail", map[string]any{})
	if e := errorOf(t, waitType(t, c, "_ERROR")); e.Code != wssync.CodeActionFailed || e.Event != "fail" {
		t.Errorf("got %+v, want %s for event fail", e, wssync.CodeActionFailed)
	}
}
