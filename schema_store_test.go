package wssync_test

import (
	"context"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsmemory"
)

// TestManagerSchemaStoresNothing: with a session store, the dry run of Manager.Schema
// neither binds its session id nor saves the state the factory changes.
func TestManagerSchemaStoresNothing(t *testing.T) {
	store := wsmemory.New()
	type Counter struct {
		N int `sync:"n"`
	}
	mgr := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		c, err := wssync.Register(sess, "COUNTER", &Counter{})
		if err != nil {
			return err
		}
		return c.Update(func(c *Counter) { c.N++ })
	}, wssync.WithSessionStore(store))
	defer func() { _ = mgr.Shutdown(context.Background()) }()
	sc, err := mgr.Schema(ctxT(t), wssync.Identity{User: "u", Session: "dry"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Keys) != 1 || sc.Keys[0].Key != "COUNTER" {
		t.Fatalf("keys %+v", sc.Keys)
	}
	if _, ok, err := store.LoadSession(ctxT(t), "dry"); ok || err != nil {
		t.Errorf("the dry-run session is in the store (ok %v, err %v)", ok, err)
	}
	owner, _, err := store.BindSession(ctxT(t), "dry", "someone-else", 0)
	if err != nil || owner != "someone-else" {
		t.Errorf("the dry-run session id was bound: owner %q, err %v", owner, err)
	}
}
