package wssync_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
)

// Roles and claims the auth hook returns reach an action's ctx, and a reconnect with other
// claims replaces them while the user and session ids stay.
func TestIdentityClaimsReachHandlersAndFollowReconnects(t *testing.T) {
	type probe struct{ N int }
	got := make(chan wssync.Identity, 4)
	role := "guest"
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		s, err := wssync.Register(sess, "P", &probe{})
		if err != nil {
			return err
		}
		return wssync.Action(s, "who", func(ctx context.Context, _ struct{}) error {
			id, ok := wssync.IdentityFrom(ctx)
			if !ok {
				t.Error("no identity in the action's ctx")
			}
			got <- id
			return nil
		})
	}, wssync.WithAuth(func(r *http.Request) (wssync.Identity, error) {
		return wssync.Identity{User: "ann", Session: "s1", Roles: []string{r.URL.Query().Get("role")},
			Claims: map[string]any{"org": "acme"}, Expires: time.Now().Add(time.Hour)}, nil
	}))
	defer m.Shutdown(context.Background())
	url := wstest.Serve(t, http.HandlerFunc(m.ServeWS))
	for _, role = range []string{"guest", "admin"} {
		c := wstest.Dial(t, url+"?role="+role)
		wstest.WaitType(t, c, "_SET:P")
		if err := c.Send("_ACTION:P", map[string]any{"type": "who"}); err != nil {
			t.Fatal(err)
		}
		id := wstest.Receive(t, got, "the action's identity")
		if id.User != "ann" || id.Session != "s1" || !id.HasRole(role) || len(id.Roles) != 1 || id.Claims["org"] != "acme" || id.Expires.IsZero() {
			t.Fatalf("identity %+v, want ann/s1 as %s with the org claim", id, role)
		}
		c.Close()
	}
	type org struct {
		Org string `json:"org"`
	}
	sess, _ := m.Session("s1")
	if o, err := wssync.DecodeClaims[org](sess.Identity()); err != nil || o.Org != "acme" {
		t.Fatalf("DecodeClaims: %+v, %v", o, err)
	}
	if _, ok := wssync.IdentityFrom(context.Background()); ok {
		t.Fatal("IdentityFrom found an identity in a bare context")
	}
}
