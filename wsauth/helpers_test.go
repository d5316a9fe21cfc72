package wsauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// Keys generated once per test binary: RSA generation takes a while.
var (
	rsaKey, otherRSAKey = mustRSA(), mustRSA()
	ecKey               = mustEC()
	secret              = []byte("0123456789abcdef0123456789abcdef")
)

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// claims returns the claims of a valid token for user, expiring in an hour.
func claims(user string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": user, "iss": "https://issuer.test", "aud": "wssync-test",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// sign signs c with method and key, naming kid in the header when it is not empty.
func sign(t testing.TB, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rsaJWK and ecJWK describe public keys as JWKs.
func rsaJWK(kid string, k *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PrivateKey) map[string]any {
	pub, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	return map[string]any{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(pub[1:33]), "y": b64(pub[33:])}
}

func jwks(keys ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

// mustRSASmall is a 1024-bit key, too short for a KeySet.
func mustRSASmall() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		panic(err)
	}
	return k
}

// httpHandler mounts m as an http.Handler.
func httpHandler(m *wssync.Manager) http.Handler { return http.HandlerFunc(m.ServeWS) }
