package wsclient_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsclient"
)

// A client resumes by default: every connection sends `_RESUME` with the versions it
// holds, and the server answers which keys it patched and which it sent a `_SET` of. On
// the first connection the client holds nothing, so every key is set; after a reconnect
// within the server's history, the key is patched.
func ExampleClient_LastResumed() {
	sess := wssync.NewSession()
	_, _ = wssync.Register(sess, "NOTES", &Notes{Title: "Groceries"})
	srv := httptest.NewServer(http.HandlerFunc(sess.ServeWS))
	defer srv.Close()
	defer sess.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	b, _ := wsclient.Bind[notesView](c, "NOTES")
	_, _ = b.Wait(ctx, nil)
	for {
		if r, n := c.LastResumed(); n > 0 {
			fmt.Println("set:", r.Set, "patched:", r.Patched)
			break
		}
		time.Sleep(time.Millisecond)
	}
	// Output:
	// set: [NOTES] patched: []
}

// RunTaskResult runs a task and decodes what a wssync.TaskResult task returned.
func ExampleRunTaskResult() {
	sess := wssync.NewSession()
	s, _ := wssync.Register(sess, "NOTES", &Notes{})
	_ = wssync.TaskResult(s, "count", func(_ context.Context, p struct {
		Upto int `json:"upto"`
	}) (int, error) {
		sum := 0
		for i := 1; i <= p.Upto; i++ {
			sum += i
		}
		return sum, nil
	})
	srv := httptest.NewServer(http.HandlerFunc(sess.ServeWS))
	defer srv.Close()
	defer sess.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	sum, err := wsclient.RunTaskResult[int](ctx, c, "NOTES", "count", map[string]int{"upto": 10})
	fmt.Println(sum, err)
	// Output:
	// 55 <nil>
}

// ActionBinary sends bytes to an action as its data param, as ws-sync-react's sendBinary
// does; OnBinary receives the server's binary payloads.
func ExampleClient_ActionBinary() {
	sess := wssync.NewSession()
	s, _ := wssync.Register(sess, "NOTES", &Notes{})
	_ = wssync.Action(s, "attach", func(_ context.Context, p struct {
		Name string `json:"name"`
		Data []byte `json:"data"`
	}) error {
		// Echo the bytes back as the server's binary event "echo".
		return sess.SendBinary("echo", map[string]string{"name": p.Name}, p.Data)
	})
	srv := httptest.NewServer(http.HandlerFunc(sess.ServeWS))
	defer srv.Close()
	defer sess.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	got := make(chan wsclient.Binary, 1)
	c.OnBinary("echo", func(b wsclient.Binary) { got <- b })
	_ = c.ActionBinary(ctx, "NOTES", "attach", map[string]string{"name": "a.bin"}, []byte{1, 2, 3})
	select {
	case b := <-got:
		fmt.Println(b.Event, string(b.Metadata), b.Data)
	case <-ctx.Done():
		fmt.Println(ctx.Err())
	}
	// Output:
	// echo {"name":"a.bin"} [1 2 3]
}
