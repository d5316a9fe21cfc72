package wssync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	neturl "net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

// Attacks by a hostile client on identities, write rules and views, over real sockets.
// Each test names the promise it tries to break.

// AtkNote is an owned element: only the user its author names may change it.
type AtkNote struct {
	ID     string `json:"id"`
	Author string `json:"author"`
	Text   string `json:"text"`
}

// AtkRoom mixes every rule: a role-guarded topic, owned lists and maps, and parts a guest
// does not see.
type AtkRoom struct {
	Topic   string             `sync:"topic,write=admin"`
	Notes   []AtkNote          `sync:"notes,write,owner=author"`
	Pins    map[string]AtkNote `sync:"pins,write,owner=author"`
	Ptrs    []*AtkNote         `sync:"ptrs,write,owner=author"`
	Members []Member           `sync:"members,write"`
	Audit   []string           `sync:"audit,write"`
	Secrets map[string]string  `sync:"secrets,write"`
	Free    map[string]string  `sync:"free,write"`
}

var atkViews = []wssync.View{
	{Name: "admin"},
	{Name: "guest", Hide: []string{"/members/*/email", "/audit", "/secrets/a~1b", "/secrets/t~0x"}},
}

func newAtkRoom() *AtkRoom {
	return &AtkRoom{
		Topic:   "topic",
		Notes:   []AtkNote{{ID: "n1", Author: "ann", Text: "ann's"}, {ID: "n2", Author: "gus", Text: "gus's"}, {ID: "n3", Author: "", Text: "nobody's"}},
		Pins:    map[string]AtkNote{"a/b": {ID: "p1", Author: "ann", Text: "ann's pin"}, "t~x": {ID: "p2", Author: "ann", Text: "ann's"}, "mine": {ID: "p3", Author: "gus", Text: "gus's"}},
		Ptrs:    []*AtkNote{{ID: "q1", Author: "ann", Text: "ann's"}},
		Members: []Member{{Name: "ann", Email: secret + "ann"}},
		Audit:   []string{secret + "audit"},
		Secrets: map[string]string{"a/b": secret + "slash", "t~x": secret + "tilde", "open": "open"},
		Free:    map[string]string{},
	}
}

// atkVerify is the test's token verifier: a token is "user:role[:session]".
func atkVerify(_ context.Context, token string) (wssync.Identity, error) {
	parts := strings.Split(token, ":")
	if len(parts) < 2 {
		return wssync.Identity{}, fmt.Errorf("bad token %q", token)
	}
	id := wssync.Identity{User: parts[0], Roles: []string{parts[1]}}
	if len(parts) > 2 {
		id.Session = parts[2]
	}
	return id, nil
}

type atkServer struct {
	room   *AtkRoom
	shared *wssync.Synced[AtkRoom]
	mgr    *wssync.Manager
	url    string
	done   chan string
}

// newAtkServer serves one shared AtkRoom with views to sessions identified from the
// query (?u=user&s=session&role=role), refreshing through atkVerify.
func newAtkServer(t *testing.T, opts ...wssync.ManagerOption) *atkServer {
	t.Helper()
	s := &atkServer{room: newAtkRoom(), done: make(chan string, 64)}
	var err error
	s.shared, err = wssync.NewShared("ROOM", s.room, wssync.WithViews(roleView, atkViews...))
	if err != nil {
		t.Fatal(err)
	}
	if err := wssync.Action(s.shared, "done", func(ctx context.Context, _ struct{}) error {
		id, _ := wssync.IdentityFrom(ctx)
		s.done <- id.User
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	opts = append([]wssync.ManagerOption{
		wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
			q := r.URL.Query()
			return wssync.Identity{User: q.Get("u"), Session: q.Get("s"), Roles: []string{q.Get("role")}}, nil
		}),
		wssync.WithTokenRefresh(atkVerify),
		wssync.WithLimits(wssync.Limits{RatePerSecond: -1, MaxBadFrames: 1 << 20}),
	}, opts...)
	s.mgr = wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return s.shared.Join(sess) }, opts...)
	s.url = serveManager(t, s.mgr)
	return s
}

