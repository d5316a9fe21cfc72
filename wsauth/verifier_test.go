package wsauth_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsauth"
)

func newVerifier(t testing.TB, cfg wsauth.Config) *wsauth.Verifier {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = "https://issuer.test"
	}
	if cfg.Audience == "" {
		cfg.Audience = "wssync-test"
	}
	v, err := wsauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Tokens of each algorithm verify with their key and map to an identity.
func TestVerifyEachAlgorithm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		keys   wsauth.KeySource
		method jwt.SigningMethod
		key    any
	}{
		{"HS256", wsauth.HMACKey(secret), jwt.SigningMethodHS256, secret},
		{"RS256", wsauth.RSAKey(&rsaKey.PublicKey), jwt.SigningMethodRS256, rsaKey},
		{"ES256", wsauth.ECDSAKey(&ecKey.PublicKey), jwt.SigningMethodES256, ecKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, wsauth.Config{Keys: tc.keys})
			c := claims("ann")
			id, err := v.Verify(context.Background(), sign(t, tc.method, tc.key, "", c))
			if err != nil {
				t.Fatal(err)
			}
			if id.User != "ann" || !id.Expires.Equal(time.Unix(c["exp"].(int64), 0)) {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

// Every kind of bad token is refused as invalid, none of them reaching the identity.
func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	rsaPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&rsaKey.PublicKey))})
	rsaPubDER := must(x509.MarshalPKIXPublicKey(&rsaKey.PublicKey))
	rsaVerifier := wsauth.Config{Keys: wsauth.RSAKey(&rsaKey.PublicKey)}
	hsVerifier := wsauth.Config{Keys: wsauth.HMACKey(secret)}
	with := func(user string, edit func(jwt.MapClaims)) jwt.MapClaims {
		c := claims(user)
		edit(c)
		return c
	}
	noneToken := must(jwt.NewWithClaims(jwt.SigningMethodNone, claims("ann")).SignedString(jwt.UnsafeAllowNoneSignatureType))
	for _, tc := range []struct {
		name  string
		cfg   wsauth.Config
		token string
	}{
		{"expired", rsaVerifier, sign(t, jwt.SigningMethodRS256, rsaKey, "", with("ann", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }))},
		{"wrong RSA key", rsaVerifier, sign(t, jwt.SigningMethodRS256, otherRSAKey, "", claims("ann"))},
		{"wrong HMAC secret", hsVerifier, sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), "", claims("ann"))},
		{"wrong audience", rsaVerifier, sign(t, jwt.SigningMethodRS256, rsaKey, "", with("ann", func(c jwt.MapClaims) { c["aud"] = "another-app" }))},
		{"no audience", rsaVerifier, sign(t, jwt.SigningMethodRS256, rsaKey, "", with("ann", func(c jwt.MapClaims) { delete(c, "aud") }))},
		{"wrong issuer", rsaVerifier, sign(t, jwt.SigningMethodRS256, rsaKey, "", with("ann", func(c jwt.MapClaims) { c["iss"] = "https://evil.test" }))},
		{"no expiry", rsaVerifier, sign(t, jwt.SigningMethodRS256, rsaKey, "", with("ann", func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"not valid yet", rsaVerifier, sign(t, jwt.SigningMethodRS256, rsaKey, "", with("ann", func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Minute).Unix() }))},
		{"issued in the future", rsaVerifier, sign(t, jwt.SigningMethodRS256, rsaKey, "", with("ann", func(c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Minute).Unix() }))},
		{"no subject", rsaVerifier, sign(t, jwt.SigningMethodRS256, rsaKey, "", with("ann", func(c jwt.MapClaims) { delete(c, "sub") }))},
		{"subject not a string", rsaVerifier, sign(t, jwt.SigningMethodRS256, rsaKey, "", with("ann", func(c jwt.MapClaims) { c["sub"] = 7 }))},
		{"roles not strings", rsaVerifier, sign(t, jwt.SigningMethodRS256, rsaKey, "", with("ann", func(c jwt.MapClaims) { c["roles"] = []int{1} }))},
		// Algorithm confusion: an HS256 token whose HMAC secret is the RSA public key, as
		// a verifier that handed "the key" to whatever alg the token names would accept.
		{"HS256 signed with the RSA public key (PEM)", rsaVerifier, sign(t, jwt.SigningMethodHS256, rsaPubPEM, "", claims("ann"))},
		{"HS256 signed with the RSA public key (DER)", rsaVerifier, sign(t, jwt.SigningMethodHS256, rsaPubDER, "", claims("ann"))},
		{"alg none", rsaVerifier, noneToken},
		{"alg none, HMAC verifier", hsVerifier, noneToken},
		{"RS256 token, only HS256 allowed", wsauth.Config{Keys: wsauth.RSAKey(&rsaKey.PublicKey), Algorithms: []string{wsauth.HS256}}, sign(t, jwt.SigningMethodRS256, rsaKey, "", claims("ann"))},
		{"RS384", rsaVerifier, sign(t, jwt.SigningMethodRS384, rsaKey, "", claims("ann"))},
		{"ES256 token, RSA key", rsaVerifier, sign(t, jwt.SigningMethodES256, ecKey, "", claims("ann"))},
		{"malformed", rsaVerifier, "not.a.token"},
		{"too long", rsaVerifier, strings.Repeat("a", wsauth.MaxTokenBytes+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, tc.cfg)
			id, err := v.Verify(context.Background(), tc.token)
			if !errors.Is(err, wsauth.ErrInvalidToken) || errors.Is(err, wssync.ErrForbidden) {
				t.Fatalf("err %v, want ErrInvalidToken", err)
			}
			if id.User != "" {
				t.Fatalf("identity %+v returned with the error", id)
			}
		})
	}
}

