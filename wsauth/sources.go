package wsauth

import (
	"net/http"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync/internal/proto"
)

// Subprotocol is the WebSocket subprotocol a wssync server selects, and BearerPrefix the
// prefix of the subprotocol that carries a token. A browser client offers both:
//
//	new WebSocket(url, [wsauth.Subprotocol, wsauth.BearerPrefix + token])
//
// and the server answers with Subprotocol alone.
const (
	Subprotocol  = proto.Subprotocol
	BearerPrefix = proto.BearerPrefix
)

// Source reads a token from an upgrade request; "" when the request carries none there.
type Source func(r *http.Request) string

// FromHeader reads the `Authorization: Bearer TOKEN` header (the scheme is matched
// case-insensitively). Non-browser clients can set it; browsers cannot on a WebSocket.
func FromHeader() Source {
	return func(r *http.Request) string {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return ""
		}
		return strings.TrimSpace(token)
	}
}

// FromSubprotocol reads the token a browser offers as the subprotocol BearerPrefix+TOKEN
// in `Sec-WebSocket-Protocol`. The client must offer Subprotocol too: the server echoes
// that one, and a browser fails an upgrade whose answer selects none of its offers.
func FromSubprotocol() Source {
	return func(r *http.Request) string {
		for _, p := range websocket.Subprotocols(r) {
			if token, ok := strings.CutPrefix(p, BearerPrefix); ok {
				return token
			}
		}
		return ""
	}
}

// FromQuery reads the token from the query parameter name (e.g. "token"). URLs are written
// to access logs, proxies' logs and browser history, so a token there outlives the
// connection in places you do not control: prefer FromSubprotocol.
func FromQuery(name string) Source {
	return func(r *http.Request) string { return r.URL.Query().Get(name) }
}

// FromCookie reads the token from the cookie name. The browser sends cookies on a
// cross-site WebSocket too: keep the Manager's origin check on (the default) when you use
// it, and set the cookie HttpOnly, Secure and SameSite.
func FromCookie(name string) Source {
	return func(r *http.Request) string {
		c, err := r.Cookie(name)
		if err != nil {
			return ""
		}
		return c.Value
	}
}

// defaultSources are the sources of a Config that names none: the two that keep the
// token out of URLs and cookies.
func defaultSources() []Source { return []Source{FromHeader(), FromSubprotocol()} }