func (s *atkServer) snapshot(t *testing.T) []byte {
	t.Helper()
	s.shared.RLock()
	defer s.shared.RUnlock()
	b, err := json.Marshal(s.room)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var atkSeq atomic.Int64

// roundTrip sends event/data, then a "done" action, and returns the frames the client
// received up to the action's result: the write is handled by then.
func roundTrip(t *testing.T, c *wssynctest.Client, event string, data any) []wssynctest.Frame {
	t.Helper()
	from := len(c.Frames())
	var err error
	if raw, ok := data.(string); ok {
		err = c.SendRaw([]byte(`{"type":"` + event + `","data":` + raw + `}`))
	} else {
		err = c.Send(event, data)
	}
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprint("sync-", atkSeq.Add(1))
	if err := c.SendFrame(map[string]any{"type": "_ACTION:ROOM", "id": id, "data": map[string]any{"type": "done"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitFrame(ctxT(t), func(f wssynctest.Frame) bool { return f.Type == "_RESULT" && f.ID == id }); err != nil {
		t.Fatalf("no result for %s: %v (%s)", id, err, frameTypes(c.Frames()))
	}
	return c.Frames()[from:]
}

func firstError(t *testing.T, fs []wssynctest.Frame) (wssync.Error, bool) {
	for _, f := range fs {
		if f.Type == "_ERROR" {
			return errorOf(t, f), true
		}
	}
	return wssync.Error{}, false
}

// hostileWrite is one write a guest named gus (role guest) must be refused.
type hostileWrite struct {
	name  string
	event string
	data  any // a string is sent as raw JSON
}

// Promise (docs/security.md, "Who may write what"): owner=author is "checked on the
// field's value before and after the write, not on the ops, so no sequence of ops ...
// can change, remove, duplicate or reorder another user's element, or forge one in their
// name"; write=admin: "only writers with one of the roles may change it"; members "matched
// as encoding/json matches them, case-insensitive names". Each write below, by guest gus,
// must leave the struct byte-identical and draw an _ERROR.
func TestAttackOwnerAndRoleRulesWithJSONTricks(t *testing.T) {
	t.Parallel()
	s := newAtkServer(t)
	gus := wstest.Dial(t, s.url+"?u=gus&s=g1&role=guest")
	wstest.WaitType(t, gus, "_SET:ROOM")
	P := "_PATCH:ROOM"
	S := "_SET:ROOM"
	for _, w := range []hostileWrite{
		{"case-folded topic via _SET", S, `{"Topic":"pwned"}`},
		{"upper-case topic via _SET", S, `{"TOPIC":"pwned"}`},
		{"escaped topic name via _SET", S, `{"\u0074opic":"pwned"}`},
		{"duplicate topic keys via _SET", S, `{"topic":"topic","topic":"pwned"}`},
		{"case-folded topic via add", P, `[{"op":"add","path":"/Topic","value":"pwned"}]`},
		{"forged author, duplicate keys", P, `[{"op":"add","path":"/notes/-","value":{"id":"x","author":"gus","author":"ann","text":"forged"}}]`},
		{"forged author, case-folded key", P, `[{"op":"add","path":"/notes/-","value":{"id":"x","author":"gus","AUTHOR":"ann","text":"forged"}}]`},
		{"forged author, escaped key", P, `[{"op":"add","path":"/notes/-","value":{"id":"x","author":"gus","\u0061uthor":"ann","text":"forged"}}]`},
		{"take over ann's note, case-folded member", P, `[{"op":"add","path":"/notes/0/Author","value":"gus"}]`},
		{"rewrite ann's text, case-folded member", P, `[{"op":"add","path":"/notes/0/TEXT","value":"pwned"}]`},
		{"rewrite nobody's note", P, `[{"op":"replace","path":"/notes/2/text","value":"pwned"}]`},
		{"claim nobody's note", P, `[{"op":"replace","path":"/notes/2/author","value":"gus"}]`},
		{"duplicate ann's by copy", P, `[{"op":"copy","from":"/notes/0","path":"/notes/-"}]`},
		{"remove and re-add ann's", P, `[{"op":"remove","path":"/notes/0"},{"op":"add","path":"/notes/-","value":{"id":"n1","author":"ann","text":"ann's"}}]`},
		{"test then replace ann's", P, `[{"op":"test","path":"/notes/0/author","value":"ann"},{"op":"replace","path":"/notes/0/text","value":"pwned"}]`},
		{"replace whole list keeping own", P, `[{"op":"replace","path":"/notes","value":[{"id":"n2","author":"gus","text":"gus's"}]}]`},
		{"_SET with duplicated notes key", S, `{"notes":[{"id":"n1","author":"ann","text":"ann's"},{"id":"n2","author":"gus","text":"gus's"},{"id":"n3","author":"","text":"nobody's"}],"notes":[]}`},
		{"map key with slash", P, `[{"op":"replace","path":"/pins/a~1b/text","value":"pwned"}]`},
		{"map key with tilde", P, `[{"op":"replace","path":"/pins/t~0x/text","value":"pwned"}]`},
		{"add over ann's map entry", P, `[{"op":"add","path":"/pins/a~1b","value":{"id":"p1","author":"gus","text":"mine now"}}]`},
		{"move own pin over ann's", P, `[{"op":"move","from":"/pins/mine","path":"/pins/t~0x"}]`},
		{"rename ann's map key", P, `[{"op":"move","from":"/pins/a~1b","path":"/pins/gus"}]`},
		{"pointer element set to null", P, `[{"op":"replace","path":"/ptrs/0","value":null}]`},
		{"pointer element forged", P, `[{"op":"add","path":"/ptrs/-","value":{"id":"q2","author":"ann","text":"forged"}}]`},
		{"pointer element case-folded author", P, `[{"op":"add","path":"/ptrs/0/AUTHOR","value":"gus"}]`},
		{"op with two paths, topic last", P, `[{"op":"replace","path":"/notes/1/text","path":"/topic","value":"pwned"}]`},
		{"op with two paths, ann's note last", P, `[{"op":"replace","path":"/notes/1/text","path":"/notes/0/text","value":"pwned"}]`},
		{"op with two ops", P, `[{"op":"test","path":"/notes/0","op":"remove"}]`},
		{"op with two values", P, `[{"op":"add","path":"/notes/-","value":{"id":"x","author":"gus","text":"ok"},"value":{"id":"x","author":"ann","text":"forged"}}]`},
	} {
		before := s.snapshot(t)
		fs := roundTrip(t, gus, w.event, w.data)
		after := s.snapshot(t)
		if !bytes.Equal(before, after) {
			t.Errorf("%s changed the struct:\n%s\n%s", w.name, before, after)
			// Put it back for the next write.
			if err := s.shared.Update(func(r *AtkRoom) { *r = *newAtkRoom() }); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, ok := firstError(t, fs); !ok {
			t.Errorf("%s: no _ERROR (%s)", w.name, frameTypes(fs))
		}
	}
	// A writer may still change its own and add its own (the rules are not merely closed).
	fs := roundTrip(t, gus, P, `[{"op":"replace","path":"/notes/1/text","value":"edited"},{"op":"add","path":"/notes/0","value":{"id":"g2","author":"gus","text":"first"}}]`)
	if e, ok := firstError(t, fs); ok {
		t.Fatalf("own edit refused: %+v", e)
	}
}

// Promise (docs/security.md, "Views of shared objects"): "No write into what it hides. A
// client op whose path or from lies at or under a hidden pointer, or above one ... is
// refused with read_only", with members matched case-insensitively by the decoder. A
// guest that spells a hidden member in another case, or escapes it, must not change it.
func TestAttackViewHiddenMembersByCaseAndEscapes(t *testing.T) {
	t.Parallel()
	s := newAtkServer(t)
	gus := wstest.Dial(t, s.url+"?u=gus&s=g1&role=guest")
	wstest.WaitType(t, gus, "_SET:ROOM")
	P := "_PATCH:ROOM"
	S := "_SET:ROOM"
	for _, w := range []hostileWrite{
		{"hidden email, member added in _SET", S, `{"members":[{"name":"ann","Email":"attacker@x"}]}`},
		{"hidden email, escaped in _SET", S, `{"members":[{"name":"ann","\u0065mail":"attacker@x"}]}`},
		{"hidden audit, case-folded _SET", S, `{"Audit":[]}`},
		{"hidden audit, escaped _SET", S, `{"\u0061udit":["x"]}`},
		{"hidden audit, case-folded add", P, `[{"op":"add","path":"/AUDIT","value":[]}]`},
		{"hidden map entry with slash", P, `[{"op":"replace","path":"/secrets/a~1b","value":"x"}]`},
		{"hidden map entry with tilde", P, `[{"op":"replace","path":"/secrets/t~0x","value":"x"}]`},
		{"hidden map entry removed", P, `[{"op":"remove","path":"/secrets/a~1b"}]`},
		{"hidden map entry copied out", P, `[{"op":"copy","from":"/secrets/a~1b","path":"/free/leak"}]`},
		{"hidden map entry via parent replace", P, `[{"op":"replace","path":"/secrets","value":{"open":"open"}}]`},
		{"hidden map entry via _SET of the map", S, `{"secrets":{"open":"open"}}`},
		{"_SET, duplicated members, hidden value last", S, `{"members":[{"name":"ann"}],"members":[{"name":"ann","email":"attacker@x"}]}`},
		{"_SET, duplicated members, hidden value first", S, `{"members":[{"name":"ann","email":"attacker@x"}],"members":[{"name":"ann"}]}`},
		{"_SET, duplicated email member", S, `{"members":[{"name":"ann","email":"attacker@x","name":"ann"}]}`},
		{"op with two paths, hidden last", P, `[{"op":"replace","path":"/free","path":"/audit","value":[]}]`},
		{"op with two paths, hidden first", P, `[{"op":"replace","path":"/audit","path":"/free","value":{}}]`},
		{"op with two ops", P, `[{"op":"test","path":"/audit","op":"remove"}]`},
		{"op with two froms", P, `[{"op":"copy","from":"/free","from":"/audit","path":"/free/leak"}]`},
		{"op with two froms, hidden first", P, `[{"op":"copy","from":"/audit","from":"/free","path":"/free/leak"}]`},
	} {
		before := s.snapshot(t)
		fs := roundTrip(t, gus, w.event, w.data)
		after := s.snapshot(t)
		if !bytes.Equal(before, after) {
			t.Errorf("%s changed a hidden part:\n%s\n%s", w.name, before, after)
			if err := s.shared.Update(func(r *AtkRoom) { *r = *newAtkRoom() }); err != nil {
				t.Fatal(err)
			}
		}
		if bytes.Contains(framesBytes(fs), []byte(secret)) {
			t.Errorf("%s: a frame carried a secret: %s", w.name, framesBytes(fs))
		}
	}
	if bytes.Contains(framesBytes(gus.Frames()), []byte(secret)) {
		t.Fatal("the guest received a secret")
	}
}

// Promise (docs/security.md, "Views of shared objects"): "No write into what it hides. A
// client op whose path ... lies at or under a hidden pointer ... is refused with
// read_only". The hidden pointer /members/*/email is matched case-sensitively, but the
// decoder matches members case-insensitively: a guest's `add /members/0/EMAIL` passes the
// view check and is decoded into the hidden Email field, overwriting the admin-only value.
func TestAttackViewHiddenMemberInAnotherCase(t *testing.T) {
	t.Parallel()
	s := newAtkServer(t)
	gus := wstest.Dial(t, s.url+"?u=gus&s=g1&role=guest")
	wstest.WaitType(t, gus, "_SET:ROOM")
	for _, op := range []string{
		`{"op":"add","path":"/members/0/EMAIL","value":"attacker@x"}`,
		`{"op":"add","path":"/members/0/Email","value":"attacker@x"}`,
		`{"op":"add","path":"/members/-","value":{"name":"x","EMAIL":"attacker@x"}}`,
		`{"op":"add","path":"/members/-","value":{"name":"x","eMail":"attacker@x"}}`,
	} {
		path := op
		before := s.snapshot(t)
		fs := roundTrip(t, gus, "_PATCH:ROOM", `[`+op+`]`)
		if after := s.snapshot(t); !bytes.Equal(before, after) {
			t.Errorf("add %s changed a hidden member:\n%s\n%s", path, before, after)
			if err := s.shared.Update(func(r *AtkRoom) { *r = *newAtkRoom() }); err != nil {
				t.Fatal(err)
			}
		}
		if e, ok := firstError(t, fs); !ok || e.Code != wssync.CodeReadOnly {
			t.Errorf("add %s: %+v, want read_only", path, e)
		}
	}
}

// Promise (docs/security.md): the view follows the identity "whenever the session's
// identity changes (a reconnect with other roles, an in-session token refresh): the
// session's queued patches of the old view are dropped and a fresh _SET of the new one is
// sent"; the write rules check the writer's identity. A refresh that demotes an admin
// over `_AUTH` while the server publishes secrets: after the guest _SET no frame carries
// a secret, and a write to the admin-only topic is refused at once.
func TestAttackRefreshDemotionRacingPublishes(t *testing.T) {
	t.Parallel()
	s := newAtkServer(t)
	c := wstest.Dial(t, s.url+"?u=ann&s=a1&role=admin")
	if f := wstest.WaitType(t, c, "_SET:ROOM"); !bytes.Contains(f.Data, []byte(secret)) {
		t.Fatalf("admin _SET %s", f.Data)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = s.shared.Update(func(r *AtkRoom) {
				r.Audit = append(r.Audit[:0], fmt.Sprint(secret, "race", i))
				r.Members[0].Email = fmt.Sprint(secret, "mail", i)
			})
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	if err := c.SendFrame(map[string]any{"type": "_AUTH", "id": "demote", "data": map[string]string{"token": "ann:guest"}}); err != nil {
		t.Fatal(err)
	}
	if res := wstest.WaitType(t, c, "_RESULT"); res.Error != nil {
		t.Fatalf("refresh refused: %s", res.Error)
	}
	// The fresh _SET of the guest view: a _SET:ROOM without a secret, before or after the
	// result.
	guestSet := func() int {
		for i, f := range c.Frames() {
			if f.Type == "_SET:ROOM" && !bytes.Contains(f.Data, []byte(secret)) {
				return i
			}
		}
		return -1
	}
	wstest.Eventually(t, "a guest _SET after the demotion", func() bool { return guestSet() >= 0 })
	setAt := guestSet()
	from := len(c.Frames())
	fs := roundTrip(t, c, "_PATCH:ROOM", []wssynctest.Op{wssynctest.Replace("/topic", "demoted")})
	if e, ok := firstError(t, fs); !ok || e.Code != wssync.CodeReadOnly {
		t.Errorf("topic write after demotion: %+v (%s)", e, frameTypes(fs))
	}
	close(stop)
	wg.Wait()
	stop = make(chan struct{})
	wg.Add(1)
	go func() { defer wg.Done(); <-stop }()
	if _, err := c.WaitVersion(ctxT(t), "ROOM", s.shared.Version()); err != nil {
		t.Fatal(err)
	}
	_ = from
	for _, f := range c.Frames()[setAt+1:] {
		if bytes.Contains(f.Data, []byte(secret)) {
			t.Fatalf("after the guest _SET, %s carried a secret: %.200s", f.Type, f.Data)
		}
	}
	s.shared.RLock()
	topic := s.room.Topic
	s.shared.RUnlock()
	if topic != "topic" {
		t.Fatalf("topic %q after a demoted write", topic)
	}
}

// Promise (godoc WithTokenRefresh): "an identity of another user or session is refused
// with CodeTokenWrongUser and the connection closed with CloseUnauthorized", and the
// identity is unchanged. Refresh identities that are "another user" in less obvious ways:
// the same name in another case, an empty user, another session id.
func TestAttackRefreshAnotherUserInDisguise(t *testing.T) {
	t.Parallel()
	s := newAtkServer(t)
	for i, tok := range []string{"Ann:admin", ":admin", "ann :admin", "ann:admin:other-session"} {
		sid := fmt.Sprint("d", i)
		c := wstest.Dial(t, s.url+"?u=ann&s="+sid+"&role=guest")
		wstest.WaitType(t, c, "_SET:ROOM")
		if err := c.SendFrame(map[string]any{"type": "_AUTH", "id": "r", "data": map[string]string{"token": tok}}); err != nil {
			t.Fatal(err)
		}
		res := wstest.WaitType(t, c, "_RESULT")
		if !strings.Contains(string(res.Error), `"token_wrong_user"`) {
			t.Errorf("token %q: result %+v, want token_wrong_user", tok, res)
		}
		if code := closeCode(t, c); code != wssync.CloseUnauthorized {
			t.Errorf("token %q: close %d, want %d", tok, code, wssync.CloseUnauthorized)
		}
		if sess, ok := s.mgr.Session(sid); ok && sess.Identity().HasRole("admin") {
			t.Errorf("token %q: session promoted to %+v", tok, sess.Identity())
		}
		if bytes.Contains(framesBytes(c.Frames()), []byte(secret)) {
			t.Errorf("token %q: the guest received a secret", tok)
		}
	}
}

// Promise (docs/security.md): the writer of a write on a shared object is "the session
// that sent the frame ... (on a shared object, never another subscriber's)". An admin and
// a guest write at once, many times: every guest write to the admin-only topic is
// refused and every admin write accepted, whatever interleaving.
func TestAttackConcurrentWritersKeepTheirOwnIdentity(t *testing.T) {
	t.Parallel()
	s := newAtkServer(t)
	admin := wstest.Dial(t, s.url+"?u=ann&s=a1&role=admin")
	guest := wstest.Dial(t, s.url+"?u=gus&s=g1&role=guest")
	wstest.WaitType(t, admin, "_SET:ROOM")
	wstest.WaitType(t, guest, "_SET:ROOM")
	const n = 200
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range n {
			_ = admin.Patch("ROOM", wssynctest.Replace("/topic", fmt.Sprint("admin-", i)))
		}
	}()
	go func() {
		defer wg.Done()
		for i := range n {
			_ = guest.Patch("ROOM", wssynctest.Replace("/topic", fmt.Sprint("guest-", i)))
		}
	}()
	wg.Wait()
	roundTrip(t, admin, "_GET:ROOM", map[string]any{})
	roundTrip(t, guest, "_GET:ROOM", map[string]any{})
	s.shared.RLock()
	topic := s.room.Topic
	s.shared.RUnlock()
	if !strings.HasPrefix(topic, "admin-") {
		t.Fatalf("topic %q", topic)
	}
	var refused int
	for _, f := range guest.Frames() {
		if f.Type == "_ERROR" {
			refused++
		}
	}
	for _, f := range admin.Frames() {
		if f.Type == "_ERROR" {
			t.Fatalf("admin write refused: %s", f.Data)
		}
	}
	if refused != n {
		t.Fatalf("%d of %d guest writes refused", refused, n)
	}
}

// Promise (godoc WithViews, "also Register"): a per-session object registered with views
// filters by the session's identity like a shared one; and two objects of one type, one
// with views and one without, do not share a filter.
func TestAttackViewsOnRegisterAndTwoObjectsOfOneType(t *testing.T) {
	t.Parallel()
	plain, err := wssync.NewShared("PLAIN", newAtkRoom())
	if err != nil {
		t.Fatal(err)
	}
	viewed, err := wssync.NewShared("VIEWED", newAtkRoom(), wssync.WithViews(roleView, atkViews...))
	if err != nil {
		t.Fatal(err)
	}
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		if _, err := wssync.Register(sess, "MINE", newAtkRoom(), wssync.WithViews(roleView, atkViews...)); err != nil {
			return err
		}
		if err := viewed.Join(sess); err != nil {
			return err
		}
		return plain.Join(sess)
	}, wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
		q := r.URL.Query()
		return wssync.Identity{User: q.Get("u"), Session: q.Get("s"), Roles: []string{q.Get("role")}}, nil
	}))
	url := serveManager(t, m)
	g := wstest.Dial(t, url+"?u=gus&s=g1&role=guest")
	sets := map[string][]byte{}
	wstest.Eventually(t, "three _SETs", func() bool {
		for _, f := range g.Frames() {
			if k, ok := strings.CutPrefix(f.Type, "_SET:"); ok {
				sets[k] = f.Data
			}
		}
		return len(sets) == 3
	})
	for _, k := range []string{"MINE", "VIEWED"} {
		if bytes.Contains(sets[k], []byte(secret)) {
			t.Errorf("guest _SET:%s carries a secret: %s", k, sets[k])
		}
	}
	if !bytes.Contains(sets["PLAIN"], []byte(secret)) {
		t.Errorf("the object without views is filtered too: %s", sets["PLAIN"])
	}
	if err := viewed.Update(func(r *AtkRoom) { r.Audit = append(r.Audit, secret+"v2") }); err != nil {
		t.Fatal(err)
	}
	if err := plain.Update(func(r *AtkRoom) { r.Audit = append(r.Audit, "plain2") }); err != nil {
		t.Fatal(err)
	}
	if _, err := g.WaitVersion(ctxT(t), "PLAIN", plain.Version()); err != nil {
		t.Fatal(err)
	}
	if _, err := g.WaitVersion(ctxT(t), "VIEWED", viewed.Version()); err != nil {
		t.Fatal(err)
	}
	for _, f := range g.Frames() {
		if f.Type != "_SET:PLAIN" && f.Type != "_PATCH:PLAIN" && bytes.Contains(f.Data, []byte(secret)) {
			t.Errorf("%s carries a secret: %s", f.Type, f.Data)
		}
	}
}

// Promise (docs/security.md, views): "a test of it would be an oracle", so a test op on a
// hidden part is refused before anything is applied. The refusal of a right guess and of
// a wrong one must be the same bytes, for a hidden whole field and a hidden member.
func TestAttackTestOpOnHiddenIsNoOracle(t *testing.T) {
	t.Parallel()
	s := newAtkServer(t)
	gus := wstest.Dial(t, s.url+"?u=gus&s=g1&role=guest")
	wstest.WaitType(t, gus, "_SET:ROOM")
	for _, tc := range []struct{ path, right string }{
		{"/audit/0", secret + "audit"},
		{"/members/0/email", secret + "ann"},
		{"/secrets/a~1b", secret + "slash"},
	} {
		var answers [][]byte
		for _, guess := range []string{tc.right, "wrong"} {
			fs := roundTrip(t, gus, "_PATCH:ROOM", []map[string]any{{"op": "test", "path": tc.path, "value": guess}})
			var errs []byte
			for _, f := range fs {
				if f.Type == "_ERROR" || strings.HasPrefix(f.Type, "_SET") {
					errs = append(errs, f.Type...)
					errs = append(errs, f.Data...)
				}
			}
			answers = append(answers, errs)
		}
		if !bytes.Equal(answers[0], answers[1]) {
			t.Errorf("test %s: a right guess answered apart from a wrong one:\n%s\n%s", tc.path, answers[0], answers[1])
		}
		if len(answers[0]) == 0 {
			t.Errorf("test %s: no refusal", tc.path)
		}
	}
}

// Promise (docs/security.md, per-user objects): "A session of another user never gets the
// object (the table is keyed by user)." Users whose ids differ only in case or by a
// trailing space, joining at once, each get an object built for them alone.
func TestAttackRegisterUserLookalikeUsersRacing(t *testing.T) {
	t.Parallel()
	type Cart struct {
		Owner string `sync:"owner"`
	}
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		_, err := wssync.RegisterUser(sess, "CART", func(ctx context.Context) (*Cart, error) {
			id, _ := wssync.IdentityFrom(ctx)
			return &Cart{Owner: id.User}, nil
		})
		return err
	}, wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
		q := r.URL.Query()
		return wssync.Identity{User: q.Get("u"), Session: q.Get("s")}, nil
	}))
	url := serveManager(t, m)
	users := []string{"ann", "Ann", "ANN", "ann ", "ann\u0000"}
	var wg sync.WaitGroup
	clients := make([][]*wssynctest.Client, len(users))
	var mu sync.Mutex
	for i, u := range users {
		for j := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := wssynctest.Dial(ctxT(t), url+"?u="+neturl.QueryEscape(u)+"&s="+fmt.Sprint("s", i, "-", j))
				if err != nil {
					t.Error(err)
					return
				}
				t.Cleanup(func() { _ = c.Close() })
				mu.Lock()
				clients[i] = append(clients[i], c)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	for i, cs := range clients {
		for _, c := range cs {
			f := wstest.WaitType(t, c, "_SET:CART")
			var cart Cart
			if err := json.Unmarshal(f.Data, &cart); err != nil {
				t.Fatal(err)
			}
			if cart.Owner != users[i] {
				t.Errorf("user %q got the cart of %q", users[i], cart.Owner)
			}
			_ = c.Close()
		}
	}
}

