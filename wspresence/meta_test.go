package wspresence_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wspresence"
	"github.com/wssync/wssync/wssynctest"
)

// joinedRoom serves a Manager whose sessions join p, and reports each new session on
// sessions.
func joinedRoom(t *testing.T, p *wspresence.Presence) (url string, sessions chan *wssync.Session) {
	t.Helper()
	sessions = make(chan *wssync.Session, 8)
	url = serveManager(t, wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		if err := p.Join(sess); err != nil {
			return err
		}
		sessions <- sess
		return nil
	}))
	return url, sessions
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialAs(t *testing.T, ctx context.Context, url, user, session string) *wssynctest.Client {
	t.Helper()
	c, err := wssynctest.Dial(ctx, url, wssynctest.WithIdentity(user, session))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// metaOf returns the Meta p lists for session, "" when none, "-" when not a member.
func metaOf(p *wspresence.Presence, session string) string {
	for _, m := range p.Members() {
		if m.Session == session {
			return string(m.Meta)
		}
	}
	return "-"
}

func waitMeta(t *testing.T, p *wspresence.Presence, session, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for metaOf(p, session) != want {
		if time.Now().After(deadline) {
			t.Fatalf("meta of %s is %q, want %q", session, metaOf(p, session), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Meta set from Go reaches Members on every node and the clients' State, without the
// member reconnecting, and lasts across a reconnect; nil clears it.
func TestSetMetaReachesEveryNodeAndClient(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	a, err := wspresence.New(store, "room", "ROOM")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := wspresence.New(store, "room", "ROOM")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := testCtx(t)
	url, sessions := joinedRoom(t, a)
	urlB, _ := joinedRoom(t, b)
	c := dialAs(t, ctx, url, "ada", "s-ada")
	watcher := dialAs(t, ctx, urlB, "bob", "s-bob")
	sess := <-sessions
	waitMeta(t, b, "s-ada", "")

	if err := a.SetMeta(sess, map[string]any{"typing": true, "cursor": []int{3, 4}}); err != nil {
		t.Fatal(err)
	}
	const want = `{"cursor":[3,4],"typing":true}`
	waitMeta(t, b, "s-ada", want)
	for _, cl := range []*wssynctest.Client{c, watcher} {
		if _, err := wssynctest.WaitState(ctx, cl, "ROOM", func(s wspresence.State) bool {
			return len(s.Members) == 2 && string(s.Members[0].Meta) == want
		}); err != nil {
			t.Fatalf("a client never saw the meta: %v", err)
		}
	}

	// A reconnect keeps it: the Meta belongs to the membership, not to the connection.
	_ = c.Close()
	waitMeta(t, b, "s-ada", "-")
	dialAs(t, ctx, url, "ada", "s-ada")
	waitMeta(t, b, "s-ada", want)

	if err := a.SetMeta(sess, nil); err != nil {
		t.Fatal(err)
	}
	waitMeta(t, b, "s-ada", "")
}

// SetMeta refuses what the doc says it refuses, each with its sentinel, and leaves the
// Meta byte for byte as it was.
func TestSetMetaRefusals(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	p, err := wspresence.New(store, "room", "ROOM", wspresence.WithMaxMeta(16))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := testCtx(t)
	url, sessions := joinedRoom(t, p)
	dialAs(t, ctx, url, "ada", "s-ada")
	sess := <-sessions
	if err := p.SetMeta(sess, json.RawMessage(` { "a" : 1 } `)); err != nil {
		t.Fatal(err)
	}
	waitMeta(t, p, "s-ada", `{"a":1}`)

	stranger := wssync.NewSession()
	defer stranger.Close()
	for _, tc := range []struct {
		name string
		sess *wssync.Session
		v    any
		want error
	}{
		{"too large", sess, strings.Repeat("x", 20), wspresence.ErrMetaTooLarge},
		{"not JSON", sess, json.RawMessage(`{"a":`), wspresence.ErrMetaNotJSON},
		{"not a member", stranger, 1, wspresence.ErrNotMember},
	} {
		if err := p.SetMeta(tc.sess, tc.v); !errors.Is(err, tc.want) {
			t.Errorf("%s: SetMeta = %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := p.SetMeta(sess, func() {}); err == nil {
		t.Error("SetMeta took a value encoding/json cannot marshal")
	}
	// Exactly 16 bytes is within the limit.
	if err := p.SetMeta(sess, json.RawMessage(`"`+strings.Repeat("y", 14)+`"`)); err != nil {
		t.Errorf("a Meta at the limit: %v", err)
	}
	waitMeta(t, p, "s-ada", `"`+strings.Repeat("y", 14)+`"`)
}

// sendMeta calls MetaAction with request id id and returns the _RESULT's error ("" when
// it succeeded).
func sendMeta(t *testing.T, ctx context.Context, c *wssynctest.Client, id string, meta any) string {
	t.Helper()
	data := map[string]any{"type": wspresence.MetaAction, "meta": meta}
	if err := c.SendFrame(map[string]any{"type": "_ACTION:ROOM", "data": data, "id": id}); err != nil {
		t.Fatal(err)
	}
	f, err := c.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_RESULT" && f.ID == id })
	if err != nil {
		t.Fatalf("no _RESULT for %s: %v", id, err)
	}
	if len(f.Error) == 0 || string(f.Error) == "null" {
		return ""
	}
	var e wssync.Error
	if err := json.Unmarshal(f.Error, &e); err != nil {
		t.Fatal(err)
	}
	return string(e.Code) + " " + e.Path
}

// A client sets its own Meta through MetaAction when WithClientMeta allows it. Updates
// past the size limit, past the rate or refused by Accept get their documented codes
// and leave the Meta byte for byte as it was; without WithClientMeta the action is unknown.
func TestClientMeta(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	validated := make(chan wspresence.Member, 16)
	p, err := wspresence.New(store, "room", "ROOM", wspresence.WithMaxMeta(32),
		wspresence.WithClientMeta(wspresence.ClientMeta{
			Rate:  1e-9, // no refill within the test: the burst is all there is
			Burst: 5,
			Accept: func(ctx context.Context, m wspresence.Member, proposed json.RawMessage) (json.RawMessage, error) {
				validated <- m
				if id, _ := wssync.IdentityFrom(ctx); id.User != m.User {
					return nil, fmt.Errorf("identity %q validating %q", id.User, m.User)
				}
				if bytes.Contains(proposed, []byte("admin")) {
					return nil, &wssync.FieldError{Path: "/meta/status", Message: "not yours to claim"}
				}
				if bytes.Contains(proposed, []byte("grow")) {
					return json.RawMessage(`"` + strings.Repeat("z", 40) + `"`), nil // past the limit
				}
				return proposed, nil
			},
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := testCtx(t)
	url, _ := joinedRoom(t, p)
	c := dialAs(t, ctx, url, "ada", "s-ada")

	steps := []struct {
		meta  any
		want  string // the _RESULT's "code path", "" for success
		meta2 string
	}{
		{map[string]any{"typing": true}, "", `{"typing":true}`},
		{strings.Repeat("x", 40), "too_large /meta", `{"typing":true}`},
		{map[string]any{"status": "admin"}, "rejected /meta/status", `{"typing":true}`},
		{"grow", "too_large /meta", `{"typing":true}`}, // what Accept returns is bounded too
		{nil, "", ""},            // the 5th update: the burst is spent
		{1, "rate_limited ", ""}, // refused before the size or Accept
		{strings.Repeat("x", 40), "rate_limited ", ""},
	}
	for i, s := range steps {
		if got := sendMeta(t, ctx, c, fmt.Sprint("r", i), s.meta); got != s.want {
			t.Fatalf("step %d: result %q, want %q", i, got, s.want)
		}
		waitMeta(t, p, "s-ada", s.meta2)
	}
	if n := len(validated); n != 4 {
		t.Errorf("Accept ran %d times, want 4 (size and rate refusals come first)", n)
	}

	plain, err := wspresence.New(store, "plain", "PLAIN")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	url2, _ := joinedRoom(t, plain)
	c2 := dialAs(t, ctx, url2, "bob", "s-bob")
	if err := c2.SendFrame(map[string]any{"type": "_ACTION:PLAIN", "data": map[string]any{"type": "meta", "meta": 1}, "id": "x"}); err != nil {
		t.Fatal(err)
	}
	f, err := c2.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_RESULT" && f.ID == "x" })
	if err != nil || !bytes.Contains(f.Error, []byte("unknown_action")) {
		t.Fatalf("meta without WithClientMeta: %s, %v; want unknown_action", f.Error, err)
	}
}

// An Online refuses WithClientMeta, and New refuses an empty key.
func TestOptionsMisapplied(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	if _, err := wspresence.NewOnline(store, "online", wspresence.WithClientMeta(wspresence.ClientMeta{})); err == nil {
		t.Error("NewOnline took WithClientMeta")
	}
	if _, err := wspresence.New(store, "room", ""); !errors.Is(err, wssync.ErrBadKey) {
		t.Errorf("New with no key: %v, want ErrBadKey", err)
	}
}
