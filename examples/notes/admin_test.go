package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

const testAdminKey = "test-admin-key"

// dialAdmin fetches an admin token with key and connects to /ws-admin with it.
func dialAdmin(t *testing.T, srv *httptest.Server, session string) *wssynctest.Client {
	t.Helper()
	res, err := http.Post(srv.URL+"/api/admin-token", "text/plain", strings.NewReader(testAdminKey))
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("admin token: %d %s", res.StatusCode, tok)
	}
	h := http.Header{"Authorization": {"Bearer " + string(tok)}}
	c := wstest.Dial(t, wstest.WSURL(srv.URL)+"/ws-admin", wssynctest.WithIdentity("ignored", session), wssynctest.WithHeader(h))
	t.Cleanup(func() { _ = c.Close() })
	for _, key := range []string{"NOTES", "VIEW"} {
		wstest.EventuallyNil(t, 5*time.Second, "admin: _SET:"+key, func() error {
			if _, _, ok := c.State(key); !ok {
				return errors.New("none received")
			}
			return nil
		})
	}
	return c
}

func TestAdminTokenNeedsTheKey(t *testing.T) {
	_, srv := startServer(t)
	for _, body := range []string{"", "wrong", testAdminKey + "x", strings.Repeat("k", maxKeyBytes+10)} {
		res, err := http.Post(srv.URL+"/api/admin-token", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("POST /api/admin-token %q: %d, want 403", body, res.StatusCode)
		}
	}
	// Without a token, /ws-admin refuses the upgrade: a guest cannot reach the admin view.
	_, res, err := websocketDial(wstest.WSURL(srv.URL) + "/ws-admin")
	if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("upgrade without a token: %v, %v; want 401", res, err)
	}
}

// Only a note's author (or an admin) may rename or remove it; the server's own notes
// belong to nobody.
func TestOnlyTheAuthorChangesANote(t *testing.T) {
	a, srv := startServer(t)
	alice, bob := dial(t, srv, "alice", "s-alice"), dial(t, srv, "bob", "s-bob")
	// bob names himself "admin": a guest's user id is whatever the client says, so it
	// must not make him the admin (whose user is also "admin").
	mallory := dial(t, srv, adminUser, "s-mallory")
	res := request(t, alice, "_ACTION:NOTES", "add", map[string]any{"type": "add", "text": "Alice's"})
	var note Note
	if err := json.Unmarshal(res.Data, &note); err != nil {
		t.Fatal(err)
	}
	before := a.snapshotNotes(t)
	for _, c := range []*wssynctest.Client{bob, mallory} {
		for i, data := range []map[string]any{
			{"type": "rename", "id": note.ID, "text": "Bob's now"},
			{"type": "remove", "id": note.ID},
			{"type": "remove", "id": "n1"}, // the server's
		} {
			f := request(t, c, "_ACTION:NOTES", "x"+string(rune('0'+i)), data)
			if code, _ := errorCode(t, f.Error); code != "action_failed" || !bytes.Contains(f.Error, []byte("only its author")) {
				t.Errorf("%v: error %s, want action_failed naming the author rule", data, f.Error)
			}
		}
	}
	if after := a.snapshotNotes(t); !bytes.Equal(before, after) {
		t.Fatalf("refused actions changed the list:\n%s\n%s", before, after)
	}
	if f := request(t, alice, "_ACTION:NOTES", "ok", map[string]any{"type": "rename", "id": note.ID, "text": "Alice's, renamed"}); len(f.Error) != 0 {
		t.Fatalf("the author's rename: %s", f.Error)
	}
	admin := dialAdmin(t, srv, "s-admin")
	for i, id := range []string{note.ID, "n1"} {
		if f := request(t, admin, "_ACTION:NOTES", "adm"+string(rune('0'+i)), map[string]any{"type": "remove", "id": id}); len(f.Error) != 0 {
			t.Fatalf("the admin's removal of %s: %s", id, f.Error)
		}
	}
	waitNotes(t, bob, func(n Notes) bool { return len(n.Notes) == 1 })
}

// The activity log reaches admins only: no byte of it is in any frame a guest receives,
// while both watch the same changes.
func TestGuestsNeverReceiveTheActivityLog(t *testing.T) {
	_, srv := startServer(t)
	guest := dial(t, srv, "gina", "s-gina")
	admin := dialAdmin(t, srv, "s-admin")
	for i := range 20 {
		request(t, guest, "_ACTION:NOTES", "g"+string(rune('a'+i)), map[string]any{"type": "add", "text": "note"})
	}
	var last Notes
	wstest.EventuallyNil(t, 5*time.Second, "the admin's log", func() error {
		if err := admin.Decode("NOTES", &last); err != nil || len(last.Activity) < 20 {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	var v viewState
	if err := admin.Decode("VIEW", &v); err != nil || !v.Admin || v.Name != "Admin" {
		t.Fatalf("admin view state %+v (%v)", v, err)
	}
	waitNotes(t, guest, func(n Notes) bool { return len(n.Notes) == 22 })
	raw, _, _ := guest.State("NOTES")
	if bytes.Contains(raw, []byte(`"activity"`)) {
		t.Fatalf("the guest's state holds the log: %s", raw)
	}
	for _, f := range guest.Frames() {
		for _, entry := range last.Activity {
			if bytes.Contains(f.Data, []byte(entry)) || bytes.Contains(f.Data, []byte("activity")) {
				t.Fatalf("a guest frame carries the log: %s %s", f.Type, f.Data)
			}
		}
	}
}

// snapshotNotes is the shared list's JSON as the server holds it.
func (a *app) snapshotNotes(t *testing.T) []byte {
	t.Helper()
	a.share.RLock()
	defer a.share.RUnlock()
	b, err := json.Marshal(a.notes)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// websocketDial tries a plain upgrade, closing the connection should it succeed.
func websocketDial(url string) (*websocket.Conn, *http.Response, error) {
	ws, res, err := websocket.DefaultDialer.Dial(url, nil)
	if ws != nil {
		_ = ws.Close()
	}
	return ws, res, err
}