// CtxTeam vetoes in ValidateWriteContext with refusals that point into what guests do
// not see, their messages carrying a secret.
type CtxTeam struct {
	Title   string   `sync:"title,write"`
	Members []Member `sync:"members,write"`
	Audit   []string `sync:"audit,write"`
}

func (*CtxTeam) ValidateWriteContext(ctx context.Context, prev, next *CtxTeam) error {
	id, _ := wssync.IdentityFrom(ctx)
	switch next.Title {
	case "field-error":
		return &wssync.FieldError{Path: "/members/0/email", Message: "mail is " + prev.Members[0].Email}
	case "read-only":
		return &wssync.Error{Code: wssync.CodeReadOnly, Path: "/audit/0", Message: "audit is " + prev.Audit[0]}
	case "rejected":
		return &wssync.Error{Code: wssync.CodeRejected, Path: "/audit", Message: "audit is " + prev.Audit[0]}
	}
	if id.User != "ann" && next.Title != prev.Title && strings.HasPrefix(next.Title, "ann") {
		return &wssync.FieldError{Path: "/title", Message: "only ann"}
	}
	return nil
}

// Promise (docs/security.md, views): "A refusal from decoding or validation whose path
// points into a hidden part is sent without that path or message." A
// ValidateWriteContext refusal pointing into the hidden e-mail or audit, carrying its
// value, must reach the guest without either, and the admin with them.
func TestAttackWriteContextRefusalIntoHiddenPart(t *testing.T) {
	t.Parallel()
	team := &CtxTeam{Title: "t", Members: []Member{{Name: "ann", Email: secret + "ann"}}, Audit: []string{secret + "audit"}}
	shared, err := wssync.NewShared("TEAM", team, wssync.WithViews(roleView, teamViews...))
	if err != nil {
		t.Fatal(err)
	}
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return shared.Join(sess) },
		wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
			q := r.URL.Query()
			return wssync.Identity{User: q.Get("u"), Session: q.Get("s"), Roles: []string{q.Get("role")}}, nil
		}), wssync.WithLimits(wssync.Limits{MaxBadFrames: 1 << 20}))
	url := serveManager(t, m)
	for _, role := range []string{"admin", "guest"} {
		c := wstest.Dial(t, url+"?u="+role+"&s="+role+"&role="+role)
		wstest.WaitType(t, c, "_SET:TEAM")
		for _, title := range []string{"field-error", "read-only", "rejected"} {
			if err := c.Patch("TEAM", wssynctest.Replace("/title", title)); err != nil {
				t.Fatal(err)
			}
			f := wstest.WaitType(t, c, "_ERROR")
			e := errorOf(t, f)
			leaked := bytes.Contains(f.Data, []byte(secret)) || strings.Contains(e.Path, "email") || strings.Contains(e.Path, "audit")
			if leaked != (role == "admin") {
				t.Errorf("%s, %s: refusal %s", role, title, f.Data)
			}
		}
	}
}

