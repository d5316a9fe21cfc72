package wssync_test

import (
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wsmemory"
)

// During a rolling deploy two versions of a type share a key: a field the older nodes do
// not have keeps its value on the newer ones, and the older ones ignore it.
func TestBackendRollingDeploy(t *testing.T) {
	type v1 struct {
		A int `sync:"a"`
	}
	type v2 struct {
		A int    `sync:"a"`
		B string `sync:"b"`
	}
	m := wsmemory.New()
	older, err := wssync.NewShared("DEPLOY", &v1{A: 1}, wssync.WithBackend(m))
	if err != nil {
		t.Fatal(err)
	}
	defer older.Unregister()
	nv := &v2{B: "new"}
	newer, err := wssync.NewShared("DEPLOY", nv, wssync.WithBackend(m))
	if err != nil {
		t.Fatal(err)
	}
	defer newer.Unregister()
	newer.RLock()
	got := *nv
	newer.RUnlock()
	if got != (v2{A: 1, B: "new"}) {
		t.Fatalf("the newer node holds %+v, want the stored a and its own b", got)
	}
	if err := older.Update(func(v *v1) { v.A = 2 }); err != nil {
		t.Fatal(err)
	}
	if err := newer.Update(func(v *v2) { v.A++; v.B = "newer" }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for older.Version() != newer.Version() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	state, _ := older.Published()
	if string(state) != `{"a":3}` {
		t.Fatalf("the older node publishes %s, want {\"a\":3}", state)
	}
	state, _ = newer.Published()
	if string(state) != `{"a":3,"b":"newer"}` {
		t.Fatalf("the newer node publishes %s", state)
	}
}
