package backendtest

import (
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/wssync/wssync"
)

func testSession(t *testing.T, c Cluster) {
	ctx := testContext(t)
	id := keyFor(t, "session")
	a, b := c.Nodes[0], nodeAt(c, 1)

	if _, ok, err := b.LoadSession(ctx, id); err != nil || ok {
		t.Fatalf("LoadSession of an unknown session: ok %v, err %v; want false, nil", ok, err)
	}
	if gen, err := b.TouchSession(ctx, id, time.Minute); err != nil || gen != 0 {
		t.Fatalf("TouchSession of an unknown session: %d, %v; want 0, nil", gen, err)
	}
	if _, ok, err := b.LoadSession(ctx, id); err != nil || ok {
		t.Fatalf("LoadSession after touching an unknown session: ok %v, err %v; want false, nil", ok, err)
	}

	saves := []struct {
		node Node
		key  string
		obj  wssync.StoredObject
	}{
		{a, "profile", wssync.StoredObject{Version: 3, State: []byte(`{"a":1}`)}},
		{b, "cart/ä {}", wssync.StoredObject{Version: 7, State: []byte(`[1,2]`)}},
		{a, "profile", wssync.StoredObject{Version: 4, State: []byte(`{"a":2}`)}},
		{b, "_user", wssync.StoredObject{Version: 1, State: []byte(`"not the user"`)}}, // an object key like a field name
	}
	var gen uint64
	for i, s := range saves {
		g, err := s.node.SaveSession(ctx, id, "alice", s.key, s.obj, time.Minute)
		if err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
		if g <= gen {
			t.Errorf("save %d: generation %d after %d, want it to grow", i, g, gen)
		}
		gen = g
	}

	want := map[string]wssync.StoredObject{
		"profile":   saves[2].obj,
		"cart/ä {}": saves[1].obj,
		"_user":     saves[3].obj,
	}
	for i, n := range c.Nodes {
		rec, ok, err := n.LoadSession(ctx, id)
		if err != nil || !ok {
			t.Fatalf("node %d: LoadSession: ok %v, err %v", i, ok, err)
		}
		if rec.User != "alice" || rec.Generation != gen {
			t.Errorf("node %d: user %q generation %d, want alice and %d", i, rec.User, rec.Generation, gen)
		}
		if len(rec.Objects) != len(want) {
			t.Errorf("node %d: %d objects, want %d: %v", i, len(rec.Objects), len(want), rec.Objects)
		}
		for k, w := range want {
			got, ok := rec.Objects[k]
			if !ok || got.Version != w.Version || !jsonpatch.Equal(got.State, w.State) {
				t.Errorf("node %d: object %q = %d %s (present %v), want %d %s", i, k, got.Version, got.State, ok, w.Version, w.State)
			}
		}
	}

	if g, err := b.TouchSession(ctx, id, time.Minute); err != nil || g != gen {
		t.Errorf("TouchSession: %d, %v; want %d", g, err, gen)
	}
}

func testSessionExpiry(t *testing.T, c Cluster) {
	ctx := testContext(t)
	id := keyFor(t, "session")
	a, b := c.Nodes[0], nodeAt(c, 1)
	const short = 200 * time.Millisecond
	obj := wssync.StoredObject{Version: 1, State: []byte(`{}`)}

	// TouchSession extends the record: save with a short TTL and touch it with a long one
	// at once. A machine too slow to touch within the short TTL tries again.
	for try := 0; ; try++ {
		if _, err := a.SaveSession(ctx, id, "bob", "o", obj, short); err != nil {
			t.Fatal(err)
		}
		gen, err := b.TouchSession(ctx, id, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if gen > 0 {
			break
		}
		if try == 5 {
			t.Fatalf("the record expired before TouchSession, %d times", try+1)
		}
	}
	time.Sleep(2 * short)
	if _, ok, err := a.LoadSession(ctx, id); err != nil || !ok {
		t.Fatalf("LoadSession after the short TTL, touched with a long one: ok %v, err %v", ok, err)
	}

	// With a short TTL again, the record goes.
	if _, err := b.TouchSession(ctx, id, short); err != nil {
		t.Fatal(err)
	}
	poll(t, func() string {
		if _, ok, err := a.LoadSession(ctx, id); err != nil || ok {
			return "the session record is still there after its TTL (or: " + errString(err) + ")"
		}
		return ""
	})
	if gen, err := b.TouchSession(ctx, id, time.Minute); err != nil || gen != 0 {
		t.Errorf("TouchSession of an expired session: %d, %v; want 0", gen, err)
	}

	// SaveSession's TTL applies to the whole record.
	other := keyFor(t, "other")
	if _, err := a.SaveSession(ctx, other, "bob", "o", obj, short); err != nil {
		t.Fatal(err)
	}
	poll(t, func() string {
		if _, ok, err := b.LoadSession(ctx, other); err != nil || ok {
			return "the session record saved with a short TTL is still there (or: " + errString(err) + ")"
		}
		return ""
	})
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