// Promise (docs/security.md): "A session's roles, claims and expiry are those the auth
// hook returned for its latest connection"; the view is chosen again on "a reconnect with
// other roles". The admin's session is taken over by a guest connection (same user and
// session id, no role) while the server publishes secrets and the admin's connection has
// patches queued: no frame of the guest connection carries a secret.
func TestAttackReconnectWithFewerRolesWhilePublishing(t *testing.T) {
	t.Parallel()
	s := newAtkServer(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = s.shared.Update(func(r *AtkRoom) {
				r.Audit = append(r.Audit[:0], fmt.Sprint(secret, "re", i))
				r.Members[0].Email = fmt.Sprint(secret, "mail", i)
			})
		}
	}()
	for round := range 5 {
		sid := fmt.Sprint("take-", round)
		admin := wstest.Dial(t, s.url+"?u=ann&s="+sid+"&role=admin")
		wstest.WaitType(t, admin, "_SET:ROOM")
		admin.Pause() // let its queue fill
		guest := wstest.Dial(t, s.url+"?u=ann&s="+sid+"&role=guest")
		wstest.WaitType(t, guest, "_SET:ROOM")
		roundTrip(t, guest, "_GET:ROOM", map[string]any{})
		if bytes.Contains(framesBytes(guest.Frames()), []byte(secret)) {
			t.Errorf("round %d: the guest connection received a secret", round)
		}
		admin.Resume()
		_ = guest.Close()
		_ = admin.Close()
	}
	close(stop)
	wg.Wait()
}

