// Package wsauth verifies JSON Web Tokens for a wssync Manager: on the WebSocket upgrade
// (Verifier.Auth, for wssync.WithAuth) and when a connected client sends a fresh token
// (Verifier.Refresh, for wssync.WithTokenRefresh).
//
// A Verifier checks a token's signature (HS256, RS256 or ES256; a key set from a JWKS
// document or URL), its algorithm against an allow-list and against the kind of key that
// verifies it (an HMAC token is never checked with an RSA public key, and "none" is never
// accepted), its expiry (required), issuer and audience, with a leeway for clock skew. It
// maps the claims to a wssync.Identity: "sub" to User, an optional claim to Session, a
// roles claim to Roles, "exp" to Expires, the rest to Claims; Config.Map adjusts or
// refuses the result.
//
// # Where the token comes from
//
// Auth reads the token from the first of Config.Sources that has one: by default the
// `Authorization: Bearer` header, then the `Sec-WebSocket-Protocol` header. A browser
// cannot set headers on a WebSocket, so it offers the token as a subprotocol:
//
//	new WebSocket(url, ["wssync", "wssync.bearer." + jwt])
//
// The Manager answers with the subprotocol "wssync" (never the token), which the browser
// requires when it offered any. A JWT is made of base64url characters and dots, all valid
// in a subprotocol name. FromQuery and FromCookie read other places; a token in a URL
// ends up in access logs and browser history, so prefer the header or the subprotocol.
//
// # Failures
//
// Auth returns ErrNoToken when no source has a token and an error wrapping ErrInvalidToken
// when the token does not verify: wssync.WithAuth answers both with 401. An error from
// Config.Map that wraps wssync.ErrForbidden (a valid token that may not connect) is
// answered with 403.
package wsauth
