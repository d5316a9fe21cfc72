package wsauth_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsauth"
)

// A Manager that identifies clients by an HS256 token, offered by the client as a
// subprotocol as a browser does, and takes fresh tokens over the socket.
func Example() {
	secret := []byte("a secret of at least thirty-two bytes")
	v, err := wsauth.New(wsauth.Config{
		Keys:         wsauth.HMACKey(secret),
		Issuer:       "https://login.example.com",
		Audience:     "notes",
		SessionClaim: "sid",
	})
	if err != nil {
		panic(err)
	}
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		id := sess.Identity()
		fmt.Println("session for", id.User, "roles", id.Roles)
		_, err := wssync.Register(sess, "PROFILE", &struct{ Name string }{id.User})
		return err
	}, wssync.WithAuth(v.Auth), wssync.WithTokenRefresh(v.Refresh))
	srv := httptest.NewServer(httpHandler(m))
	defer srv.Close()
	defer m.Shutdown(context.Background())

	// What the identity provider issues.
	token, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "ann", "sid": "tab-1", "roles": []string{"editor"},
		"iss": "https://login.example.com", "aud": "notes",
		"exp": time.Now().Add(15 * time.Minute).Unix(),
	}).SignedString(secret)

	// The browser's `new WebSocket(url, ["wssync", "wssync.bearer." + token])`.
	d := websocket.Dialer{Subprotocols: []string{wsauth.Subprotocol, wsauth.BearerPrefix + token}}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	_, _, _ = ws.ReadMessage() // the _SET of PROFILE
	fmt.Println("selected subprotocol:", ws.Subprotocol())
	// Output:
	// session for ann roles [editor]
	// selected subprotocol: wssync
}
