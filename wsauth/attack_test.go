package wsauth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
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

// Attacks by a hostile client on token verification, each naming the promise it tries
// to break.

// hand signs a token whose header and claims are exactly the given JSON, with HS256 over
// key: for headers a library would not write (a lower-case alg, a kid of another key).
func hand(header, claims string, key []byte) string {
	h := b64([]byte(header)) + "." + b64([]byte(claims))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h))
	return h + "." + b64(mac.Sum(nil))
}

// Promise (docs/security.md, Tokens): "each token verified only with a key of its
// algorithm's kind ... whatever a KeySource returns". A key set with an RSA and an EC
// key: a token that names the RSA key's kid but another alg (ES256, or HS256 keyed with
// the RSA key's public bytes) must not verify, nor an RS256 token naming the EC key.
func TestAttackKidOfAnotherKind(t *testing.T) {
	t.Parallel()
	set, err := wsauth.ParseJWKS(jwks(rsaJWK("r1", &rsaKey.PublicKey), ecJWK("e1", ecKey)))
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, wsauth.Config{Keys: set})
	der := must(x509.MarshalPKIXPublicKey(&rsaKey.PublicKey))
	now := time.Now()
	body, _ := json.Marshal(map[string]any{"sub": "ann", "exp": now.Add(time.Hour).Unix()})
	for name, tok := range map[string]string{
		"ES256 naming the RSA kid":             sign(t, jwt.SigningMethodES256, ecKey, "r1", claims("ann")),
		"RS256 naming the EC kid":              sign(t, jwt.SigningMethodRS256, rsaKey, "e1", claims("ann")),
		"HS256 naming the RSA kid, DER secret": sign(t, jwt.SigningMethodHS256, der, "r1", claims("ann")),
		"HS256 naming the RSA kid, modulus":    sign(t, jwt.SigningMethodHS256, rsaKey.N.Bytes(), "r1", claims("ann")),
		"HS256 without kid, modulus":           sign(t, jwt.SigningMethodHS256, rsaKey.N.Bytes(), "", claims("ann")),
		"lower-case hs256":                     hand(`{"alg":"hs256","typ":"JWT","kid":"r1"}`, string(body), der),
		"alg none with a signature":            hand(`{"alg":"none","typ":"JWT"}`, string(body), der),
		"alg NONE":                             strings.Join([]string{b64([]byte(`{"alg":"NONE"}`)), b64(body), ""}, "."),
	} {
		if id, err := v.Verify(context.Background(), tok); !errors.Is(err, wsauth.ErrInvalidToken) || id.User != "" {
			t.Errorf("%s: %+v, %v", name, id, err)
		}
	}
	// The key of each kid still verifies its own kind.
	for _, tok := range []string{sign(t, jwt.SigningMethodES256, ecKey, "e1", claims("ann")), sign(t, jwt.SigningMethodRS256, rsaKey, "r1", claims("ann"))} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("own kind refused: %v", err)
		}
	}
}

// Promise (godoc KeySet.Key): "A token without a kid is verified with the set's only key
// for alg, when it has exactly one." With two RSA keys, a kid-less token signed by either
// must not verify.
func TestAttackNoKidWithTwoKeys(t *testing.T) {
	t.Parallel()
	set, err := wsauth.ParseJWKS(jwks(rsaJWK("r1", &rsaKey.PublicKey), rsaJWK("r2", &otherRSAKey.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, wsauth.Config{Keys: set})
	for _, k := range []any{rsaKey, otherRSAKey} {
		if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k, "", claims("ann"))); !errors.Is(err, wsauth.ErrInvalidToken) {
			t.Errorf("kid-less token with two keys: %v", err)
		}
	}
}

// Promise (docs/security.md): "Expires is exp itself, not exp + leeway". A token already
// past its exp but within the verifier's leeway must buy nothing: the upgrade is refused
// with 401 before any state exists, for every amount of time past exp.
func TestAttackTokenWithinLeewayAlreadyExpired(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, wsauth.Config{Keys: wsauth.HMACKey(secret), SessionClaim: "sid", Leeway: time.Minute})
	_, url := serveVerified(t, v)
	for _, ago := range []time.Duration{time.Millisecond, 5 * time.Second, 50 * time.Second} {
		tok := sessionToken(t, "ann", "tab-1", time.Now().Add(-ago))
		ws, res, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + tok}})
		if ws != nil {
			_ = ws.Close()
		}
		if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a token %v past its exp: %v, %v; want 401 before the upgrade", ago, res, err)
		}
	}
}

