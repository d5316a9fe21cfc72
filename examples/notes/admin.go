package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsauth"
)

// Admins open the page with #admin=KEY (the key is the server's NOTES_ADMIN_KEY, or a
// random one it prints at start). The key never travels in a URL the server or a proxy
// sees: a fragment is not sent, and the page moves it to sessionStorage and drops it from
// the address (and so from history). It then POSTs the key to /api/admin-token for a
// short-lived token and connects to /ws-admin, a second Manager that
// identifies connections by that token (package wsauth) instead of the guests'
// handshake. Both Managers' sessions join the same shared list; an admin's identity
// carries the role adminRole, which picks the admin view (the activity log) and lets it
// rename or remove any note. The token expires after adminTokenTTL: the page's getToken
// fetches a fresh one, sent over the socket, before it does.
const (
	adminRole     = "admin"
	adminUser     = "admin" // every admin tab is one user, so a reload resumes its session
	adminTokenTTL = 2 * time.Minute
	tokenIssuer   = "wssync-notes"
)

// admin issues and verifies the admins' tokens.
type admin struct {
	key    string // what #admin= must carry (POSTed to /api/admin-token)
	secret []byte // the HS256 key, derived from key so every server of a -redis group agrees
	verify *wsauth.Verifier
}

// newAdmin returns the admin side for key; an empty key gets a random one.
func newAdmin(key string) (*admin, error) {
	if key == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		key = hex.EncodeToString(b)
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte("notes admin token key"))
	ad := &admin{key: key, secret: mac.Sum(nil)}
	var err error
	ad.verify, err = wsauth.New(wsauth.Config{
		Keys:       wsauth.HMACKey(ad.secret),
		Algorithms: []string{wsauth.HS256},
		Issuer:     tokenIssuer,
		Audience:   tokenIssuer,
	})
	return ad, err
}

// options are the admin Manager's: identity from the token on the upgrade and over the
// socket (`_AUTH`), no handshake for the user (the session id still comes from it).
func (ad *admin) options() []wssync.ManagerOption {
	return []wssync.ManagerOption{wssync.WithAuth(ad.verify.Auth), wssync.WithTokenRefresh(ad.verify.Refresh)}
}

// maxKeyBytes bounds the body of a token request.
const maxKeyBytes = 256

// serveToken answers POST /api/admin-token, whose body is the key, with a fresh token, or
// 403. The key is taken from the body only: a query string lands in access logs.
func (ad *admin) serveToken(w http.ResponseWriter, r *http.Request) {
	key, err := io.ReadAll(io.LimitReader(r.Body, maxKeyBytes+1))
	if err != nil || len(key) > maxKeyBytes || !hmac.Equal(key, []byte(ad.key)) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	tok, err := ad.token(time.Now())
	if err != nil {
		http.Error(w, "cannot sign", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(tok))
}

// token signs an admin token valid from now for adminTokenTTL.
func (ad *admin) token(now time.Time) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub":   adminUser,
		"roles": []string{adminRole},
		"iss":   tokenIssuer,
		"aud":   tokenIssuer,
		"iat":   now.Unix(),
		"exp":   now.Add(adminTokenTTL).Unix(),
	}).SignedString(ad.secret)
}

// viewOf picks the shared list's view for a session: admins see the activity log.
func viewOf(id wssync.Identity) string {
	if id.HasRole(adminRole) {
		return "admin"
	}
	return "guest"
}

// listViews are the shared list's views (wssync.WithViews): the guests' hides the log.
var listViews = []wssync.View{{Name: "admin"}, {Name: "guest", Hide: []string{"/activity"}}}
