package wsauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// Bounds of a JWKS document.
const (
	maxJWKSKeys    = 100  // keys of one document
	minRSAKeyBits  = 2048 // shorter RSA keys are skipped
	maxRSAExponent = 1<<31 - 1
)

// KeySet is the verification keys of a JSON Web Key Set (RFC 7517), as parsed by
// ParseJWKS: RSA keys (for RS256) and P-256 EC keys (for ES256), by key id. It holds no
// symmetric keys: an HMAC secret is not published. A KeySet is immutable and safe for
// concurrent use.
type KeySet struct {
	keys []jwk
}

// jwk is one usable key of a set.
type jwk struct {
	kid string
	alg string // RS256 or ES256
	key any
}

// jwkJSON is the members of a JWK that a KeySet reads.
type jwkJSON struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// ParseJWKS parses a JWKS document, `{"keys": [...]}`. Keys it cannot use (another key
// type or curve, "use" other than "sig", an "alg" other than RS256 or ES256, RSA keys
// under 2048 bits, malformed members) are skipped; a document that is not a key set, has
// more than 100 keys or no usable key is an error.
func ParseJWKS(data []byte) (*KeySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("wsauth: JWKS: %w", err)
	}
	if len(doc.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("wsauth: JWKS has %d keys, more than %d", len(doc.Keys), maxJWKSKeys)
	}
	set := &KeySet{}
	for _, raw := range doc.Keys {
		var j jwkJSON
		if json.Unmarshal(raw, &j) != nil {
			continue
		}
		if k, ok := j.parse(); ok {
			set.keys = append(set.keys, k)
		}
	}
	if len(set.keys) == 0 {
		return nil, errors.New("wsauth: JWKS has no usable RS256 or ES256 key")
	}
	return set, nil
}

// parse builds the key j describes, when it is one a KeySet uses.
func (j jwkJSON) parse() (jwk, bool) {
	if j.Use != "" && j.Use != "sig" {
		return jwk{}, false
	}
	switch j.Kty {
	case "RSA":
		if j.Alg != "" && j.Alg != RS256 {
			return jwk{}, false
		}
		n, err1 := b64Int(j.N)
		e, err2 := b64Int(j.E)
		if err1 != nil || err2 != nil || n.BitLen() < minRSAKeyBits || !e.IsInt64() || e.Int64() < 3 || e.Int64() > maxRSAExponent {
			return jwk{}, false
		}
		return jwk{j.Kid, RS256, &rsa.PublicKey{N: n, E: int(e.Int64())}}, true
	case "EC":
		if j.Crv != "P-256" || j.Alg != "" && j.Alg != ES256 {
			return jwk{}, false
		}
		x, err1 := base64.RawURLEncoding.DecodeString(j.X)
		y, err2 := base64.RawURLEncoding.DecodeString(j.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return jwk{}, false
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil { // not a point of the curve
			return jwk{}, false
		}
		return jwk{j.Kid, ES256, pub}, true
	}
	return jwk{}, false
}

func b64Int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("bad base64url integer")
	}
	return new(big.Int).SetBytes(b), nil
}

// Key implements KeySource: the key of id kid for alg. A token without a kid is
// verified with the set's only key for alg, when it has exactly one.
func (s *KeySet) Key(_ context.Context, alg, kid string) (any, error) {
	if k, ok := s.lookup(alg, kid); ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: no %s key with kid %q", ErrNoKey, alg, kid)
}

func (s *KeySet) lookup(alg, kid string) (any, bool) {
	var found any
	n := 0
	for _, k := range s.keys {
		if k.alg != alg || kid != "" && k.kid != kid {
			continue
		}
		if kid != "" {
			return k.key, true
		}
		found = k.key
		n++
	}
	return found, n == 1
}

// Len returns how many usable keys the set holds.
func (s *KeySet) Len() int { return len(s.keys) }
