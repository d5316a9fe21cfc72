package wssync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

// exampleNote is an element whose author alone may write it.
type exampleNote struct {
	Author string `json:"author"`
	Text   string `json:"text"`
}

// exampleBoard is a board many users share: admins set the topic, each note is its
// author's, and a note may not be emptied.
type exampleBoard struct {
	Topic string        `sync:"topic,write=admin"`
	Notes []exampleNote `sync:"notes,write,owner=author"`
}

// ValidateWriteContext is the rule the tags cannot say: who wrote is in ctx.
func (b *exampleBoard) ValidateWriteContext(ctx context.Context, prev, next *exampleBoard) error {
	id, _ := wssync.IdentityFrom(ctx)
	for i, n := range next.Notes {
		if n.Author == id.User && n.Text == "" {
			return &wssync.FieldError{Path: fmt.Sprintf("/notes/%d/text", i), Message: "a note needs a text"}
		}
	}
	return nil
}

// exampleServe serves a Manager whose auth hook takes the user and role from the query
// (a real one verifies a token), and dials a client as user with role.
func exampleServe(m *wssync.Manager) (dial func(ctx context.Context, user, role string) *wssynctest.Client, stop func()) {
	srv := httptest.NewServer(http.HandlerFunc(m.ServeWS))
	dial = func(ctx context.Context, user, role string) *wssynctest.Client {
		c, err := wssynctest.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"?user="+user+"&role="+role)
		if err != nil {
			panic(err)
		}
		return c
	}
	return dial, func() { _ = m.Shutdown(context.Background()); srv.Close() }
}

func exampleAuth(r *http.Request) (wssync.Identity, error) {
	q := r.URL.Query()
	return wssync.Identity{User: q.Get("user"), Session: q.Get("user") + "-" + q.Get("role"), Roles: []string{q.Get("role")}}, nil
}

// A shared board: a guest may add and edit its own notes, never the admin's, and never the
// admins' topic; the refusals name the code and the path.
func ExampleWriteContextValidator() {
	board := &exampleBoard{Topic: "plans", Notes: []exampleNote{{"ann", "ship it"}}}
	s, _ := wssync.NewShared("BOARD", board)
	defer s.Unregister()
	dial, stop := exampleServe(wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		return s.Join(sess)
	}, wssync.WithAuth(exampleAuth)))
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bob := dial(ctx, "bob", "guest")
	defer bob.Close()
	_, _ = bob.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_SET:BOARD" })

	try := func(ops string) {
		_ = bob.SendRaw([]byte(`{"type":"_PATCH:BOARD","data":` + ops + `}`))
		f, _ := bob.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_ERROR" || f.Type == "_PATCH:BOARD" })
		if f.Type == "_PATCH:BOARD" {
			fmt.Println("applied")
			return
		}
		var e wssync.Error
		_ = json.Unmarshal(f.Data, &e)
		fmt.Println(e.Code, e.Path)
		_, _ = bob.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_SET:BOARD" })
	}
	try(`[{"op":"replace","path":"/notes/0/text","value":"cancel it"}]`)                 // ann's note
	try(`[{"op":"add","path":"/notes/-","value":{"author":"ann","text":"signed ann"}}]`) // forged author
	try(`[{"op":"replace","path":"/topic","value":"mine"}]`)                             // admins only
	try(`[{"op":"add","path":"/notes/0","value":{"author":"bob","text":""}}]`)           // the hook
	try(`[{"op":"add","path":"/notes/0","value":{"author":"bob","text":"me first"}}]`)   // his own
	s.RLock()
	fmt.Println(board.Notes)
	s.RUnlock()
	// Output:
	// read_only /notes/0
	// read_only /notes/1
	// read_only /topic
	// rejected /notes/0/text
	// applied
	// [{bob me first} {ann ship it}]
}

// Every tab of one user shares the user's cart; the cart is built on first use and freed
// when the user's last session closes.
func ExampleRegisterUser() {
	type Cart struct {
		Items []string `sync:"items,write"`
	}
	var builds atomic.Int64
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		_, err := wssync.RegisterUser(sess, "CART", func(ctx context.Context) (*Cart, error) {
			builds.Add(1) // runs once per user while any of their sessions lives
			return &Cart{Items: []string{}}, nil
		})
		return err
	}, wssync.WithAuth(exampleAuth))
	dial, stop := exampleServe(m)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tab1, tab2 := dial(ctx, "ann", "tab1"), dial(ctx, "ann", "tab2")
	defer tab1.Close()
	defer tab2.Close()
	for _, c := range []*wssynctest.Client{tab1, tab2} {
		_, _ = c.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_SET:CART" })
	}
	_ = tab1.Patch("CART", wssynctest.Op{Op: "add", Path: "/items/-", Value: "tea"})
	cart, err := wssynctest.WaitState(ctx, tab2, "CART", func(c Cart) bool { return len(c.Items) == 1 })
	fmt.Println(cart.Items, builds.Load(), err)
	// Output:
	// [tea] 1 <nil>
}
