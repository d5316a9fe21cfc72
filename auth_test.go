package wssync_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

// fakeTokens stands for a token verifier in the root package's tests (package wsauth
// tests the same flow with real signed tokens): a token is "USER|ROLE|MILLIS", naming a
// user, one role and an expiry MILLIS from now (0: never); "bad" fails to verify.
func fakeToken(user, role string, in time.Duration) string {
	return user + "|" + role + "|" + strconv.FormatInt(in.Milliseconds(), 10)
}

func fakeVerify(calls *atomic.Int32) func(ctx context.Context, token string) (wssync.Identity, error) {
	return func(_ context.Context, token string) (wssync.Identity, error) {
		if calls != nil {
			calls.Add(1)
		}
		parts := strings.Split(token, "|")
		if len(parts) != 3 {
			return wssync.Identity{}, errors.New("not a token")
		}
		ms, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil {
			return wssync.Identity{}, err
		}
		id := wssync.Identity{User: parts[0], Roles: []string{parts[1]}}
		if ms != 0 {
			id.Expires = time.Now().Add(time.Duration(ms) * time.Millisecond)
		}
		return id, nil
	}
}

// authManager serves a Manager whose auth hook reads the fake token of the `token` query
// parameter and names the session "s-"+user; opts are added (WithTokenRefresh, limits).
func authManager(t *testing.T, opts ...wssync.ManagerOption) (*wssync.Manager, string) {
	t.Helper()
	verify := fakeVerify(nil)
	auth := wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
		id, err := verify(r.Context(), r.URL.Query().Get("token"))
		id.Session = "s-" + id.User
		return id, err
	})
	var built atomic.Int32
	m := wssync.NewManager(notesFactory(&built), append([]wssync.ManagerOption{auth}, opts...)...)
	return m, serveManager(t, m)
}

func dialToken(t *testing.T, url, token string) *wssynctest.Client {
	t.Helper()
	c := wstest.Dial(t, url+"?token="+token)
	waitType(t, c, "_SET:NOTES")
	return c
}

type authExpiry struct {
	Expires int64 `json:"expires"`
	Refresh *bool `json:"refresh"`
}

func decodeExpiry(t *testing.T, raw json.RawMessage) authExpiry {
	t.Helper()
	var e authExpiry
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("expiry data %s: %v", raw, err)
	}
	return e
}

// A connection whose identity expires is warned, told, and closed with 4005.
func TestAuthExpiryClosesWithTokenExpired(t *testing.T) {
	t.Parallel()
	_, url := authManager(t)
	c := dialToken(t, url, fakeToken("ann", "guest", 300*time.Millisecond))
	warn := decodeExpiry(t, waitType(t, c, "_AUTH_EXPIRING").Data)
	if warn.Refresh == nil || *warn.Refresh || warn.Expires == 0 {
		t.Fatalf("_AUTH_EXPIRING %+v: want the expiry, and refresh false without WithTokenRefresh", warn)
	}
	gone := decodeExpiry(t, waitType(t, c, "_AUTH_EXPIRED").Data)
	if gone.Expires != warn.Expires {
		t.Fatalf("_AUTH_EXPIRED %+v, announced %+v", gone, warn)
	}
	if code := closeCode(t, c); code != wssync.CloseTokenExpired {
		t.Fatalf("close code %d, want %d", code, wssync.CloseTokenExpired)
	}
	if time.Now().Before(time.UnixMilli(gone.Expires)) {
		t.Fatal("closed before the identity expired")
	}
}

