package wssync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

// Member is a member of a Team; guests do not see the e-mail.
type Member struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Team is a shared object with admin-only parts: every member's e-mail, and the audit.
type Team struct {
	Title   string            `sync:"title,write"`
	Members []Member          `sync:"members,write"`
	Audit   []string          `sync:"audit,write"`
	Notes   map[string]string `sync:"notes,write"`
}

// secret marks every value guests must never receive.
const secret = "SECRET-"

var teamViews = []wssync.View{
	{Name: "admin"},
	{Name: "guest", Hide: []string{"/members/*/email", "/audit"}},
}

func roleView(id wssync.Identity) string {
	if id.HasRole("admin") {
		return "admin"
	}
	return "guest"
}

// guestFilter is what a guest must hold of a Team state: the reference filter, written
// apart from the library's.
func guestFilter(t *testing.T, state []byte) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(state, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "audit")
	if ms, ok := m["members"].([]any); ok {
		for _, x := range ms {
			delete(x.(map[string]any), "email")
		}
	}
	return m
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

// tap is a loopback TCP proxy that records every byte the server sends to its clients,
// WebSocket framing included.
type tap struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (tp *tap) Write(p []byte) (int, error) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.buf.Write(p)
}

func (tp *tap) bytes() []byte {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return bytes.Clone(tp.buf.Bytes())
}

// tapURL returns a ws:// URL that reaches url through a new tap.
func tapURL(t *testing.T, url string) (string, *tap) {
	t.Helper()
	host := strings.TrimPrefix(url, "ws://")
	rest := ""
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host, rest = host[:i], host[i:]
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", host)
			if err != nil {
				_ = c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(s, c); _ = s.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(io.MultiWriter(c, tp), s); _ = c.Close() }()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "ws://" + ln.Addr().String() + rest, tp
}

// teamManager serves shared to sessions identified from the query: ?u=user&s=session&role=role.
func teamManager(t *testing.T, shared *wssync.Synced[Team], opts ...wssync.ManagerOption) *wssync.Manager {
	t.Helper()
	opts = append([]wssync.ManagerOption{
		wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
			q := r.URL.Query()
			return wssync.Identity{User: q.Get("u"), Session: q.Get("s"), Roles: []string{q.Get("role")}}, nil
		}),
		wssync.WithLimits(wssync.Limits{RatePerSecond: -1, MaxBadFrames: 1 << 20}),
	}, opts...)
	return wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		return shared.Join(sess)
	}, opts...)
}

