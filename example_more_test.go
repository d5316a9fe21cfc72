package wssync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

// Actions are typed handlers; a client that sends a request id gets the result back.
func ExampleActionResult() {
	type Counter struct {
		N int `sync:"n"`
	}
	sess := wssync.NewSession()
	counter := &Counter{}
	s, _ := wssync.Register(sess, "COUNTER", counter)
	type AddParams struct {
		By int `json:"by"`
	}
	_ = wssync.ActionResult(s, "add", func(ctx context.Context, p AddParams) (int, error) {
		s.Lock()
		defer s.Unlock()
		counter.N += p.By
		return counter.N, nil // the library syncs the change after the handler returns
	})

	srv := httptest.NewServer(http.HandlerFunc(sess.ServeWS))
	defer srv.Close()
	defer sess.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, _ := wssynctest.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"))
	defer client.Close()
	// Wait for the state first: an action handled before the connection's _SET is sent
	// is in that _SET, and no patch follows.
	_, _ = client.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_SET:COUNTER" })

	_ = client.SendFrame(map[string]any{"type": "_ACTION:COUNTER", "id": "r1", "data": map[string]any{"type": "add", "by": 5}})
	patch, _ := client.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_PATCH:COUNTER" })
	result, _ := client.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_RESULT" })
	fmt.Println(string(patch.Data))
	fmt.Println(result.ID, string(result.Data))
	// Output:
	// [{"op":"replace","path":"/n","value":5}]
	// r1 5
}

// A task runs in its own goroutine; the client starts and cancels it.
func ExampleTask() {
	type Job struct {
		Progress int `sync:"progress"`
	}
	sess := wssync.NewSession()
	job := &Job{}
	s, _ := wssync.Register(sess, "JOB", job, wssync.WithRunningTasks("runningTasks"))
	_ = wssync.Task(s, "wait", func(ctx context.Context, _ struct{}) error {
		_ = s.Update(func(j *Job) { j.Progress = 1 })
		<-ctx.Done() // until the client cancels
		return ctx.Err()
	})

	srv := httptest.NewServer(http.HandlerFunc(sess.ServeWS))
	defer srv.Close()
	defer sess.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, _ := wssynctest.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"))
	defer client.Close()

	status := func() string {
		f, _ := client.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_TASK_STATUS:JOB" })
		return string(f.Data)
	}
	_ = client.Send("_TASK_START:JOB", map[string]any{"type": "wait"})
	fmt.Println(status())
	_ = client.Send("_TASK_CANCEL:JOB", map[string]any{"type": "wait"})
	fmt.Println(status())
	// Output:
	// {"type":"wait","status":"started"}
	// {"type":"wait","status":"cancelled"}
}

// A Manager builds each new session with a factory; here every session also joins one
// shared room.
func ExampleNewManager() {
	type Room struct {
		Topic string `sync:"topic,write"`
	}
	room, _ := wssync.NewShared("ROOM", &Room{Topic: "welcome"})
	mgr := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		return room.Join(sess)
	})
	srv := httptest.NewServer(http.HandlerFunc(mgr.ServeWS))
	defer srv.Close()
	defer mgr.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	// Two tabs, identified the way ws-sync-react's wsAuth does it.
	alice, _ := wssynctest.Dial(ctx, url, wssynctest.WithIdentity("alice", "tab-1"))
	defer alice.Close()
	bob, _ := wssynctest.Dial(ctx, url, wssynctest.WithIdentity("bob", "tab-2"))
	defer bob.Close()
	_, _ = alice.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_SET:ROOM" })
	_, _ = bob.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_SET:ROOM" })

	_ = alice.Patch("ROOM", wssynctest.Replace("/topic", "news")) // one write reaches everyone
	got, _ := wssynctest.WaitState(ctx, bob, "ROOM", func(r Room) bool { return r.Topic == "news" })
	fmt.Println(got.Topic, mgr.Stats().Sessions)
	// Output: news 2
}

// Params declare their rules with `validate` tags (go-playground/validator), nested structs
// included; a call that breaks one is refused with bad_params and the member's path.
func ExampleAction_validateTags() {
	type Board struct {
		Cards []string `sync:"cards"`
	}
	type Owner struct {
		Name string `json:"name" validate:"required"`
	}
	type AddParams struct {
		Text     string `json:"text" validate:"required,max=80"`
		Priority string `json:"priority" validate:"oneof=low high"`
		Owner    Owner  `json:"owner"`
	}
	sess := wssync.NewSession()
	board := &Board{Cards: []string{}}
	s, _ := wssync.Register(sess, "BOARD", board)
	_ = wssync.Action(s, "add", func(ctx context.Context, p AddParams) error {
		return s.Update(func(b *Board) { b.Cards = append(b.Cards, p.Text) })
	})

	srv := httptest.NewServer(http.HandlerFunc(sess.ServeWS))
	defer srv.Close()
	defer sess.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, _ := wssynctest.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"))
	defer client.Close()

	for i, data := range []map[string]any{
		{"type": "add", "text": "ship it", "priority": "urgent", "owner": map[string]any{"name": "ann"}},
		{"type": "add", "text": "ship it", "priority": "high", "owner": map[string]any{"name": ""}},
	} {
		id := fmt.Sprint("r", i)
		_ = client.SendFrame(map[string]any{"type": "_ACTION:BOARD", "id": id, "data": data})
		r, _ := client.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_RESULT" && f.ID == id })
		var e wssync.Error
		_ = json.Unmarshal(r.Error, &e)
		fmt.Println(e.Code, e.Path)
	}
	// Output:
	// bad_params /priority
	// bad_params /owner/name
}

// A TaskResult task's done status carries what it returned.
func ExampleTaskResult() {
	type Doc struct {
		Words int `sync:"words"`
	}
	sess := wssync.NewSession()
	s, _ := wssync.Register(sess, "DOC", &Doc{})
	type countParams struct {
		Text string `json:"text"`
	}
	type counted struct {
		Words int `json:"words"`
	}
	_ = wssync.TaskResult(s, "count", func(ctx context.Context, p countParams) (counted, error) {
		return counted{Words: len(strings.Fields(p.Text))}, nil
	})

	srv := httptest.NewServer(http.HandlerFunc(sess.ServeWS))
	defer srv.Close()
	defer sess.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, _ := wssynctest.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"))
	defer client.Close()

	_ = client.Send("_TASK_START:DOC", map[string]any{"type": "count", "text": "one two three"})
	for range 2 {
		f, _ := client.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_TASK_STATUS:DOC" })
		fmt.Println(string(f.Data))
	}
	// Output:
	// {"type":"count","status":"started"}
	// {"type":"count","status":"done","result":{"words":3}}
}

// A Manager for many idle connections: ServeWS returns right after the upgrade, and the
// connection goes on, served on goroutines of its own until Shutdown.
func ExampleWithDetachedConnections() {
	type Room struct {
		Topic string `sync:"topic"`
	}
	room, _ := wssync.NewShared("ROOM", &Room{Topic: "welcome"})
	mgr := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		return room.Join(sess)
	}, wssync.WithDetachedConnections())
	returned := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mgr.ServeWS(w, r)
		returned <- struct{}{}
	}))
	defer srv.Close()
	defer mgr.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	c, _ := wssynctest.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), wssynctest.WithIdentity("alice", "tab-1"))
	defer c.Close()
	<-returned // ServeWS is done; the connection is not
	_ = room.Update(func(r *Room) { r.Topic = "news" })
	got, _ := wssynctest.WaitState(ctx, c, "ROOM", func(r Room) bool { return r.Topic == "news" })
	fmt.Println(got.Topic)
	// Output: news
}