// Promise (godoc: "Handlers of one session run one at a time, in arrival order"; the
// refresh "replaces the session's roles"): a write sent right behind an `_AUTH` that
// demotes the connection is checked with the new roles, and one behind a promoting
// `_AUTH` with the new roles too, without waiting for the _RESULT.
func TestAttackWriteRightBehindRefresh(t *testing.T) {
	t.Parallel()
	s := newAtkServer(t)
	c := wstest.Dial(t, s.url+"?u=ann&s=a1&role=admin")
	wstest.WaitType(t, c, "_SET:ROOM")
	for i, step := range []struct {
		token     string
		wantTopic string
	}{{"ann:guest", "topic"}, {"ann:admin", "by admin"}} {
		if err := c.SendFrame(map[string]any{"type": "_AUTH", "data": map[string]string{"token": step.token}}); err != nil {
			t.Fatal(err)
		}
		title := "by guest"
		if i == 1 {
			title = "by admin"
		}
		roundTrip(t, c, "_PATCH:ROOM", []wssynctest.Op{wssynctest.Replace("/topic", title)})
		s.shared.RLock()
		topic := s.room.Topic
		s.shared.RUnlock()
		if topic != step.wantTopic {
			t.Fatalf("after %s: topic %q, want %q", step.token, topic, step.wantTopic)
		}
	}
}
