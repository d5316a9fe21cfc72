package wsauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsauth"
	"github.com/wssync/wssync/wssynctest"
)

type note struct {
	Title string `json:"title"`
}

// serveVerified serves a Manager that identifies connections with v (and refreshes
// through it), each session holding one NOTES object. It returns the Manager and the
// ws:// URL.
func serveVerified(t *testing.T, v *wsauth.Verifier) (*wssync.Manager, string) {
	t.Helper()
	m := wssync.NewManager(func(_ context.Context, sess *wssync.Session) error {
		_, err := wssync.Register(sess, "NOTES", &note{Title: sess.Identity().User})
		return err
	}, wssync.WithAuth(v.Auth), wssync.WithTokenRefresh(v.Refresh))
	url := wstest.Serve(t, http.HandlerFunc(m.ServeWS))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	return m, url
}

// sessionToken is an HS256 token for user and session sid, expiring at exp.
func sessionToken(t testing.TB, user, sid string, exp time.Time, roles ...string) string {
	c := claims(user)
	c["sid"], c["exp"] = sid, exp.Unix()
	if roles != nil {
		c["roles"] = roles
	}
	return sign(t, jwt.SigningMethodHS256, secret, "", c)
}

func hsVerifier(t testing.TB, sources ...wsauth.Source) *wsauth.Verifier {
	return newVerifier(t, wsauth.Config{Keys: wsauth.HMACKey(secret), SessionClaim: "sid", Sources: sources})
}

// Each source carries a token to the Manager, which serves the identity it names; a
// source the Verifier does not read is as good as no token.
func TestAuthFromEachSource(t *testing.T) {
	t.Parallel()
	tok := sessionToken(t, "ann", "tab-1", time.Now().Add(time.Hour), "editor")
	for _, tc := range []struct {
		name   string
		source wsauth.Source
		dial   func(url string) (string, http.Header)
	}{
		{"header", wsauth.FromHeader(), func(url string) (string, http.Header) {
			return url, http.Header{"Authorization": {"Bearer " + tok}}
		}},
		{"subprotocol", wsauth.FromSubprotocol(), func(url string) (string, http.Header) {
			return url, http.Header{"Sec-Websocket-Protocol": {wsauth.Subprotocol + ", " + wsauth.BearerPrefix + tok}}
		}},
		{"query", wsauth.FromQuery("token"), func(url string) (string, http.Header) { return url + "?token=" + tok, nil }},
		{"cookie", wsauth.FromCookie("session_token"), func(url string) (string, http.Header) {
			return url, http.Header{"Cookie": {"session_token=" + tok}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, url := serveVerified(t, hsVerifier(t, tc.source))
			u, h := tc.dial(url)
			c := wstest.Dial(t, u, wssynctest.WithHeader(h))
			wstest.WaitType(t, c, "_SET:NOTES")
			sess, ok := m.Session("tab-1")
			if !ok || sess.Identity().User != "ann" || !sess.Identity().HasRole("editor") {
				t.Fatalf("session %v: %+v", ok, sess.Identity())
			}
			// Served by a Verifier reading another source, the same request has no token.
			_, other := serveVerified(t, hsVerifier(t, wsauth.FromQuery("elsewhere")))
			u, h = tc.dial(other)
			if status := dialStatus(t, u, h); status != http.StatusUnauthorized {
				t.Fatalf("token in an unread source: HTTP %d", status)
			}
		})
	}
}

// By default the header and the subprotocol are read, the query and cookies are not.
func TestDefaultSources(t *testing.T) {
	t.Parallel()
	tok := sessionToken(t, "ann", "tab-1", time.Now().Add(time.Hour))
	_, url := serveVerified(t, hsVerifier(t))
	for name, tc := range map[string]struct {
		url  string
		h    http.Header
		want int
	}{
		"header":      {url, http.Header{"Authorization": {"bearer " + tok}}, http.StatusSwitchingProtocols},
		"subprotocol": {url, http.Header{"Sec-Websocket-Protocol": {"wssync, wssync.bearer." + tok}}, http.StatusSwitchingProtocols},
		"query":       {url + "?token=" + tok, nil, http.StatusUnauthorized},
		"cookie":      {url, http.Header{"Cookie": {"token=" + tok}}, http.StatusUnauthorized},
	} {
		if status := dialStatus(t, tc.url, tc.h); status != tc.want {
			t.Errorf("%s: HTTP %d, want %d", name, status, tc.want)
		}
	}
}

// dialStatus dials url with header h and returns the HTTP status of the upgrade answer.
func dialStatus(t *testing.T, url string, h http.Header) int {
	t.Helper()
	ws, res, err := websocket.DefaultDialer.DialContext(wstest.Context(t), url, h)
	if err == nil {
		ws.Close()
	}
	if res == nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return res.StatusCode
}

// Refusals before the upgrade: no token or a bad one 401, a forbidden identity 403.
func TestAuthRefusals(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, wsauth.Config{Keys: wsauth.HMACKey(secret), SessionClaim: "sid",
		Map: func(id wssync.Identity, _ map[string]any) (wssync.Identity, error) {
			if id.User == "mallory" {
				return id, fmt.Errorf("banned: %w", wssync.ErrForbidden)
			}
			return id, nil
		}})
	_, url := serveVerified(t, v)
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	expired := sessionToken(t, "ann", "tab-1", time.Now().Add(-time.Minute))
	for name, tc := range map[string]struct {
		h    http.Header
		want int
	}{
		"missing":   {nil, http.StatusUnauthorized},
		"expired":   {bearer(expired), http.StatusUnauthorized},
		"wrong key": {bearer(sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 32)), "", claims("ann"))), http.StatusUnauthorized},
		"forbidden": {bearer(sessionToken(t, "mallory", "tab-9", time.Now().Add(time.Hour))), http.StatusForbidden},
		"good":      {bearer(sessionToken(t, "ann", "tab-1", time.Now().Add(time.Hour))), http.StatusSwitchingProtocols},
	} {
		if status := dialStatus(t, url, tc.h); status != tc.want {
			t.Errorf("%s: HTTP %d, want %d", name, status, tc.want)
		}
	}
}

