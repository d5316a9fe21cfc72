package wsauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
)

// The algorithms a Verifier can check.
const (
	HS256 = "HS256" // HMAC with SHA-256: a secret shared by the issuer and the server
	RS256 = "RS256" // RSA PKCS#1 v1.5 with SHA-256: the issuer's RSA public key
	ES256 = "ES256" // ECDSA on P-256 with SHA-256: the issuer's P-256 public key
)

// MinHMACKeyBytes is the shortest HS256 secret New accepts (256 bits, RFC 7518 §3.2).
const MinHMACKeyBytes = 32

// KeySource finds the key that verifies a token signed with alg whose header names kid
// (empty when it names none). The key is a []byte for HS256, an *rsa.PublicKey for RS256,
// an *ecdsa.PublicKey on P-256 for ES256; the Verifier refuses a key of another kind for
// alg, whatever the source returns. Key may block (a KeySet fetched from a URL) until ctx
// ends.
type KeySource interface {
	Key(ctx context.Context, alg, kid string) (any, error)
}

// ErrNoKey is returned, wrapped, by a KeySource that has no key for a token.
var ErrNoKey = errors.New("wsauth: no key for the token")

// staticKey is one key of one algorithm, whatever the kid.
type staticKey struct {
	alg string
	key any
}

func (k staticKey) Key(_ context.Context, alg, _ string) (any, error) {
	if alg != k.alg {
		return nil, fmt.Errorf("%w: the key is for %s, the token is %s", ErrNoKey, k.alg, alg)
	}
	return k.key, nil
}

// HMACKey verifies HS256 tokens with secret, which must be at least MinHMACKeyBytes long
// (New checks).
func HMACKey(secret []byte) KeySource { return staticKey{HS256, append([]byte(nil), secret...)} }

// RSAKey verifies RS256 tokens with pub.
func RSAKey(pub *rsa.PublicKey) KeySource { return staticKey{RS256, pub} }

// ECDSAKey verifies ES256 tokens with pub, a P-256 key.
func ECDSAKey(pub *ecdsa.PublicKey) KeySource { return staticKey{ES256, pub} }

// keyFits reports whether key is of the kind alg is verified with: the check that stops
// algorithm confusion (an RS256 public key used as an HS256 secret, or the reverse).
func keyFits(alg string, key any) bool {
	switch k := key.(type) {
	case []byte:
		return alg == HS256 && len(k) >= MinHMACKeyBytes
	case *rsa.PublicKey:
		return alg == RS256 && k != nil
	case *ecdsa.PublicKey:
		return alg == ES256 && k != nil && k.Curve == elliptic.P256()
	}
	return false
}