// Promise (docs/protocol.md, Refresh): "A token for the same user (and session, when it
// names one) replaces the session's roles ... one of another user with token_wrong_user,
// and the connection is closed with 4004." ann's token for another tab of hers, with the
// admin role, must not promote tab-1.
func TestAttackRefreshWithTokenOfAnotherSession(t *testing.T) {
	t.Parallel()
	m, url := serveVerified(t, hsVerifier(t))
	c := wstest.Dial(t, url, wssynctest.WithHeader(http.Header{"Authorization": {"Bearer " + sessionToken(t, "ann", "tab-1", time.Now().Add(time.Hour))}}))
	wstest.WaitType(t, c, "_SET:NOTES")
	if err := c.SendFrame(map[string]any{"type": "_AUTH", "id": "x", "data": map[string]string{"token": sessionToken(t, "ann", "tab-2", time.Now().Add(time.Hour), "admin")}}); err != nil {
		t.Fatal(err)
	}
	if res := wstest.WaitType(t, c, "_RESULT"); !strings.Contains(string(res.Error), `"token_wrong_user"`) {
		t.Fatalf("another session's token: %+v", res)
	}
	var ce *websocket.CloseError
	if err := wstest.WaitClosed(t, c); !errors.As(err, &ce) || ce.Code != wssync.CloseUnauthorized {
		t.Fatalf("close %v, want %d", err, wssync.CloseUnauthorized)
	}
	if sess, ok := m.Session("tab-1"); ok && sess.Identity().HasRole("admin") {
		t.Fatalf("tab-1 promoted: %+v", sess.Identity())
	}
}

// Promise (docs/protocol.md, Expiry): "At the expiry the server sends _AUTH_EXPIRED and
// closes with 4005." A fresh token sent the moment _AUTH_EXPIRED arrives is too late: the
// close follows all the same.
func TestAttackRefreshAfterExpired(t *testing.T) {
	t.Parallel()
	_, url := serveVerified(t, hsVerifier(t))
	c := wstest.Dial(t, url, wssynctest.WithHeader(http.Header{"Authorization": {"Bearer " + sessionToken(t, "ann", "tab-1", time.Now().Add(time.Second))}}))
	wstest.WaitType(t, c, "_AUTH_EXPIRED")
	_ = c.SendFrame(map[string]any{"type": "_AUTH", "id": "late", "data": map[string]string{"token": sessionToken(t, "ann", "tab-1", time.Now().Add(time.Hour), "admin")}})
	var ce *websocket.CloseError
	if err := wstest.WaitClosed(t, c); !errors.As(err, &ce) || ce.Code != wssync.CloseTokenExpired {
		t.Fatalf("close %v, want %d", err, wssync.CloseTokenExpired)
	}
}

// Promise (docs/security.md): "a refused _AUTH (token_rejected) leaves the identity as it
// was". A refresh token that lacks the session claim the Verifier requires is refused,
// and neither promotes nor unbinds the session.
func TestAttackRefreshWithoutSessionClaim(t *testing.T) {
	t.Parallel()
	m, url := serveVerified(t, hsVerifier(t))
	c := wstest.Dial(t, url, wssynctest.WithHeader(http.Header{"Authorization": {"Bearer " + sessionToken(t, "ann", "tab-1", time.Now().Add(time.Hour))}}))
	wstest.WaitType(t, c, "_SET:NOTES")
	cl := claims("ann")
	cl["roles"] = []string{"admin"}
	if err := c.SendFrame(map[string]any{"type": "_AUTH", "id": "x", "data": map[string]string{"token": sign(t, jwt.SigningMethodHS256, secret, "", cl)}}); err != nil {
		t.Fatal(err)
	}
	res := wstest.WaitType(t, c, "_RESULT")
	if !strings.Contains(string(res.Error), `"token_rejected"`) && !strings.Contains(string(res.Error), `"token_wrong_user"`) {
		t.Fatalf("token without sid: %+v", res)
	}
	wstest.Eventually(t, "the refusal handled", func() bool { return len(c.Frames()) > 0 })
	if sess, ok := m.Session("tab-1"); !ok || sess.Identity().HasRole("admin") || sess.Identity().Session != "tab-1" {
		t.Fatalf("identity after a refused refresh: %+v", sess.Identity())
	}
}
