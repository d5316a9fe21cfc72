package wssync_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

// The quick start: tag a struct, register it, mount ServeWS, mutate with Update.
func Example() {
	type Notes struct {
		Title string   `sync:"title,write"`
		Notes []string `sync:"notes"`
	}
	sess := wssync.NewSession()
	notes, err := wssync.Register(sess, "NOTES", &Notes{Title: "My Notes"})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(sess.ServeWS)) // or http.HandleFunc("/ws", sess.ServeWS)
	defer srv.Close()
	defer sess.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, _ := wssynctest.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"))
	defer client.Close()
	first, _ := client.Next(ctx)
	fmt.Println(first.Type, string(first.Data))

	_ = notes.Update(func(n *Notes) { n.Notes = append(n.Notes, "buy milk") })
	patch, _ := client.Next(ctx)
	fmt.Println(patch.Type, string(patch.Data), *patch.V)
	// Output:
	// _SET:NOTES {"title":"My Notes","notes":null}
	// _PATCH:NOTES [{"op":"replace","path":"/notes","value":["buy milk"]}] 1
}

// Lock and Unlock bracket several mutations published by one Sync.
func ExampleSynced_Lock() {
	type Counter struct{ N int }
	sess := wssync.NewSession()
	counter := &Counter{}
	c, _ := wssync.Register(sess, "COUNTER", counter)
	c.Lock()
	counter.N++
	counter.N++
	c.Unlock()
	_ = c.Sync() // no client connected: nothing is sent, the version still advances
	state, v := c.Published()
	fmt.Println(string(state), v)
	// Output: {"n":2} 1
}

// A validation hook vetoes client writes; a FieldError points at the offending value.
func ExampleWriteValidator() {
	sess := wssync.NewSession()
	if _, err := wssync.Register(sess, "PROFILE", &Profile{Name: "ann"}); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(sess.ServeWS))
	defer srv.Close()
	defer sess.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, _ := wssynctest.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"))
	defer client.Close()

	_ = client.Patch("PROFILE", wssynctest.Replace("/name", ""))
	refusal, _ := client.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_ERROR" })
	fmt.Println(string(refusal.Data))
	resync, _ := client.Next(ctx) // the authoritative state follows
	fmt.Println(resync.Type, string(resync.Data))
	// Output:
	// {"code":"rejected","message":"a name is required","event":"_PATCH:PROFILE","path":"/name"}
	// _SET:PROFILE {"name":"ann"}
}

type Profile struct {
	Name string `sync:"name,write"`
}

func (p *Profile) ValidateWrite(next *Profile) error {
	if next.Name == "" {
		return &wssync.FieldError{Path: "/name", Message: "a name is required"}
	}
	return nil
}

// Computed values are read-only fields derived at every sync.
func ExampleWithComputed() {
	type Cart struct {
		Items []string `sync:"items"`
	}
	cart := &Cart{Items: []string{"a", "b"}}
	sess := wssync.NewSession()
	s, _ := wssync.Register(sess, "CART", cart, wssync.WithComputed("count", func() any { return len(cart.Items) }))
	state, _ := s.Published()
	fmt.Println(string(state))
	// Output: {"items":["a","b"],"count":2}
}

// Scopes prefix keys, as ws-sync's sync_key_scope does.
func ExampleSession_Scope() {
	sess := wssync.NewSession()
	room := sess.Scope("room-7")
	s, _ := wssync.Register(room, "CHAT", &struct{ Lines []string }{})
	fmt.Println(s.Key())
	// Output: room-7/CHAT
}
