package wsauth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wssync/wssync/wsauth"
)

// A parsed JWKS verifies RS256 and ES256 tokens by kid, skips keys it cannot use, and
// never takes one key for another.
func TestParseJWKS(t *testing.T) {
	t.Parallel()
	small := mustRSASmall()
	set, err := wsauth.ParseJWKS(jwks(
		rsaJWK("rsa-1", &rsaKey.PublicKey),
		ecJWK("ec-1", ecKey),
		rsaJWK("rsa-small", &small.PublicKey),                     // under 2048 bits: skipped
		map[string]any{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}, // a secret: skipped
		map[string]any{"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
		map[string]any{"kty": "EC", "kid": "bad-point", "crv": "P-256", "x": b64(make([]byte, 32)), "y": b64(make([]byte, 32))},
		map[string]any{"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
	))
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 2 {
		t.Fatalf("%d usable keys, want 2", set.Len())
	}
	v := newVerifier(t, wsauth.Config{Keys: set})
	for _, tok := range []string{
		sign(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims("ann")),
		sign(t, jwt.SigningMethodES256, ecKey, "ec-1", claims("ann")),
		sign(t, jwt.SigningMethodRS256, rsaKey, "", claims("ann")), // the set's one RS256 key
	} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("verify: %v", err)
		}
	}
	for name, tok := range map[string]string{
		"unknown kid":        sign(t, jwt.SigningMethodRS256, rsaKey, "rsa-2", claims("ann")),
		"kid of another alg": sign(t, jwt.SigningMethodRS256, rsaKey, "ec-1", claims("ann")),
		"skipped key":        sign(t, jwt.SigningMethodRS256, small, "rsa-small", claims("ann")),
		"HS256 by kid":       sign(t, jwt.SigningMethodHS256, []byte("secret-secret-secret-secret-0123"), "h", claims("ann")),
	} {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, wsauth.ErrInvalidToken) {
			t.Errorf("%s: err %v", name, err)
		}
	}
	for name, doc := range map[string]string{
		"not JSON": `{`, "no keys": `{"keys":[]}`, "only unusable": `{"keys":[{"kty":"oct","k":"AA"}]}`, "array": `[]`,
	} {
		if _, err := wsauth.ParseJWKS([]byte(doc)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// FuzzParseJWKS: a key set document from the network never panics the parser, and what
// it accepts has usable keys only.
func FuzzParseJWKS(f *testing.F) {
	f.Add(jwks(rsaJWK("a", &rsaKey.PublicKey), ecJWK("b", ecKey)))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AAAAAAAAAAAB"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := wsauth.ParseJWKS(data)
		if err == nil && set.Len() == 0 {
			t.Fatal("accepted a set without keys")
		}
	})
}