// A fresh token over the socket extends the connection past its first expiry, replaces
// the session's roles and expiry, and is answered with a _RESULT.
func TestAuthRefreshExtendsConnection(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	m, url := authManager(t, wssync.WithTokenRefresh(fakeVerify(&calls)))
	c := dialToken(t, url, fakeToken("ann", "guest", 400*time.Millisecond))
	warn := decodeExpiry(t, waitType(t, c, "_AUTH_EXPIRING").Data)
	if warn.Refresh == nil || !*warn.Refresh {
		t.Fatalf("_AUTH_EXPIRING %+v: want refresh true", warn)
	}
	if err := c.SendFrame(map[string]any{"type": "_AUTH", "id": "r1", "data": map[string]any{"token": fakeToken("ann", "admin", time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	res := waitType(t, c, "_RESULT")
	if res.ID != "r1" || res.Error != nil {
		t.Fatalf("_RESULT %+v", res)
	}
	if got := decodeExpiry(t, res.Data); time.UnixMilli(got.Expires).Before(time.Now().Add(50 * time.Minute)) {
		t.Fatalf("_RESULT expiry %+v, want about an hour from now", got)
	}
	sess, _ := m.Session("s-ann")
	if id := sess.Identity(); !id.HasRole("admin") || id.HasRole("guest") || id.User != "ann" || id.Session != "s-ann" {
		t.Fatalf("identity after refresh %+v", id)
	}
	// Past the first token's expiry the connection still answers.
	time.Sleep(time.Until(time.UnixMilli(warn.Expires)) + 200*time.Millisecond)
	if err := c.Get("NOTES"); err != nil {
		t.Fatal(err)
	}
	waitType(t, c, "_SET:NOTES")
	for _, f := range c.Frames() {
		if f.Type == "_AUTH_EXPIRED" {
			t.Fatal("told the refreshed identity expired")
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("verify called %d times", calls.Load())
	}
}

// A refresh with a token of another user is refused and closes the connection with 4004;
// the session's identity is unchanged.
func TestAuthRefreshWithAnotherUsersTokenCloses(t *testing.T) {
	t.Parallel()
	m, url := authManager(t, wssync.WithTokenRefresh(fakeVerify(nil)))
	c := dialToken(t, url, fakeToken("ann", "guest", time.Hour))
	if err := c.SendFrame(map[string]any{"type": "_AUTH", "id": "r1", "data": map[string]any{"token": fakeToken("bob", "admin", time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	res := waitType(t, c, "_RESULT")
	if e := errorOf(t, res); e.Code != wssync.CodeTokenWrongUser || e.Event != "_AUTH" {
		t.Fatalf("refusal %+v", e)
	}
	if code := closeCode(t, c); code != wssync.CloseUnauthorized {
		t.Fatalf("close code %d, want %d", code, wssync.CloseUnauthorized)
	}
	sess, _ := m.Session("s-ann")
	if id := sess.Identity(); id.HasRole("admin") || !id.HasRole("guest") {
		t.Fatalf("identity changed by another user's token: %+v", id)
	}
}

// A token that fails to verify is refused; the connection stays, with its identity, and
// still expires when that did.
func TestAuthRefreshRejectedKeepsIdentity(t *testing.T) {
	t.Parallel()
	m, url := authManager(t, wssync.WithTokenRefresh(fakeVerify(nil)))
	c := dialToken(t, url, fakeToken("ann", "guest", 500*time.Millisecond))
	if err := c.Send("_AUTH", map[string]any{"token": "bad"}); err != nil {
		t.Fatal(err)
	}
	if e := errorOf(t, waitType(t, c, "_ERROR")); e.Code != wssync.CodeTokenRejected {
		t.Fatalf("refusal %+v", e)
	}
	sess, _ := m.Session("s-ann")
	if id := sess.Identity(); !id.HasRole("guest") || id.Expires.IsZero() {
		t.Fatalf("identity changed by a refused token: %+v", id)
	}
	if code := closeCode(t, c); code != wssync.CloseTokenExpired {
		t.Fatalf("close code %d, want %d", code, wssync.CloseTokenExpired)
	}
}

// A refresh to an identity that never expires stops the clock; one that has expired
// already (a verifier's leeway may pass it) is refused, and the identity stays.
func TestAuthRefreshMovesTheClock(t *testing.T) {
	t.Parallel()
	_, url := authManager(t, wssync.WithTokenRefresh(fakeVerify(nil)))
	c := dialToken(t, url, fakeToken("ann", "guest", 300*time.Millisecond))
	if err := c.SendFrame(map[string]any{"type": "_AUTH", "id": "r1", "data": map[string]any{"token": fakeToken("ann", "guest", 0)}}); err != nil {
		t.Fatal(err)
	}
	if res := waitType(t, c, "_RESULT"); res.Error != nil || string(res.Data) != "{}" {
		t.Fatalf("_RESULT %+v, want data {} (no expiry)", res)
	}
	time.Sleep(500 * time.Millisecond) // past the first expiry
	if err := c.Get("NOTES"); err != nil {
		t.Fatal(err)
	}
	waitType(t, c, "_SET:NOTES")
	if err := c.Send("_AUTH", map[string]any{"token": fakeToken("ann", "guest", -time.Second)}); err != nil {
		t.Fatal(err)
	}
	if e := waitType(t, c, "_ERROR"); !strings.Contains(string(e.Data), string(wssync.CodeTokenRejected)) {
		t.Fatalf("_ERROR %s, want %s", e.Data, wssync.CodeTokenRejected)
	}
	if err := c.Get("NOTES"); err != nil {
		t.Fatal(err)
	}
	waitType(t, c, "_SET:NOTES") // still connected, on the identity without expiry
}

// Without WithTokenRefresh, _AUTH is an unknown event.
func TestAuthWithoutRefreshIsUnknownEvent(t *testing.T) {
	t.Parallel()
	_, url := authManager(t)
	c := dialToken(t, url, fakeToken("ann", "guest", time.Hour))
	if err := c.Send("_AUTH", map[string]any{"token": fakeToken("ann", "admin", time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if e := errorOf(t, waitType(t, c, "_ERROR")); e.Code != wssync.CodeUnknownEvent || e.Event != "_AUTH" {
		t.Fatalf("refusal %+v", e)
	}
}

// Malformed _AUTH frames are bad_data, never reach the verifier, and count toward
// MaxBadFrames.
func TestHostileAuthFrames(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	_, url := authManager(t, wssync.WithTokenRefresh(fakeVerify(&calls)), wssync.WithLimits(wssync.Limits{MaxBadFrames: 4}))
	c := dialToken(t, url, fakeToken("ann", "guest", time.Hour))
	for _, raw := range []string{
		`{"type":"_AUTH"}`,
		`{"type":"_AUTH","data":"ann|admin|0"}`,
		`{"type":"_AUTH","data":{"token":5}}`,
		`{"type":"_AUTH","data":{"token":"` + strings.Repeat("a", wssync.MaxTokenBytes+1) + `"}}`,
	} {
		if err := c.SendRaw([]byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	if code := closeCode(t, c); code != wssync.ClosePolicyViolation {
		t.Fatalf("close code %d after MaxBadFrames bad _AUTH frames", code)
	}
	// Refusals still queued at the close are dropped; the last one is its farewell.
	var refusals int
	for _, f := range c.Frames() {
		if f.Type == "_ERROR" {
			refusals++
			if e := errorOf(t, f); e.Code != wssync.CodeBadData {
				t.Fatalf("refusal %+v", e)
			}
		}
	}
	if refusals == 0 {
		t.Fatal("closed without the refusal that reached the limit")
	}
	if calls.Load() != 0 {
		t.Fatalf("verify called %d times for malformed frames", calls.Load())
	}
}

// _AUTH frames past a burst of 3 are refused with rate_limited before verification.
func TestAuthRefreshRateLimited(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	_, url := authManager(t, wssync.WithTokenRefresh(fakeVerify(&calls)))
	c := dialToken(t, url, fakeToken("ann", "guest", time.Hour))
	for i := range 5 {
		if err := c.SendFrame(map[string]any{"type": "_AUTH", "id": "r" + strconv.Itoa(i), "data": map[string]any{"token": fakeToken("ann", "guest", time.Hour)}}); err != nil {
			t.Fatal(err)
		}
	}
	var limited int
	for range 5 {
		res := waitType(t, c, "_RESULT")
		if res.Error != nil {
			if e := errorOf(t, res); e.Code != wssync.CodeRateLimited {
				t.Fatalf("refusal %+v", e)
			}
			limited++
		}
	}
	if limited != 2 || calls.Load() != 3 {
		t.Fatalf("%d refused as rate_limited, %d verified; want 2 and 3", limited, calls.Load())
	}
}

// The upgrade selects the wssync subprotocol when the client offers it, and never a
// token the client offers beside it.
func TestUpgradeEchoesSubprotocolNotToken(t *testing.T) {
	t.Parallel()
	_, url := authManager(t)
	for _, tc := range []struct {
		offer []string
		want  string
	}{
		{[]string{"wssync", "wssync.bearer.secret"}, "wssync"},
		{[]string{"wssync.bearer.secret", "wssync"}, "wssync"},
		{[]string{"wssync.bearer.secret"}, ""},
		{nil, ""},
	} {
		d := websocket.Dialer{Subprotocols: tc.offer}
		ws, res, err := d.DialContext(wstest.Context(t), url+"?token="+fakeToken("ann", "guest", time.Hour), nil)
		if err != nil {
			t.Fatalf("offer %v: %v", tc.offer, err)
		}
		if got := res.Header.Values("Sec-Websocket-Protocol"); ws.Subprotocol() != tc.want || len(got) > 1 || strings.Contains(strings.Join(got, ","), "secret") {
			t.Errorf("offer %v: selected %q (header %q), want %q", tc.offer, ws.Subprotocol(), got, tc.want)
		}
		ws.Close()
	}
}
