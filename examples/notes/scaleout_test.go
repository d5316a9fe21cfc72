package main

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/wspresence"
	"github.com/wssync/wssync/wsredis"
	"github.com/wssync/wssync/wssynctest"
)

// Two servers started with -redis share the list, and a tab whose reconnection lands on
// the other server keeps its own filter: the deployment docs/scale-out.md describes, with
// a real redis-server on loopback.
func TestTwoServersShareNotesAndSessions(t *testing.T) {
	srv := redistest.Start(t)
	var servers []string
	for range 2 {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		store := wsredis.New(rdb, wsredis.Options{})
		t.Cleanup(func() {
			store.Close()
			_ = rdb.Close()
		})
		_, s := startServerWith(t, store)
		servers = append(servers, s.URL)
	}
	alice := dialURL(t, servers[0], "alice", "tab-a")
	bob := dialURL(t, servers[1], "bob", "tab-b")
	request(t, alice, "_ACTION:NOTES", "add-1", map[string]any{"type": "add", "text": "Added on server one"})
	waitNotes(t, bob, hasNote("Added on server one"))
	request(t, bob, "_ACTION:NOTES", "add-2", map[string]any{"type": "add", "text": "Added on server two"})
	waitNotes(t, alice, hasNote("Added on server two"))

	_, av, _ := alice.State("VIEW")
	if err := alice.Patch("VIEW", wssynctest.Replace("/filter", "server")); err != nil {
		t.Fatal(err)
	}
	// alice shows her write at once; the echo's version says the server took it.
	if _, err := alice.WaitVersion(testCtx(t), "VIEW", av+1); err != nil {
		t.Fatal(err)
	}
	_ = alice.Close()
	moved := dialURL(t, servers[1], "alice", "tab-a")
	if _, err := wssynctest.WaitState(testCtx(t), moved, "VIEW", func(v View) bool { return v.Filter == "server" }); err != nil {
		got, _, _ := moved.State("VIEW")
		t.Fatalf("alice's tab on the other server holds %s: %v", got, err)
	}
}

// With -redis, the online list and the "X added" toasts span the servers: a tab on one
// server lists, and is told about, a tab on the other; the adder is not told.
func TestTwoServersShareOnlineAndToasts(t *testing.T) {
	srv := redistest.Start(t)
	var servers []string
	for range 2 {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		store := wsredis.New(rdb, wsredis.Options{})
		t.Cleanup(func() {
			store.Close()
			_ = rdb.Close()
		})
		_, s := startServerWith(t, store)
		servers = append(servers, s.URL)
	}
	alice := dialURL(t, servers[0], "alice", "tab-a")
	bob := dialURL(t, servers[1], "bob", "tab-b")
	waitOnline(t, bob, "", strings.Join(names("alice", "bob"), ", "))
	request(t, alice, "_ACTION:"+onlineKey, "m", map[string]any{"type": wspresence.MetaAction, "meta": map[string]bool{"typing": true}})
	waitOnline(t, bob, "", strings.Replace(strings.Join(names("alice", "bob"), ", "), guestName("alice"), guestName("alice")+" typing", 1))

	request(t, alice, "_ACTION:NOTES", "add-1", map[string]any{"type": "add", "text": "Across servers"})
	seen(t, bob, "bob told of alice's note on the other server", toast("info", guestName("alice")+" added “Across servers”"))
	// A fence, as in TestToastsReachOthersOnly: bob's note reaches alice after any toast
	// of her own would have.
	request(t, bob, "_ACTION:NOTES", "add-2", map[string]any{"type": "add", "text": "Back"})
	seen(t, alice, "alice told of bob's note", toast("info", guestName("bob")+" added “Back”"))
	for _, f := range alice.Frames() {
		if toast("info", guestName("alice"))(f) {
			t.Errorf("alice was told of her own note: %s", f.Data)
		}
	}
}