func newTeam(t *testing.T, opts ...wssync.RegisterOption) (*Team, *wssync.Synced[Team]) {
	t.Helper()
	team := &Team{Title: "t", Members: []Member{{Name: "ann", Email: secret + "ann"}}, Audit: []string{secret + "a0"}, Notes: map[string]string{}}
	shared, err := wssync.NewShared("TEAM", team, append([]wssync.RegisterOption{wssync.WithViews(roleView, teamViews...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return team, shared
}

// done registers an action whose calls report the calling user on a channel: a client's
// call, processed after its earlier frames, tells that they have all been handled.
func doneAction(t *testing.T, shared *wssync.Synced[Team]) chan string {
	done := make(chan string, 16)
	err := wssync.Action(shared, "done", func(ctx context.Context, _ struct{}) error {
		id, _ := wssync.IdentityFrom(ctx)
		done <- id.User
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return done
}

// randomTeamChange makes one random change: by the server, the admin (writes that carry
// secrets) or the guest (writes allowed to a guest, and writes that must be refused).
func randomTeamChange(t *testing.T, r *rand.Rand, n int, shared *wssync.Synced[Team], admin, guest *wssynctest.Client) (refusable bool) {
	s := func(what string) string { return secret + what + strconv.Itoa(n) }
	upd := func(fn func(*Team)) {
		if err := shared.Update(fn); err != nil {
			t.Error(err)
		}
	}
	idx := func(m []Member) int { return r.IntN(len(m) + 1) } // may be one past the end
	var err error
	switch r.IntN(16) {
	case 0:
		upd(func(x *Team) { x.Members = append(x.Members, Member{Name: "m" + strconv.Itoa(n), Email: s("e")}) })
	case 1:
		upd(func(x *Team) {
			if i := idx(x.Members); i < len(x.Members) {
				x.Members = append(x.Members[:i], x.Members[i+1:]...)
			}
		})
	case 2:
		upd(func(x *Team) {
			if i := idx(x.Members); i < len(x.Members) {
				x.Members[i].Name = "n" + strconv.Itoa(n)
			}
		})
	case 3:
		upd(func(x *Team) {
			if i := idx(x.Members); i < len(x.Members) {
				x.Members[i].Email = s("e")
			}
		})
	case 4:
		upd(func(x *Team) {
			x.Members = []Member{{Name: "r" + strconv.Itoa(n), Email: s("r")}, {Name: "q", Email: s("q")}}
		})
	case 5:
		upd(func(x *Team) { x.Audit = append(x.Audit, s("a")) })
	case 6:
		upd(func(x *Team) { x.Audit = []string{s("w")} })
	case 7:
		upd(func(x *Team) { x.Title = "title" + strconv.Itoa(n) })
	case 8:
		err = admin.Patch("TEAM", wssynctest.Op{Op: "add", Path: "/members/-", Value: Member{Name: "am", Email: s("ae")}})
	case 9:
		err = admin.Patch("TEAM", wssynctest.Replace("/members/"+strconv.Itoa(r.IntN(3))+"/email", s("ae")))
	case 10:
		err = admin.Patch("TEAM", wssynctest.Replace("/audit", []string{s("aa")}))
	case 11:
		err = guest.Patch("TEAM", wssynctest.Replace("/title", "g"+strconv.Itoa(n)))
	case 12:
		err = guest.Patch("TEAM", wssynctest.Replace("/members/"+strconv.Itoa(r.IntN(3))+"/name", "gn"+strconv.Itoa(n)))
	case 13:
		err = guest.Patch("TEAM", wssynctest.Op{Op: "add", Path: "/members/-", Value: map[string]string{"name": "gm" + strconv.Itoa(n)}})
	case 14:
		err = guest.Send("_PATCH:TEAM", hostileGuestWrites[r.IntN(len(hostileGuestWrites))])
		refusable = true
	case 15:
		err = guest.Patch("TEAM", wssynctest.Op{Op: "add", Path: "/notes/k" + strconv.Itoa(r.IntN(5)), Value: "v" + strconv.Itoa(n)})
	}
	if err != nil {
		t.Error(err)
	}
	return refusable
}

// hostileGuestWrites are _PATCH ops a guest must be refused: each touches an e-mail or
// the audit, or would erase, copy or test them.
var hostileGuestWrites = []any{
	[]map[string]any{{"op": "replace", "path": "/members/0/email", "value": "x"}},
	[]map[string]any{{"op": "remove", "path": "/members/0"}},
	[]map[string]any{{"op": "replace", "path": "/members/0", "value": map[string]string{"name": "x"}}},
	[]map[string]any{{"op": "replace", "path": "/members", "value": []any{}}},
	[]map[string]any{{"op": "add", "path": "/members/-", "value": map[string]string{"name": "x", "email": "x"}}},
	[]map[string]any{{"op": "add", "path": "/members/0", "value": map[string]string{"name": "x"}}},
	[]map[string]any{{"op": "copy", "from": "/members/0", "path": "/notes/leak"}},
	[]map[string]any{{"op": "copy", "from": "/audit", "path": "/notes/leak"}},
	[]map[string]any{{"op": "move", "from": "/members/0/email", "path": "/notes/leak"}},
	[]map[string]any{{"op": "test", "path": "/members/0/email", "value": "x"}},
	[]map[string]any{{"op": "test", "path": "/members", "value": []any{}}},
	[]map[string]any{{"op": "replace", "path": "/audit", "value": []any{}}},
	[]map[string]any{{"op": "add", "path": "/audit/-", "value": "x"}},
	[]map[string]any{{"op": "replace", "path": "/title", "value": "ok"}, {"op": "remove", "path": "/audit/0"}},
}

// An admin and a guest share one Team through real sockets. Across 1,000 random changes
// (the server's own, the admin's writes carrying secrets, the guest's allowed and refused
// writes) no byte the server sends the guest holds a secret, while the admin's stream
// does; in the end the guest holds the guest view of the server's state, the admin all
// of it.
func TestViewGuestNeverReceivesHiddenBytes(t *testing.T) {
	t.Parallel()
	_, shared := newTeam(t)
	done := doneAction(t, shared)
	url := serveManager(t, teamManager(t, shared))
	adminURL, adminTap := tapURL(t, url)
	guestURL, guestTap := tapURL(t, url)
	admin := wstest.Dial(t, adminURL+"?u=root&s=a1&role=admin")
	guest := wstest.Dial(t, guestURL+"?u=gus&s=g1&role=guest")
	wstest.WaitType(t, admin, "_SET:TEAM")
	wstest.WaitType(t, guest, "_SET:TEAM")

	r := rand.New(rand.NewPCG(12, 1000))
	hostile := 0
	for n := range 1000 {
		if randomTeamChange(t, r, n, shared, admin, guest) {
			hostile++
		}
	}
	for _, c := range []*wssynctest.Client{admin, guest} {
		if err := c.Send("_ACTION:TEAM", map[string]any{"type": "done"}); err != nil {
			t.Fatal(err)
		}
	}
	wstest.Receive(t, done, "the first client's last frame handled")
	wstest.Receive(t, done, "the second client's last frame handled")

	state, v := shared.Published()
	gotGuest, err := guest.WaitVersion(ctxT(t), "TEAM", v)
	if err != nil {
		t.Fatal(err)
	}
	gotAdmin, err := admin.WaitVersion(ctxT(t), "TEAM", v)
	if err != nil {
		t.Fatal(err)
	}
	if want := guestFilter(t, state); !reflect.DeepEqual(decodeJSON(t, gotGuest), want) {
		t.Fatalf("guest holds %s\nwant %v", gotGuest, want)
	}
	if !reflect.DeepEqual(decodeJSON(t, gotAdmin), decodeJSON(t, state)) {
		t.Fatalf("admin holds %s\nwant %s", gotAdmin, state)
	}
	for _, c := range []*wssynctest.Client{admin, guest} {
		if err := c.Errs(); err != nil {
			t.Fatal(err)
		}
	}
	// The last refusals' _ERROR frames may still be on their way: the version waited for
	// above says nothing about them.
	refused := 0
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		refused = 0
		for _, f := range guest.Frames() {
			if f.Type == "_ERROR" && strings.Contains(string(f.Data), `"read_only"`) {
				refused++
			}
		}
		if refused >= hostile || time.Now().After(deadline) {
			break
		}
	}
	if refused != hostile {
		t.Errorf("%d of the guest's %d hostile writes were refused with read_only", refused, hostile)
	}
	if g := guestTap.bytes(); bytes.Contains(g, []byte(secret)) {
		i := bytes.Index(g, []byte(secret))
		t.Fatalf("the guest received a secret: …%q…", g[max(0, i-200):min(len(g), i+50)])
	}
	if a := adminTap.bytes(); !bytes.Contains(a, []byte(secret)) {
		t.Fatal("the admin's stream holds no secret: the test does not test anything")
	}
	if len(guestTap.bytes()) < 10_000 {
		t.Fatalf("the guest received only %d bytes", len(guestTap.bytes()))
	}
}

// Every write a guest may not make is refused with read_only and the op's path, and
// leaves the struct byte-identical; the guest's writes to what it sees go through.
func TestViewGuestWritesToHiddenPartsAreRefused(t *testing.T) {
	t.Parallel()
	team, shared := newTeam(t)
	url := serveManager(t, teamManager(t, shared))
	guest := wstest.Dial(t, url+"?u=gus&s=g1&role=guest")
	wstest.WaitType(t, guest, "_SET:TEAM")
	snapshot := func() []byte {
		shared.RLock()
		defer shared.RUnlock()
		b, err := json.Marshal(team)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	writes := append([]any{}, hostileGuestWrites...)
	sets := []any{
		map[string]any{"audit": []string{}},
		map[string]any{"audit": []string{secret + "a0"}}, // even the right value: no oracle
		map[string]any{"members": []map[string]string{{"name": "ann", "email": ""}}},
		map[string]any{"members": []map[string]string{}},
	}
	for i, w := range append(writes, sets...) {
		before := snapshot()
		event := "_PATCH:TEAM"
		if i >= len(writes) {
			event = "_SET:TEAM"
		}
		if err := guest.Send(event, w); err != nil {
			t.Fatal(err)
		}
		f := wstest.WaitType(t, guest, "_ERROR")
		e := errorOf(t, f)
		if e.Code != wssync.CodeReadOnly || e.Path == "" {
			t.Errorf("%s %v: %+v, want read_only with a path", event, w, e)
		}
		if after := snapshot(); !bytes.Equal(before, after) {
			t.Fatalf("%s %v changed the struct:\n%s\n%s", event, w, before, after)
		}
	}
	// What the guest sees it may write, and a _SET of its view of members is no change.
	if err := guest.Patch("TEAM", wssynctest.Replace("/members/0/name", "anne")); err != nil {
		t.Fatal(err)
	}
	if err := guest.Set("TEAM", map[string]any{"title": "new", "members": []map[string]string{{"name": "anne"}}}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("%s\n%s", snapshot(), framesBytes(guest.Frames()))
		}
	}()
	wstest.Eventually(t, "the guest's writes applied", func() bool {
		b := snapshot()
		return bytes.Contains(b, []byte(`"Title":"new"`)) && bytes.Contains(b, []byte(`{"name":"anne","email":"SECRET-ann"}`))
	})
	if f := guest.Frames(); bytes.Contains(framesBytes(f), []byte(secret)) {
		t.Fatal("a refusal carried a secret")
	}
}

func framesBytes(fs []wssynctest.Frame) []byte {
	b, _ := json.Marshal(fs)
	return b
}

// The view follows the session's identity: a reconnect with the admin role gets the
// admin's _SET, one back with the guest role the guest's.
func TestViewFollowsTheIdentityOnReconnect(t *testing.T) {
	t.Parallel()
	_, shared := newTeam(t)
	url := serveManager(t, teamManager(t, shared))
	for _, role := range []string{"guest", "admin", "guest"} {
		c := wstest.Dial(t, url+"?u=ann&s=s1&role="+role)
		f := wstest.WaitType(t, c, "_SET:TEAM")
		if got := bytes.Contains(f.Data, []byte(secret)); got != (role == "admin") {
			t.Fatalf("as %s: _SET %s", role, f.Data)
		}
		if err := shared.Update(func(x *Team) { x.Audit = append(x.Audit, secret+role) }); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitVersion(ctxT(t), "TEAM", shared.Version()); err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(framesBytes(c.Frames()), []byte(secret+role)); got != (role == "admin") {
			t.Fatalf("as %s: frames %s", role, framesBytes(c.Frames()))
		}
		_ = c.Close()
		wstest.WaitClosed(t, c)
	}
}

// Fail-closed: a view function that names no declared view, or panics, gives the session
// a view of no field at all.
func TestViewFunctionFailureHidesEverything(t *testing.T) {
	t.Parallel()
	for name, choose := range map[string]func(wssync.Identity) string{
		"undeclared": func(wssync.Identity) string { return "nobody" },
		"panics":     func(wssync.Identity) string { panic("boom") },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			team := &Team{Title: secret + "title", Notes: map[string]string{}}
			shared, err := wssync.NewShared("TEAM", team, wssync.WithViews(choose, teamViews...))
			if err != nil {
				t.Fatal(err)
			}
			url := serveManager(t, teamManager(t, shared))
			c := wstest.Dial(t, url+"?u=ann&s=s1&role=admin")
			if f := wstest.WaitType(t, c, "_SET:TEAM"); string(f.Data) != "{}" {
				t.Fatalf("_SET %s, want {}", f.Data)
			}
			if err := shared.Update(func(x *Team) { x.Title = secret + "2" }); err != nil {
				t.Fatal(err)
			}
			if _, err := c.WaitVersion(ctxT(t), "TEAM", shared.Version()); err != nil {
				t.Fatal(err)
			}
			if err := c.Patch("TEAM", wssynctest.Replace("/title", "x")); err != nil {
				t.Fatal(err)
			}
			if e := errorOf(t, wstest.WaitType(t, c, "_ERROR")); e.Code != wssync.CodeReadOnly {
				t.Fatalf("write: %+v", e)
			}
			if bytes.Contains(framesBytes(c.Frames()), []byte(secret)) {
				t.Fatalf("frames %s", framesBytes(c.Frames()))
			}
		})
	}
}

// Views that cannot be compiled fail NewShared.
func TestViewsRefuseBadDeclarations(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]wssync.RegisterOption{
		"no views":      wssync.WithViews(roleView),
		"no function":   wssync.WithViews(nil, wssync.View{Name: "a"}),
		"no name":       wssync.WithViews(roleView, wssync.View{Hide: []string{"/audit"}}),
		"duplicate":     wssync.WithViews(roleView, wssync.View{Name: "a"}, wssync.View{Name: "a"}),
		"unknown field": wssync.WithViews(roleView, wssync.View{Name: "a", Hide: []string{"/adit"}}),
		"not a pointer": wssync.WithViews(roleView, wssync.View{Name: "a", Hide: []string{"audit"}}),
		"whole state":   wssync.WithViews(roleView, wssync.View{Name: "a", Hide: []string{""}}),
		"bad escape":    wssync.WithViews(roleView, wssync.View{Name: "a", Hide: []string{"/audit~2"}}),
	} {
		if _, err := wssync.NewShared("TEAM", &Team{}, opt); err == nil {
			t.Errorf("%s: NewShared accepted it", name)
		}
	}
}

// Each view is filtered, diffed and encoded once per change however many subscribers it
// has: 20 sessions over two views cost two view frames per change, not twenty.
func TestViewsAreEncodedOncePerView(t *testing.T) {
	t.Parallel()
	_, shared := newTeam(t, wssync.WithViews(roleView, wssync.View{Name: "admin", Hide: []string{"/notes"}}, teamViews[1]))
	url := serveManager(t, teamManager(t, shared))
	var cs []*wssynctest.Client
	for i := range 20 {
		role := []string{"admin", "guest"}[i%2]
		c := wstest.Dial(t, fmt.Sprintf("%s?u=u%d&s=s%d&role=%s", url, i, i, role))
		wstest.WaitType(t, c, "_SET:TEAM")
		cs = append(cs, c)
	}
	before := wssync.ViewFrames(shared)
	const changes = 50
	for n := range changes {
		if err := shared.Update(func(x *Team) { x.Members[0].Name = strconv.Itoa(n) }); err != nil {
			t.Fatal(err)
		}
	}
	if got := wssync.ViewFrames(shared) - before; got != 2*changes {
		t.Fatalf("%d view frames for %d changes to 20 subscribers of 2 views, want %d", got, changes, 2*changes)
	}
	for _, c := range cs {
		if _, err := c.WaitVersion(ctxT(t), "TEAM", shared.Version()); err != nil {
			t.Fatal(err)
		}
	}
}

// A session whose identity changes in the session (a refreshed token with other roles)
// is sent a fresh _SET of its new view on its live connection.
func TestViewFollowsAnIdentityChangeInSession(t *testing.T) {
	t.Parallel()
	_, shared := newTeam(t)
	m := teamManager(t, shared)
	url := serveManager(t, m)
	c := wstest.Dial(t, url+"?u=ann&s=s1&role=guest")
	if f := wstest.WaitType(t, c, "_SET:TEAM"); bytes.Contains(f.Data, []byte(secret)) {
		t.Fatalf("guest _SET %s", f.Data)
	}
	sess, ok := m.Session("s1")
	if !ok {
		t.Fatal("no session")
	}
	wssync.SetIdentity(sess, wssync.Identity{Roles: []string{"admin"}})
	if f := wstest.WaitType(t, c, "_SET:TEAM"); !bytes.Contains(f.Data, []byte(secret)) {
		t.Fatalf("after promotion: _SET %s", f.Data)
	}
	wssync.SetIdentity(sess, wssync.Identity{Roles: []string{"guest"}})
	if f := wstest.WaitType(t, c, "_SET:TEAM"); bytes.Contains(f.Data, []byte(secret)) {
		t.Fatalf("after demotion: _SET %s", f.Data)
	}
	if err := shared.Update(func(x *Team) { x.Audit = append(x.Audit, secret+"later") }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitVersion(ctxT(t), "TEAM", shared.Version()); err != nil {
		t.Fatal(err)
	}
	fs := c.Frames()
	if last := fs[len(fs)-1]; bytes.Contains(last.Data, []byte(secret)) {
		t.Fatalf("after demotion: %s", last.Data)
	}
	if err := c.Errs(); err != nil {
		t.Fatal(err)
	}
}

// TaggedTeam validates its members' e-mail (which guests do not see) in ValidateWrite.
type TaggedTeam struct {
	Members []TaggedMember `sync:"members,write"`
}

type TaggedMember struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// ValidateWrite refuses a state with an e-mail address without '@', pointing at it.
func (*TaggedTeam) ValidateWrite(next *TaggedTeam) error {
	for i, m := range next.Members {
		if !strings.Contains(m.Email, "@") {
			return &wssync.FieldError{Path: "/members/" + strconv.Itoa(i) + "/email", Message: "bad e-mail " + m.Email}
		}
	}
	return nil
}

// A guest's write that fails validation on a hidden member is refused without the hidden
// path: here the guest renames a member while another member's e-mail (which the guest
// does not see) does not validate.
func TestViewRefusalHidesHiddenPaths(t *testing.T) {
	t.Parallel()
	team := &TaggedTeam{Members: []TaggedMember{{Name: "ann", Email: "ann@example.com"}, {Name: "bob", Email: secret + "not-an-address"}}}
	shared, err := wssync.NewShared("TEAM", team, wssync.WithViews(roleView, wssync.View{Name: "admin"}, wssync.View{Name: "guest", Hide: []string{"/members/*/email"}}))
	if err != nil {
		t.Fatal(err)
	}
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return shared.Join(sess) },
		wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
			q := r.URL.Query()
			return wssync.Identity{User: q.Get("u"), Session: q.Get("s"), Roles: []string{q.Get("role")}}, nil
		}))
	url := serveManager(t, m)
	for _, role := range []string{"admin", "guest"} {
		c := wstest.Dial(t, url+"?u="+role+"&s="+role+"&role="+role)
		wstest.WaitType(t, c, "_SET:TEAM")
		if err := c.Patch("TEAM", wssynctest.Replace("/members/0/name", "anne")); err != nil {
			t.Fatal(err)
		}
		e := errorOf(t, wstest.WaitType(t, c, "_ERROR"))
		if e.Code != wssync.CodeRejected {
			t.Fatalf("%s: %+v, want rejected", role, e)
		}
		if hidden := strings.Contains(e.Path, "email") || strings.Contains(e.Message, secret); hidden != (role == "admin") {
			t.Fatalf("%s: refusal %+v", role, e)
		}
	}
}
