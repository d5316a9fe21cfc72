package wsauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Defaults of a RemoteKeySet, the fields of RemoteOptions.
const (
	DefaultJWKSMaxAge     = time.Hour        // a fetched set is used this long before it is fetched again
	DefaultJWKSMinRefresh = 30 * time.Second // at most one fetch in this time, whatever the tokens ask
	DefaultJWKSTimeout    = 10 * time.Second // one fetch, connection to last byte
	DefaultJWKSMaxBytes   = 1 << 20          // the largest JWKS document read
)

// RemoteOptions configures a RemoteKeySet. A zero field keeps its default (the Default*
// constant named beside it).
type RemoteOptions struct {
	// Client fetches the document (default: http.Client with DefaultJWKSTimeout).
	Client *http.Client
	// MaxAge is how long a fetched set is used before the next token fetches it again
	// (DefaultJWKSMaxAge, 1 hour); MinRefresh is the shortest time between two fetches
	// (DefaultJWKSMinRefresh, 30 s), also after a failed one.
	MaxAge, MinRefresh time.Duration
	// MaxBytes bounds the document (DefaultJWKSMaxBytes, 1 MiB); a longer one is an error.
	MaxBytes int64
}

// RemoteKeySet is a KeySet fetched from a URL (an identity provider's jwks_uri) and kept
// in memory. It fetches on first use, when the set is older than MaxAge, and when a token
// names a kid the set does not have (the provider rotated its keys), but never twice
// within MinRefresh: tokens with made-up kids cost no more than one fetch in that time.
// Until a newer fetch succeeds the last good set stays in use. A fetch runs on the
// goroutine of the token that needed it, while the others wait for it; there is no
// background goroutine. Safe for concurrent use.
type RemoteKeySet struct {
	url  string
	opts RemoteOptions

	mu      sync.Mutex
	set     *KeySet
	fetched time.Time // when set was fetched
	tried   time.Time // when the last fetch started
	err     error     // the last fetch's error
	fetches int
}

// NewRemoteKeySet returns a key set fetched from url. It fetches nothing yet.
func NewRemoteKeySet(url string, opts RemoteOptions) *RemoteKeySet {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: DefaultJWKSTimeout}
	}
	setDefault(&opts.MaxAge, DefaultJWKSMaxAge)
	setDefault(&opts.MinRefresh, DefaultJWKSMinRefresh)
	setDefault(&opts.MaxBytes, DefaultJWKSMaxBytes)
	return &RemoteKeySet{url: url, opts: opts}
}

func setDefault[N int64 | time.Duration](dst *N, def N) {
	if *dst <= 0 {
		*dst = def
	}
}

// Key implements KeySource: the key of id kid for alg, fetching the set as described on
// RemoteKeySet. It blocks for a fetch (bounded by the client's timeout and ctx).
func (r *RemoteKeySet) Key(ctx context.Context, alg, kid string) (any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	stale := r.set == nil || now.Sub(r.fetched) >= r.opts.MaxAge
	if stale && r.mayFetch(now) {
		r.fetchLocked(ctx, now)
	}
	if r.set != nil {
		if k, ok := r.set.lookup(alg, kid); ok {
			return k, nil
		}
		if r.mayFetch(now) { // an unknown kid: the provider may have rotated its keys
			r.fetchLocked(ctx, now)
			if k, ok := r.set.lookup(alg, kid); ok {
				return k, nil
			}
		}
		return nil, fmt.Errorf("%w: no %s key with kid %q at %s", ErrNoKey, alg, kid, r.url)
	}
	return nil, fmt.Errorf("%w: the key set at %s could not be fetched: %v", ErrNoKey, r.url, r.err)
}

func (r *RemoteKeySet) mayFetch(now time.Time) bool {
	return r.tried.IsZero() || now.Sub(r.tried) >= r.opts.MinRefresh
}

// fetchLocked fetches the set; on failure the previous set stays.
func (r *RemoteKeySet) fetchLocked(ctx context.Context, now time.Time) {
	r.tried = now
	r.fetches++
	set, err := r.fetch(ctx)
	r.err = err
	if err == nil {
		r.set, r.fetched = set, now
	}
}

func (r *RemoteKeySet) fetch(ctx context.Context) (*KeySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := r.opts.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", res.Status)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, r.opts.MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > r.opts.MaxBytes {
		return nil, errors.New("document over the size bound")
	}
	return ParseJWKS(body)
}

// Fetches returns how many fetches the set has started, for monitoring.
func (r *RemoteKeySet) Fetches() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fetches
}
