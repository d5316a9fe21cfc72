package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wssync/wssync/wspresence"
	"github.com/wssync/wssync/wssynctest"
)

// "X added" reaches every other tab of the list, guests' and admins' (two Managers joined
// by one event bus), and never the adder's.
func TestToastsReachOthersOnly(t *testing.T) {
	_, srv := startServer(t)
	alice, bob := dial(t, srv, "alice", "s-alice"), dial(t, srv, "bob", "s-bob")
	admin := dialAdmin(t, srv, "s-admin")

	request(t, alice, "_ACTION:NOTES", "a1", map[string]any{"type": "add", "text": "From alice"})
	for who, c := range map[string]*wssynctest.Client{"bob": bob, "admin": admin} {
		seen(t, c, who+" told of alice's note", toast("info", guestName("alice")+" added “From alice”"))
	}
	request(t, admin, "_ACTION:NOTES", "a2", map[string]any{"type": "add", "text": "From the admin"})
	for who, c := range map[string]*wssynctest.Client{"alice": alice, "bob": bob} {
		seen(t, c, who+" told of the admin's note", toast("info", "Admin added “From the admin”"))
	}
	// A fence: the bus delivers in order, and the local toast is queued before the
	// adder's _RESULT. Once bob's note is announced to both, any toast of their own notes
	// would have arrived before.
	request(t, bob, "_ACTION:NOTES", "a3", map[string]any{"type": "add", "text": "From bob"})
	seen(t, alice, "alice told of bob's note", toast("info", guestName("bob")+" added “From bob”"))
	seen(t, admin, "admin told of bob's note", toast("info", guestName("bob")+" added “From bob”"))
	for c, own := range map[*wssynctest.Client]string{
		alice: guestName("alice") + " added “From alice”",
		admin: "Admin added “From the admin”",
		bob:   guestName("bob") + " added “From bob”",
	} {
		if slices.ContainsFunc(c.Frames(), toast("info", own)) {
			t.Errorf("the adder was told %q", own)
		}
	}
}

// onlineState is ONLINE as a tab sees it.
type onlineState struct {
	Members []struct {
		User    string `json:"user"`
		Session string `json:"session"`
		Meta    struct {
			Name   string `json:"name"`
			Typing bool   `json:"typing"`
		} `json:"meta"`
	} `json:"members"`
}

// describe lists the members as "name[tab-is-mine]" and a "typing" mark.
func (s onlineState) describe(myTab string) string {
	var out []string
	for _, m := range s.Members {
		d := m.Meta.Name
		if m.Session == myTab {
			d += "(me)"
		}
		if m.Meta.Typing {
			d += " typing"
		}
		out = append(out, d)
	}
	return strings.Join(out, ", ")
}

func waitOnline(t *testing.T, c *wssynctest.Client, myTab, want string) {
	t.Helper()
	if _, err := wssynctest.WaitState(testCtx(t), c, onlineKey, func(s onlineState) bool { return s.describe(myTab) == want }); err != nil {
		var s onlineState
		_ = c.Decode(onlineKey, &s)
		t.Fatalf("online list %q, want %q: %v", s.describe(myTab), want, err)
	}
}

func names(users ...string) []string {
	var out []string
	for _, u := range users {
		out = append(out, guestName(u))
	}
	slices.Sort(out)
	return out
}

// Every tab lists who is online, guests and admins, by display name; its own entry is
// recognisable by the View's tab tag; no user or session id reaches a tab.
func TestOnlineList(t *testing.T) {
	_, srv := startServer(t)
	alice, bob := dial(t, srv, "alice", "s-alice-secret"), dial(t, srv, "bob", "s-bob-secret")
	aliceTab := waitView(t, alice, func(v viewState) bool { return v.Tab != "" }).Tab
	want := strings.Join(names("alice", "bob"), ", ")
	waitOnline(t, bob, "", want)
	admin := dialAdmin(t, srv, "s-admin-secret")
	all := strings.Join(append([]string{"Admin"}, names("alice", "bob")...), ", ")
	waitOnline(t, bob, "", all)
	mine := strings.Replace(all, guestName("alice"), guestName("alice")+"(me)", 1)
	waitOnline(t, alice, aliceTab, mine)
	for _, c := range []*wssynctest.Client{alice, bob, admin} {
		raw, _, _ := c.State(onlineKey)
		if strings.Contains(string(raw), "secret") || strings.Contains(string(raw), "alice") {
			t.Errorf("an id reached a tab: %s", raw)
		}
	}
	_ = admin.Close()
	waitOnline(t, bob, "", want)
}