// A custom KeySource that hands back a key of the wrong kind (an RSA key's bytes as an
// HMAC secret) cannot make a token verify.
func TestVerifyRefusesKeyOfAnotherKind(t *testing.T) {
	t.Parallel()
	der := must(x509.MarshalPKIXPublicKey(&rsaKey.PublicKey))
	careless := keyFunc(func(context.Context, string, string) (any, error) { return der, nil })
	v := newVerifier(t, wsauth.Config{Keys: careless, Algorithms: []string{wsauth.RS256}})
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, der, "", claims("ann"))); !errors.Is(err, wsauth.ErrInvalidToken) {
		t.Fatalf("err %v", err)
	}
	v = newVerifier(t, wsauth.Config{Keys: careless})
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, rsaKey, "", claims("ann"))); !errors.Is(err, wsauth.ErrInvalidToken) {
		t.Fatalf("RS256 verified with a []byte key: %v", err)
	}
}

type keyFunc func(ctx context.Context, alg, kid string) (any, error)

func (f keyFunc) Key(ctx context.Context, alg, kid string) (any, error) { return f(ctx, alg, kid) }

// Leeway admits a token that expired within it; Expires stays the token's exp.
func TestVerifyLeeway(t *testing.T) {
	t.Parallel()
	c := claims("ann")
	c["exp"] = time.Now().Add(-2 * time.Second).Unix()
	tok := sign(t, jwt.SigningMethodHS256, secret, "", c)
	if _, err := newVerifier(t, wsauth.Config{Keys: wsauth.HMACKey(secret)}).Verify(context.Background(), tok); err == nil {
		t.Fatal("expired token accepted without leeway")
	}
	id, err := newVerifier(t, wsauth.Config{Keys: wsauth.HMACKey(secret), Leeway: time.Minute}).Verify(context.Background(), tok)
	if err != nil || id.Expires.Unix() != c["exp"] {
		t.Fatalf("with leeway: %+v, %v", id, err)
	}
}

// Claims map to the identity: sub, the session claim, roles (array or string), the rest.
func TestVerifyMapsClaims(t *testing.T) {
	t.Parallel()
	c := claims("ann")
	c["sid"], c["roles"], c["org"] = "tab-1", []string{"admin", "editor"}, "acme"
	v := newVerifier(t, wsauth.Config{Keys: wsauth.HMACKey(secret), SessionClaim: "sid"})
	id, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, secret, "", c))
	if err != nil {
		t.Fatal(err)
	}
	if id.User != "ann" || id.Session != "tab-1" || !id.HasRole("admin") || !id.HasRole("editor") || len(id.Roles) != 2 {
		t.Fatalf("identity %+v", id)
	}
	if id.Claims["org"] != "acme" || id.Claims["iss"] != "https://issuer.test" {
		t.Fatalf("claims %v", id.Claims)
	}
	for _, k := range []string{"sub", "sid", "roles", "exp"} {
		if _, ok := id.Claims[k]; ok {
			t.Errorf("claim %q is in Claims as well as in its field", k)
		}
	}
	c["scope"] = "read write"
	v = newVerifier(t, wsauth.Config{Keys: wsauth.HMACKey(secret), RolesClaim: "scope", UserClaim: "org"})
	id, err = v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, secret, "", c))
	if err != nil || id.User != "acme" || !id.HasRole("read") || !id.HasRole("write") {
		t.Fatalf("scope as roles: %+v, %v", id, err)
	}
	v = newVerifier(t, wsauth.Config{Keys: wsauth.HMACKey(secret), SessionClaim: "tab"})
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, secret, "", c)); !errors.Is(err, wsauth.ErrInvalidToken) {
		t.Fatalf("missing session claim: %v", err)
	}
}

// Map adjusts the identity, and refuses a valid token as forbidden or invalid.
func TestVerifyMapHook(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, wsauth.Config{Keys: wsauth.HMACKey(secret), Map: func(id wssync.Identity, c map[string]any) (wssync.Identity, error) {
		switch c["plan"] {
		case "banned":
			return id, fmt.Errorf("banned user: %w", wssync.ErrForbidden)
		case nil:
			return id, errors.New("no plan")
		}
		id.Roles = append(id.Roles, "plan:"+c["plan"].(string))
		return id, nil
	}})
	for plan, want := range map[string]error{"pro": nil, "banned": wssync.ErrForbidden, "": wsauth.ErrInvalidToken} {
		c := claims("ann")
		if plan != "" {
			c["plan"] = plan
		}
		id, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, secret, "", c))
		if !errors.Is(err, want) || want == nil && err != nil {
			t.Fatalf("plan %q: err %v, want %v", plan, err, want)
		}
		if want == nil && !id.HasRole("plan:pro") {
			t.Fatalf("plan %q: identity %+v", plan, id)
		}
	}
}

// New refuses configurations that would weaken verification.
func TestNewRefusesWeakConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]wsauth.Config{
		"no keys":      {},
		"short secret": {Keys: wsauth.HMACKey([]byte("short"))},
		"alg none":     {Keys: wsauth.HMACKey(secret), Algorithms: []string{"none"}},
		"RS512":        {Keys: wsauth.RSAKey(&rsaKey.PublicKey), Algorithms: []string{"RS512"}},
	} {
		if _, err := wsauth.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
