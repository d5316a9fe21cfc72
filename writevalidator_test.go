package wssync_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

type counterDoc struct {
	Title string `sync:"title,write"`
	Count int    `sync:"count,write"`
	seen  chan string
}

// ValidateWrite runs first: it sees only the proposed value.
func (d *counterDoc) ValidateWrite(next *counterDoc) error {
	if next.Title == "plain veto" {
		return errors.New("refused by ValidateWrite")
	}
	return nil
}

// ValidateWriteContext: only admins may lower the count; it reports who wrote.
func (d *counterDoc) ValidateWriteContext(ctx context.Context, prev, next *counterDoc) error {
	id, ok := wssync.IdentityFrom(ctx)
	sess, _ := wssync.SessionFrom(ctx)
	if !ok || sess == nil || sess.Identity().User != id.User {
		return errors.New("no writer in ctx")
	}
	d.seen <- id.User
	if next.Title == "plain veto" {
		return errors.New("ValidateWriteContext ran after a ValidateWrite refusal")
	}
	if next.Count < prev.Count && !id.HasRole("admin") {
		return &wssync.Error{Code: wssync.CodeReadOnly, Path: "/count", Message: "only admins may lower the count"}
	}
	if next.Title == "ctx veto" {
		return &wssync.FieldError{Path: "/title", Message: "not that title"}
	}
	return nil
}

// The context hook of a shared object sees the session that wrote (not another
// subscriber) and the value before the write; its *Error and *FieldError reach that
// writer with their code and path, and the struct is unchanged.
func TestValidateWriteContextSeesTheWriter(t *testing.T) {
	doc := &counterDoc{Count: 5, seen: make(chan string, 16)}
	s, err := wssync.NewShared("C", doc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unregister()
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return s.Join(sess) },
		wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
			q := r.URL.Query()
			return wssync.Identity{User: q.Get("user"), Session: q.Get("user"), Roles: []string{q.Get("role")}}, nil
		}))
	defer func() { _ = m.Shutdown(context.Background()) }()
	url := wstest.Serve(t, http.HandlerFunc(m.ServeWS))
	ann := wstest.Dial(t, url+"?user=ann&role=admin")
	bob := wstest.Dial(t, url+"?user=bob&role=guest")
	wstest.WaitType(t, ann, "_SET:C")
	wstest.WaitType(t, bob, "_SET:C")

	write := func(c *wssynctest.Client, data string) *wssync.Error {
		t.Helper()
		v0 := s.Version()
		if err := c.SendRaw([]byte(`{"type":"_PATCH:C","data":` + data + `}`)); err != nil {
			t.Fatal(err)
		}
		f, err := c.WaitFrame(ctxT(t), func(f wssynctest.Frame) bool {
			return f.Type == "_ERROR" || f.Type == "_PATCH:C" && f.V != nil && *f.V > v0
		})
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == "_ERROR" {
			e := errorOf(t, f)
			wstest.WaitType(t, c, "_SET:C") // the authoritative state follows a refusal
			return &e
		}
		return nil
	}
	state := func() (string, int) {
		s.RLock()
		defer s.RUnlock()
		return doc.Title, doc.Count
	}

	if e := write(bob, `[{"op":"replace","path":"/count","value":4}]`); e == nil || e.Code != wssync.CodeReadOnly || e.Path != "/count" {
		t.Fatalf("bob lowering the count: %+v, want read_only at /count", e)
	}
	if who := wstest.Receive(t, doc.seen, "the hook's writer"); who != "bob" {
		t.Fatalf("the hook saw %q write, want bob", who)
	}
	if e := write(bob, `[{"op":"replace","path":"/title","value":"ctx veto"}]`); e == nil || e.Code != wssync.CodeRejected || e.Path != "/title" {
		t.Fatalf("ctx veto: %+v, want rejected at /title", e)
	}
	<-doc.seen
	if e := write(bob, `[{"op":"replace","path":"/title","value":"plain veto"}]`); e == nil || e.Code != wssync.CodeRejected {
		t.Fatalf("plain veto: %+v, want rejected", e)
	}
	if title, count := state(); title != "" || count != 5 {
		t.Fatalf("refused writes changed the struct: %q %d", title, count)
	}
	if e := write(bob, `[{"op":"replace","path":"/count","value":9}]`); e != nil {
		t.Fatalf("bob raising the count: %+v", e)
	}
	<-doc.seen
	if e := write(ann, `[{"op":"replace","path":"/count","value":1}]`); e != nil {
		t.Fatalf("ann lowering the count: %+v", e)
	}
	if who := <-doc.seen; who != "ann" {
		t.Fatalf("the hook saw %q write, want ann", who)
	}
	if _, count := state(); count != 1 {
		t.Fatalf("count %d, want 1", count)
	}
	select {
	case who := <-doc.seen:
		t.Fatalf("the hook ran for %s after a ValidateWrite refusal, or once too often", who)
	default:
	}
}