// A tab sets "typing" on its own entry and every other tab sees it; anything but
// {"typing": bool}, an oversized Meta and a flood are refused with their codes and leave
// the entry as it was.
func TestTypingMeta(t *testing.T) {
	a, srv := startServer(t)
	alice, bob := dial(t, srv, "alice", "s-alice"), dial(t, srv, "bob", "s-bob")
	want := strings.Join(names("alice", "bob"), ", ")
	waitOnline(t, bob, "", want)

	meta := func(c *wssynctest.Client, id string, v any) (code, path string) {
		t.Helper()
		f := request(t, c, "_ACTION:"+onlineKey, id, map[string]any{"type": wspresence.MetaAction, "meta": v})
		return errorCode(t, f.Error)
	}
	if code, _ := meta(alice, "m1", map[string]bool{"typing": true}); code != "" {
		t.Fatalf("typing: %s", code)
	}
	typing := strings.Replace(want, guestName("alice"), guestName("alice")+" typing", 1)
	waitOnline(t, bob, "", typing)

	entry := func() string {
		for _, m := range a.online.Members() {
			if m.Session == "s-alice" {
				return string(m.Meta)
			}
		}
		return "-"
	}
	before := entry()
	for i, c := range []struct {
		v          any
		code, path string
	}{
		{map[string]any{"name": "Admin"}, "rejected", "/meta"},                     // a tab cannot rename itself
		{map[string]any{"typing": true, "name": "Admin"}, "rejected", "/meta"},     // nor on the way
		{"typing", "rejected", "/meta"},                                            // only the object
		{map[string]any{"typing": strings.Repeat("x", 200)}, "too_large", "/meta"}, // past maxOnlineMeta
	} {
		if code, path := meta(alice, fmt.Sprint("bad", i), c.v); code != c.code || path != c.path {
			t.Errorf("%v: %s at %q, want %s at %q", c.v, code, path, c.code, c.path)
		}
		if got := entry(); got != before {
			t.Fatalf("a refused update changed the entry: %s, was %s", got, before)
		}
	}

	// A flood: more updates than the burst allows, sent at once; the ones past it are
	// refused and the connection lives on (32 refusals in a row would close it with 1008,
	// wssync.DefaultMaxBadFrames).
	for i := range 20 {
		if err := alice.SendFrame(map[string]any{"type": "_ACTION:" + onlineKey, "id": fmt.Sprint("f", i),
			"data": map[string]any{"type": wspresence.MetaAction, "meta": map[string]bool{"typing": i%2 == 0}}}); err != nil {
			t.Fatal(err)
		}
	}
	f := request(t, alice, "_ACTION:"+onlineKey, "last", map[string]any{"type": wspresence.MetaAction, "meta": map[string]bool{"typing": false}})
	limited := 0
	for _, fr := range alice.Frames() {
		if fr.Type == "_RESULT" && strings.HasPrefix(fr.ID, "f") {
			if code, _ := errorCode(t, fr.Error); code == "rate_limited" {
				limited++
			}
		}
	}
	if limited == 0 {
		t.Error("20 updates at once were all taken")
	}
	if code, _ := errorCode(t, f.Error); code == "" {
		waitOnline(t, bob, "", want)
	}
}

// "typing" does not outlive the connection that set it: a tab that reconnects (a reload)
// starts out not typing, with its name kept.
func TestTypingEndsWithTheConnection(t *testing.T) {
	_, srv := startServer(t)
	alice, bob := dial(t, srv, "alice", "s-alice"), dial(t, srv, "bob", "s-bob")
	want := strings.Join(names("alice", "bob"), ", ")
	request(t, alice, "_ACTION:"+onlineKey, "m1", map[string]any{"type": wspresence.MetaAction, "meta": map[string]bool{"typing": true}})
	waitOnline(t, bob, "", strings.Replace(want, guestName("alice"), guestName("alice")+" typing", 1))
	_ = alice.Close()
	waitOnline(t, bob, "", guestName("bob"))
	dial(t, srv, "alice", "s-alice")
	waitOnline(t, bob, "", want)
}
