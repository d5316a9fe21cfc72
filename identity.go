package wssync

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// Identity names a client — the user and the session (a browser tab) it speaks for — and
// carries what the auth hook (see WithAuth, and package wsauth for tokens) established
// about it: roles, the application's claims, and when that expires. Actions, tasks, event
// handlers, write rules and views read it from their ctx with IdentityFrom.
//
// User and Session are fixed for the life of a session; Roles, Claims and Expires are
// those of the session's latest connection (or `_AUTH` refresh). Claims must marshal with
// encoding/json: a session store keeps them so another node can check them.
type Identity struct {
	User    string         `json:"user"`
	Session string         `json:"session"`
	Roles   []string       `json:"roles,omitempty"`
	Claims  map[string]any `json:"claims,omitempty"`
	Expires time.Time      `json:"expires,omitzero"` // zero: never expires
}

// expired reports whether the identity's expiry has passed at now.
func (id Identity) expired(now time.Time) bool {
	return !id.Expires.IsZero() && !now.Before(id.Expires)
}

// HasRole reports whether role is one of the identity's roles.
func (id Identity) HasRole(role string) bool { return slices.Contains(id.Roles, role) }

// DecodeClaims decodes the identity's claims into a value of the application's type T
// (through their JSON form), for handlers that prefer a struct to a map.
func DecodeClaims[T any](id Identity) (T, error) {
	var v T
	b, err := json.Marshal(id.Claims)
	if err == nil {
		err = json.Unmarshal(b, &v)
	}
	return v, err
}

// IdentityFrom returns the identity of the session whose handler, task, hook, write rule,
// view function or factory received ctx: for a shared object, the session that called.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	s, ok := SessionFrom(ctx)
	if !ok {
		return Identity{}, false
	}
	return s.Identity(), true
}
