package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

// Attacks by a hostile client on the example's admin side, each naming what it tries to
// break.

// The token endpoint (admin.go: "answers POST /api/admin-token, whose body is the key, with
// a fresh token, or 403") hands a token only for the exact key: not for a prefix, another
// case, the key with a trailing byte, or a form-encoded key; and its answer is never cached.
func TestAttackAdminTokenEndpoint(t *testing.T) {
	_, srv := startServer(t)
	for _, body := range []string{
		testAdminKey[:len(testAdminKey)-1],
		strings.ToUpper(testAdminKey),
		testAdminKey + "\x00",
		testAdminKey + " ",
		"key=" + testAdminKey,
	} {
		res, err := http.Post(srv.URL+"/api/admin-token", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden || bytes.Count(got, []byte(".")) >= 2 {
			t.Errorf("POST /api/admin-token %q: %d %q, want 403", body, res.StatusCode, got)
		}
	}
	res, err := http.Post(srv.URL+"/api/admin-token", "text/plain", strings.NewReader(testAdminKey))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token answer %d, Cache-Control %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
}

// A guest whose handshake names the admin's user id ("admin") is still a guest: its
// frames never carry the activity log (notes.go: "Only admins see it"), and a test op on
// the log is refused the same whether its guess is right or wrong, so it is no oracle.
func TestAttackGuestNamedAdminNeverSeesTheLog(t *testing.T) {
	_, srv := startServer(t)
	mallory := dial(t, srv, adminUser, "s-mallory")
	admin := dialAdmin(t, srv, "s-admin")
	request(t, admin, "_ACTION:NOTES", "add", map[string]any{"type": "add", "text": "by the admin"})
	var n Notes
	wstest.EventuallyNil(t, 5*time.Second, "the admin's log", func() error {
		if err := admin.Decode("NOTES", &n); err != nil || len(n.Activity) == 0 {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	entry := n.Activity[len(n.Activity)-1]
	waitNotes(t, mallory, hasNote("by the admin"))
	var answers []string
	for _, guess := range []string{entry, "a wrong guess"} {
		if err := mallory.Send("_PATCH:NOTES", []map[string]any{{"op": "test", "path": "/activity/0", "value": guess}}); err != nil {
			t.Fatal(err)
		}
		f, err := mallory.WaitFrame(testCtx(t), func(f wssynctest.Frame) bool { return f.Type == "_ERROR" })
		if err != nil {
			t.Fatalf("no refusal of a test op on the log: %v", err)
		}
		answers = append(answers, string(f.Data))
	}
	if answers[0] != answers[1] {
		t.Errorf("a test op on the log answers a right guess apart from a wrong one:\n%s\n%s", answers[0], answers[1])
	}
	for _, f := range mallory.Frames() {
		if bytes.Contains(f.Data, []byte(`"activity"`)) || bytes.Contains(f.Data, []byte(entry)) {
			t.Fatalf("a frame of the guest named admin carries the log: %s %s", f.Type, f.Data)
		}
	}
	var v viewState
	if err := mallory.Decode("VIEW", &v); err != nil || v.Admin {
		t.Fatalf("guest named admin: view %+v (%v)", v, err)
	}
}

// The library's advice (docs/security.md, Tokens: "tokens in URLs land in logs: access
// logs, proxy logs, browser history and Referers keep the query string") applies more to
// the admin key, which never expires and mints admin tokens, than to the tokens. The page
// is opened with a #admin=KEY fragment (never sent) and POSTs the key; the endpoint takes
// it from the body only and refuses it in the query.
func TestAttackAdminKeyNotInURL(t *testing.T) {
	_, srv := startServer(t)
	res, err := http.Get(srv.URL + "/api/admin-token?key=" + testAdminKey)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK {
		t.Errorf("the key is accepted in the query string")
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/admin-token", strings.NewReader(testAdminKey))
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("the key in a POST body: %d", res.StatusCode)
	}
}
