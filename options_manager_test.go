package wssync

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestWithManagerLimits(t *testing.T) {
	def := defaultConfig()
	c := newManagerConfig([]ManagerOption{WithManagerLimits(ManagerLimits{})})
	if c.sessionTTL != def.sessionTTL || c.maxSessions != def.maxSessions || c.maxConnsPerUser != def.maxConnsPerUser ||
		c.handshakeTimeout != def.handshakeTimeout || c.maxPendingHandshakes != DefaultMaxPendingHandshakes {
		t.Errorf("ManagerLimits{} changed a setting: %+v", c)
	}
	c = newManagerConfig([]ManagerOption{
		WithManagerLimits(ManagerLimits{SessionTTL: time.Second, MaxSessions: 2, MaxConnsPerUser: 3,
			HandshakeTimeout: 4 * time.Second, MaxPendingHandshakes: 5}),
		WithLimits(Limits{ReadLimit: 6}), // a SessionOption is a ManagerOption
		WithAnonymousSessions(),
	})
	if c.sessionTTL != time.Second || c.maxSessions != 2 || c.maxConnsPerUser != 3 ||
		c.handshakeTimeout != 4*time.Second || c.maxPendingHandshakes != 5 || c.readLimit != 6 || !c.anonymous {
		t.Errorf("settings not applied: %+v", c)
	}
}

// TestOptionKinds: a Manager setting cannot be given to NewSession (it would be ignored),
// while every connection setting can be given to both. A compile-time rule, checked here
// through the options' types so that a change of a return type shows.
func TestOptionKinds(t *testing.T) {
	session := reflect.TypeFor[SessionOption]()
	manager := reflect.TypeFor[ManagerOption]()
	if !session.Implements(manager) {
		t.Fatal("a SessionOption is not a ManagerOption: a Manager cannot take connection settings")
	}
	managerOnly := map[string]any{
		"WithAuth":              WithAuth(func(*http.Request) (Identity, error) { return Identity{}, nil }),
		"WithManagerLimits":     WithManagerLimits(ManagerLimits{}),
		"WithAnonymousSessions": WithAnonymousSessions(),
		"WithSessionStore":      WithSessionStore(nil),
		"WithTokenRefresh":      WithTokenRefresh(nil),
	}
	for name, o := range managerOnly {
		if reflect.TypeOf(o).AssignableTo(session) {
			t.Errorf("%s is a SessionOption: NewSession would accept and ignore it", name)
		}
	}
	for name, f := range map[string]any{
		"WithAuth": WithAuth, "WithManagerLimits": WithManagerLimits,
		"WithAnonymousSessions": WithAnonymousSessions, "WithSessionStore": WithSessionStore,
		"WithTokenRefresh": WithTokenRefresh,
	} {
		if out := reflect.TypeOf(f).Out(0); out != manager {
			t.Errorf("%s returns %v, want ManagerOption", name, out)
		}
	}
	for name, f := range map[string]any{
		"WithLimits": WithLimits, "WithCheckOrigin": WithCheckOrigin,
		"WithAllowedOrigins": WithAllowedOrigins, "WithLogger": WithLogger,
	} {
		if out := reflect.TypeOf(f).Out(0); out != session {
			t.Errorf("%s returns %v, want SessionOption", name, out)
		}
	}
	if in := reflect.TypeOf(NewSession).In(0).Elem(); in != session {
		t.Errorf("NewSession takes %v, want SessionOption", in)
	}
	if in := reflect.TypeOf(NewManager).In(1).Elem(); in != manager {
		t.Errorf("NewManager takes %v, want ManagerOption", in)
	}
}