// The browser's way: the token offered as a subprotocol beside "wssync"; the server
// selects "wssync" and never the token.
func TestSubprotocolTokenEchoesWssync(t *testing.T) {
	t.Parallel()
	_, url := serveVerified(t, hsVerifier(t))
	tok := sessionToken(t, "ann", "tab-1", time.Now().Add(time.Hour))
	d := websocket.Dialer{Subprotocols: []string{wsauth.Subprotocol, wsauth.BearerPrefix + tok}}
	ws, res, err := d.DialContext(wstest.Context(t), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if ws.Subprotocol() != "wssync" || res.Header.Get("Sec-Websocket-Protocol") != "wssync" {
		t.Fatalf("selected %q (header %q)", ws.Subprotocol(), res.Header.Get("Sec-Websocket-Protocol"))
	}
}

// A connection lives past its first token's expiry when the client sends a fresh token
// over the socket; without one it is closed with 4005 at the expiry.
func TestRefreshOverSocketWithSignedTokens(t *testing.T) {
	t.Parallel()
	m, url := serveVerified(t, hsVerifier(t))
	first := time.Now().Add(2 * time.Second)
	c := wstest.Dial(t, url, wssynctest.WithHeader(http.Header{"Authorization": {"Bearer " + sessionToken(t, "ann", "tab-1", first)}}))
	wstest.WaitType(t, c, "_SET:NOTES")
	wstest.WaitType(t, c, "_AUTH_EXPIRING")
	fresh := sessionToken(t, "ann", "tab-1", time.Now().Add(time.Hour), "admin")
	if err := c.SendFrame(map[string]any{"type": "_AUTH", "id": "r1", "data": map[string]string{"token": fresh}}); err != nil {
		t.Fatal(err)
	}
	if res := wstest.WaitType(t, c, "_RESULT"); res.Error != nil {
		t.Fatalf("refresh refused: %s", res.Error)
	}
	time.Sleep(time.Until(time.Unix(first.Unix(), 0)) + 300*time.Millisecond) // past the first exp
	if err := c.Get("NOTES"); err != nil {
		t.Fatal(err)
	}
	wstest.WaitType(t, c, "_SET:NOTES")
	if sess, _ := m.Session("tab-1"); !sess.Identity().HasRole("admin") {
		t.Fatalf("identity after refresh: %+v", sess.Identity())
	}

	// Another connection, never refreshed, is closed at its expiry.
	d := wstest.Dial(t, url, wssynctest.WithHeader(http.Header{"Authorization": {"Bearer " + sessionToken(t, "bob", "tab-2", time.Now().Add(time.Second))}}))
	wstest.WaitType(t, d, "_AUTH_EXPIRED")
	var ce *websocket.CloseError
	if err := wstest.WaitClosed(t, d); !errors.As(err, &ce) || ce.Code != wssync.CloseTokenExpired {
		t.Fatalf("close %v, want %d", err, wssync.CloseTokenExpired)
	}
}

// Refresh tokens that must not extend the connection: expired, wrongly signed, for
// another audience, and for another user (which also closes it with 4004).
func TestRefreshRefusesBadTokens(t *testing.T) {
	t.Parallel()
	_, url := serveVerified(t, hsVerifier(t))
	c := wstest.Dial(t, url, wssynctest.WithHeader(http.Header{"Authorization": {"Bearer " + sessionToken(t, "ann", "tab-1", time.Now().Add(time.Hour))}}))
	wstest.WaitType(t, c, "_SET:NOTES")
	otherAud := claims("ann")
	otherAud["sid"], otherAud["aud"] = "tab-1", "other"
	for i, tok := range []string{
		sessionToken(t, "ann", "tab-1", time.Now().Add(-time.Minute)),
		sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 32)), "", claims("ann")),
		sign(t, jwt.SigningMethodHS256, secret, "", otherAud),
	} {
		id := fmt.Sprint("bad-", i)
		if err := c.SendFrame(map[string]any{"type": "_AUTH", "id": id, "data": map[string]string{"token": tok}}); err != nil {
			t.Fatal(err)
		}
		res := wstest.WaitType(t, c, "_RESULT")
		if res.ID != id || !strings.Contains(string(res.Error), `"token_rejected"`) {
			t.Fatalf("refresh %s: %+v", id, res)
		}
	}
	// bob's valid token on ann's connection (a new one: the first has used its burst of 3).
	c = wstest.Dial(t, url, wssynctest.WithHeader(http.Header{"Authorization": {"Bearer " + sessionToken(t, "ann", "tab-1", time.Now().Add(time.Hour))}}))
	wstest.WaitType(t, c, "_SET:NOTES")
	if err := c.SendFrame(map[string]any{"type": "_AUTH", "id": "bob", "data": map[string]string{"token": sessionToken(t, "bob", "tab-1", time.Now().Add(time.Hour))}}); err != nil {
		t.Fatal(err)
	}
	if res := wstest.WaitType(t, c, "_RESULT"); !strings.Contains(string(res.Error), `"token_wrong_user"`) {
		t.Fatalf("another user's token: %+v", res)
	}
	var ce *websocket.CloseError
	if err := wstest.WaitClosed(t, c); !errors.As(err, &ce) || ce.Code != wssync.CloseUnauthorized {
		t.Fatalf("close %v, want %d", err, wssync.CloseUnauthorized)
	}
}
