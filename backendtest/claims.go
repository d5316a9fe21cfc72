package backendtest

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

// rolesAuth identifies the user from "Authorization: Bearer <user>" and takes the roles
// (comma-separated) and an "org" claim from the request, as an auth hook takes them from a
// verified token; the session id comes from the handshake.
func rolesAuth(r *http.Request) (wssync.Identity, error) {
	id, err := bearerAuth(r)
	if err != nil {
		return id, err
	}
	if roles := r.Header.Get("X-Roles"); roles != "" {
		id.Roles = strings.Split(roles, ",")
	}
	if org := r.Header.Get("X-Org"); org != "" {
		id.Claims = map[string]any{"org": org}
	}
	return id, nil
}

// testClaimsAcrossNodes: a session's roles and claims are those its latest connection's
// auth hook verified, on whichever node serves it. A session that moves to another node
// takes its state along (the store's record) but never the roles of a connection before:
// an admin's session picked up by a connection without roles has none, and one with other
// roles has exactly those. The store keeps no claims a node could inherit.
func testClaimsAcrossNodes(t *testing.T, nodes Nodes) {
	if len(nodes.Sessions) < 3 {
		t.Skip("no session stores")
	}
	ctx := ctxFor(t)
	urls, ms := identityNodes(t, nodes, wssync.WithAuth(rolesAuth))
	session := fmt.Sprintf("tab-claims-%d", time.Now().UnixNano())
	as := func(roles, org string) []wssynctest.DialOption {
		return []wssynctest.DialOption{
			wssynctest.WithHeader(http.Header{"Authorization": {"Bearer alice"}, "X-Roles": {roles}, "X-Org": {org}}),
			wssynctest.WithIdentity("alice", session),
		}
	}
	identityOn := func(node int) wssync.Identity {
		t.Helper()
		var id wssync.Identity
		waitUntil(t, "the node to hold the session", func() error {
			s, ok := ms[node].Session(session)
			if !ok {
				return errors.New("node does not hold the session")
			}
			id = s.Identity()
			return nil
		})
		return id
	}
	check := func(node int, wantRoles []string, wantOrg string) {
		t.Helper()
		id := identityOn(node)
		org, _ := id.Claims["org"].(string)
		if id.User != "alice" || id.Session != session || !slices.Equal(id.Roles, wantRoles) || org != wantOrg {
			t.Fatalf("node%d: identity %+v, want alice/%s with roles %v and org %q", node, id, session, wantRoles, wantOrg)
		}
	}

	admin := dial(t, urls[0], as("admin", "acme")...)
	if _, err := wssynctest.WaitState(ctx, admin, "VIEW", func(v View) bool { return v.Filter == "default" }); err != nil {
		t.Fatal(err)
	}
	check(0, []string{"admin"}, "acme")
	undisturbed(t, admin, "written as admin")

	// The same session on node1, by a connection whose hook found no roles or claims: the
	// state follows, the admin role does not.
	plain := dial(t, urls[1], as("", "")...)
	if _, err := wssynctest.WaitState(ctx, plain, "VIEW", func(v View) bool { return v.Filter == "written as admin" }); err != nil {
		t.Fatalf("node1 did not restore the session: %v", err)
	}
	check(1, nil, "")
	waitUntil(t, "node0 to let the session go", func() error {
		if _, ok := ms[0].Session(session); ok {
			return errors.New("node0 still holds the session")
		}
		return nil
	})

	// On node2 with other roles: exactly those.
	editor := dial(t, urls[2], as("editor", "other")...)
	if _, err := wssynctest.WaitState(ctx, editor, "VIEW", func(v View) bool { return v.Filter == "written as admin" }); err != nil {
		t.Fatal(err)
	}
	check(2, []string{"editor"}, "other")

	// Back on node0, which let its copy go: built again, with this connection's claims.
	back := dial(t, urls[0], as("", "")...)
	if _, err := wssynctest.WaitState(ctx, back, "VIEW", func(v View) bool { return v.Filter == "written as admin" }); err != nil {
		t.Fatal(err)
	}
	check(0, nil, "")
	if rec, ok, err := nodes.Sessions[1].LoadSession(ctx, session); err != nil || !ok || rec.User != "alice" {
		t.Fatalf("stored record: %+v, %v, %v; want alice's", rec, ok, err)
	}
}
