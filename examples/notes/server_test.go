package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wssync/wssync/wssynctest"
)

func TestDropKeepsSession(t *testing.T) {
	a, srv := startServer(t)
	alice, bob := dial(t, srv, "alice", "s-alice"), dial(t, srv, "bob", "s-bob")
	if err := alice.Patch("VIEW", wssynctest.Replace("/filter", "milk")); err != nil {
		t.Fatal(err)
	}
	waitView(t, alice, func(v viewState) bool { return v.Filter == "milk" })

	res, err := http.Post(srv.URL+"/_test/drop?client=alice&holdMs=400", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !regexp.MustCompile(`"dropped":1\b`).Match(body) {
		t.Fatalf("drop answered %s", body)
	}
	select {
	case <-alice.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("alice's connection survived the drop")
	}
	select {
	case <-bob.Done():
		t.Fatal("bob's connection was dropped too")
	default:
	}

	// Held: the upgrade is refused for a while, as an unreachable server would be.
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	if c, err := wssynctest.Dial(testCtx(t), url, wssynctest.WithHeader(http.Header{"Cookie": {testCookie + "=alice"}})); err == nil {
		_ = c.Close()
		t.Fatal("an upgrade during the hold was accepted")
	}
	time.Sleep(500 * time.Millisecond)

	again := dial(t, srv, "alice", "s-alice")
	if v := waitView(t, again, func(v viewState) bool { return true }); v.Filter != "milk" {
		t.Errorf("after the reconnect the filter is %q: the session was not kept", v.Filter)
	}
	if st := a.mgr.Stats(); st.SessionsTotal != 2 {
		t.Errorf("sessions created = %d, want 2 (alice's was resumed)", st.SessionsTotal)
	}
}

func TestServesUI(t *testing.T) {
	_, srv := startServer(t)
	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `<div id="root">`) || res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET / = %d %q %q", res.StatusCode, res.Header.Get("Cache-Control"), body)
	}
	asset := regexp.MustCompile(`/assets/[^"]+\.js`).Find(body)
	if asset == nil {
		t.Fatal("index.html names no script under /assets/")
	}
	res, err = http.Get(srv.URL + string(asset))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("GET %s = %d, Cache-Control %q", asset, res.StatusCode, res.Header.Get("Cache-Control"))
	}
}
