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

// Notes is the server's state; notesView is how the client declares it (json tags with
// the wire names).
type Notes struct {
	Title string   `sync:"title,write"`
	Items []string `sync:"items"`
}

type notesView struct {
	Title string   `json:"title"`
	Items []string `json:"items"`
}

func Example() {
	// A server: one session with NOTES and an action that returns the number of items.
	sess := wssync.NewSession()
	notes := &Notes{Title: "Groceries"}
	s, _ := wssync.Register(sess, "NOTES", notes)
	_ = wssync.ActionResult(s, "add", func(_ context.Context, p struct {
		Item string `json:"item"`
	}) (int, error) {
		var n int
		err := s.Update(func(n2 *Notes) { n2.Items = append(n2.Items, p.Item); n = len(n2.Items) })
		return n, err
	})
	_ = wssync.ActionResult(s, "title", func(context.Context, struct{}) (string, error) {
		s.RLock()
		defer s.RUnlock()
		return notes.Title, nil
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

	b, _ := wsclient.Bind[notesView](c, "NOTES")
	n, err := wsclient.Call[int](ctx, c, "NOTES", "add", map[string]string{"item": "milk"})
	fmt.Println(n, err)
	v, _ := b.Wait(ctx, func(v notesView) bool { return len(v.Items) == 1 })
	fmt.Println(v.Title, v.Items)

	// A write of a writable field, applied locally at once. The session handles its
	// client's frames in order, so the action that follows sees it.
	_ = b.Update(ctx, func(v *notesView) { v.Title = "Shopping" })
	title, _ := wsclient.Call[string](ctx, c, "NOTES", "title", nil)
	fmt.Println("server title:", title)
	// Output:
	// 1 <nil>
	// Groceries [milk]
	// server title: Shopping
}
