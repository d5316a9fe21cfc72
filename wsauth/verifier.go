package wsauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wssync/wssync"
)

// MaxTokenBytes bounds the tokens a Verifier reads; a longer one is refused unparsed.
const MaxTokenBytes = wssync.MaxTokenBytes

// Errors of Auth, Verify and Refresh (wrapped, with the cause).
var (
	// ErrNoToken: the request carries no token in any of the Verifier's sources.
	ErrNoToken = errors.New("wsauth: no token")
	// ErrInvalidToken: the token does not verify (signature, algorithm, expiry, issuer,
	// audience, a claim of the wrong type, no subject).
	ErrInvalidToken = errors.New("wsauth: invalid token")
)

// Config configures a Verifier. Keys is required; every other zero field has the default
// written beside it.
type Config struct {
	// Keys verify the signatures: HMACKey, RSAKey, ECDSAKey, a KeySet from ParseJWKS, a
	// RemoteKeySet, or a KeySource of your own.
	Keys KeySource
	// Algorithms are the accepted "alg" values, a subset of HS256, RS256 and ES256
	// (default: all three). Whatever the list, a token is verified only with a key of its
	// algorithm's kind, and "none" is never accepted.
	Algorithms []string
	// Issuer, when set, must equal the "iss" claim; Audience, when set, must be one of the
	// "aud" claim's values.
	Issuer, Audience string
	// Leeway is the clock skew allowed on "exp", "nbf" and "iat" (default 0). Expires on
	// the identity is "exp" itself: the connection closes at exp, not exp+Leeway.
	Leeway time.Duration
	// Sources are where Auth looks for the token, the first that has one winning (default:
	// FromHeader, then FromSubprotocol).
	Sources []Source
	// UserClaim names the claim that becomes Identity.User (default "sub"); it must be a
	// non-empty string. SessionClaim, when set, names a string claim that becomes
	// Identity.Session (then no `_USER_SESSION` handshake is needed). RolesClaim names the
	// roles (default "roles"): an array of strings, or one string of space-separated
	// roles (as an OAuth "scope"). Every other claim but "exp" goes to Identity.Claims.
	UserClaim, SessionClaim, RolesClaim string
	// Map, when set, receives the identity built from the claims and the verified claims
	// themselves, and returns the identity to use: to read other claims, or to refuse a
	// valid token with an error wrapping wssync.ErrForbidden (403 on the upgrade). Another
	// error refuses it as invalid (401).
	Map func(id wssync.Identity, claims map[string]any) (wssync.Identity, error)
}

// Verifier checks tokens as its Config says. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	parser *jwt.Parser
}

var supportedAlgs = []string{HS256, RS256, ES256}

// New returns a Verifier for cfg. It refuses a Config without Keys, with an algorithm
// other than HS256, RS256 or ES256, or with an HMAC secret shorter than MinHMACKeyBytes.
func New(cfg Config) (*Verifier, error) {
	if cfg.Keys == nil {
		return nil, errors.New("wsauth: Config.Keys is required")
	}
	if k, ok := cfg.Keys.(staticKey); ok && k.alg == HS256 && len(k.key.([]byte)) < MinHMACKeyBytes {
		return nil, fmt.Errorf("wsauth: an HS256 secret must be at least %d bytes", MinHMACKeyBytes)
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = supportedAlgs
	}
	for _, a := range cfg.Algorithms {
		if !slices.Contains(supportedAlgs, a) {
			return nil, fmt.Errorf("wsauth: algorithm %q is not supported (HS256, RS256, ES256)", a)
		}
	}
	cfg.Algorithms = slices.Clone(cfg.Algorithms)
	if cfg.Sources == nil {
		cfg.Sources = defaultSources()
	}
	if cfg.UserClaim == "" {
		cfg.UserClaim = "sub"
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "roles"
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(cfg.Algorithms),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithIssuedAt(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return &Verifier{cfg: cfg, parser: jwt.NewParser(opts...)}, nil
}

// Auth identifies an upgrade request by its token: pass it to wssync.WithAuth. No token
// is ErrNoToken and a bad one ErrInvalidToken (both 401); a Map refusal wrapping
// wssync.ErrForbidden is 403.
func (v *Verifier) Auth(r *http.Request) (wssync.Identity, error) {
	token := v.tokenOf(r)
	if token == "" {
		return wssync.Identity{}, ErrNoToken
	}
	return v.Verify(r.Context(), token)
}

// Refresh verifies a token a connected client sent in `_AUTH`: pass it to
// wssync.WithTokenRefresh. It is Verify; the Manager then checks that the identity is the
// connection's.
func (v *Verifier) Refresh(ctx context.Context, token string) (wssync.Identity, error) {
	return v.Verify(ctx, token)
}

func (v *Verifier) tokenOf(r *http.Request) string {
	for _, src := range v.cfg.Sources {
		if t := src(r); t != "" {
			return t
		}
	}
	return ""
}

// Verify checks token and returns the identity its claims name. It blocks only while
// the KeySource does (a RemoteKeySet fetching its document).
func (v *Verifier) Verify(ctx context.Context, token string) (wssync.Identity, error) {
	if len(token) > MaxTokenBytes {
		return wssync.Identity{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, MaxTokenBytes)
	}
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		kid, _ := t.Header["kid"].(string)
		key, err := v.cfg.Keys.Key(ctx, alg, kid)
		if err != nil {
			return nil, err
		}
		if !keyFits(alg, key) {
			return nil, fmt.Errorf("the key for %s is of another kind (%T)", alg, key)
		}
		return key, nil
	})
	if err != nil {
		return wssync.Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	id, err := v.identity(claims)
	if err != nil {
		return wssync.Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if v.cfg.Map != nil {
		if id, err = v.cfg.Map(id, claims); err != nil {
			if errors.Is(err, wssync.ErrForbidden) {
				return wssync.Identity{}, err
			}
			return wssync.Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
		}
	}
	return id, nil
}

// identity maps verified claims to an identity (see Config).
func (v *Verifier) identity(claims jwt.MapClaims) (wssync.Identity, error) {
	var id wssync.Identity
	user, ok := claims[v.cfg.UserClaim].(string)
	if !ok || user == "" {
		return id, fmt.Errorf("claim %q must be a non-empty string", v.cfg.UserClaim)
	}
	id.User = user
	if c := v.cfg.SessionClaim; c != "" {
		if id.Session, ok = claims[c].(string); !ok || id.Session == "" {
			return id, fmt.Errorf("claim %q must be a non-empty string", c)
		}
	}
	roles, err := rolesOf(claims[v.cfg.RolesClaim])
	if err != nil {
		return id, fmt.Errorf("claim %q: %w", v.cfg.RolesClaim, err)
	}
	id.Roles = roles
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return id, errors.New(`claim "exp" is required`)
	}
	id.Expires = exp.Time
	for k, val := range claims {
		switch k {
		case v.cfg.UserClaim, v.cfg.SessionClaim, v.cfg.RolesClaim, "exp":
			continue
		}
		if id.Claims == nil {
			id.Claims = make(map[string]any, len(claims))
		}
		id.Claims[k] = val
	}
	return id, nil
}

// rolesOf reads a roles claim: absent, an array of strings, or a space-separated string.
func rolesOf(v any) ([]string, error) {
	switch r := v.(type) {
	case nil:
		return nil, nil
	case string:
		return strings.Fields(r), nil
	case []any:
		out := make([]string, 0, len(r))
		for _, e := range r {
			s, ok := e.(string)
			if !ok {
				return nil, errors.New("must be strings")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, errors.New("must be an array of strings or a string")
}
