package wsauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wssync/wssync/wsauth"
)

// jwksServer serves a key set document that the test can swap, on loopback, and counts
// the requests.
type jwksServer struct {
	mu     sync.Mutex
	doc    []byte
	status int
	hits   atomic.Int32
	url    string
}

func newJWKSServer(t *testing.T, doc []byte) *jwksServer {
	s := &jwksServer{doc: doc, status: http.StatusOK}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		doc, status := s.doc, s.status
		s.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write(doc)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *jwksServer) set(doc []byte, status int) {
	s.mu.Lock()
	s.doc, s.status = doc, status
	s.mu.Unlock()
}

// The set is fetched once, reused, and fetched again when a token names a kid it does
// not have (the provider rotated its keys).
func TestRemoteKeySetRotation(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t, jwks(rsaJWK("k1", &rsaKey.PublicKey)))
	keys := wsauth.NewRemoteKeySet(srv.url, wsauth.RemoteOptions{MinRefresh: time.Nanosecond})
	v := newVerifier(t, wsauth.Config{Keys: keys})
	ctx := context.Background()
	for range 3 {
		if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey, "k1", claims("ann"))); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches for three tokens of a known kid", n)
	}
	srv.set(jwks(rsaJWK("k1", &rsaKey.PublicKey), ecJWK("k2", ecKey)), http.StatusOK)
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodES256, ecKey, "k2", claims("ann"))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches after a rotation, want 2", n)
	}
}

// Tokens with made-up kids cost at most one fetch per MinRefresh, and a failed fetch
// keeps the last good set.
func TestRemoteKeySetBoundsFetches(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t, jwks(rsaJWK("k1", &rsaKey.PublicKey)))
	keys := wsauth.NewRemoteKeySet(srv.url, wsauth.RemoteOptions{MinRefresh: time.Hour})
	v := newVerifier(t, wsauth.Config{Keys: keys})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kid := "made-up-" + strings.Repeat("x", i)
			if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey, kid, claims("ann"))); !errors.Is(err, wsauth.ErrInvalidToken) {
				t.Errorf("kid %q: %v", kid, err)
			}
		}()
	}
	wg.Wait()
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches for 50 unknown kids within MinRefresh, want 1", n)
	}
	if keys.Fetches() != 1 {
		t.Fatalf("Fetches() = %d", keys.Fetches())
	}

	// A failing provider: the last good set stays in use.
	srv.set([]byte("oops"), http.StatusInternalServerError)
	keys = wsauth.NewRemoteKeySet(srv.url, wsauth.RemoteOptions{MinRefresh: time.Nanosecond, MaxAge: time.Nanosecond})
	v = newVerifier(t, wsauth.Config{Keys: keys})
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey, "k1", claims("ann"))); !errors.Is(err, wsauth.ErrInvalidToken) {
		t.Fatalf("verified without a key set: %v", err)
	}
	srv.set(jwks(rsaJWK("k1", &rsaKey.PublicKey)), http.StatusOK)
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey, "k1", claims("ann"))); err != nil {
		t.Fatalf("after the provider came back: %v", err)
	}
	srv.set([]byte("oops"), http.StatusInternalServerError)
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey, "k1", claims("ann"))); err != nil {
		t.Fatalf("a failed refetch dropped the good set: %v", err)
	}
}

// A document over MaxBytes is not read past the bound and not used.
func TestRemoteKeySetSizeBound(t *testing.T) {
	t.Parallel()
	doc := jwks(rsaJWK("k1", &rsaKey.PublicKey))
	srv := newJWKSServer(t, doc)
	keys := wsauth.NewRemoteKeySet(srv.url, wsauth.RemoteOptions{MaxBytes: int64(len(doc) - 1)})
	if _, err := keys.Key(context.Background(), wsauth.RS256, "k1"); !errors.Is(err, wsauth.ErrNoKey) {
		t.Fatalf("oversized document: %v", err)
	}
}
