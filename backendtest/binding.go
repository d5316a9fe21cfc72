package backendtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
)

// testSessionBinding: the first BindSession binds a session id to its user before any
// record exists; every other user, on every node, learns the owner and changes nothing,
// by BindSession or SaveSession; the owner's saves keep the binding.
func testSessionBinding(t *testing.T, c Cluster) {
	ctx := testContext(t)
	id := keyFor(t, "session")
	a, b := c.Nodes[0], nodeAt(c, 1)

	owner, gen, err := a.BindSession(ctx, id, "alice", time.Minute)
	if err != nil || owner != "alice" || gen != 0 {
		t.Fatalf("first BindSession: %q, %d, %v; want alice, 0, nil", owner, gen, err)
	}
	rec, ok, err := b.LoadSession(ctx, id)
	if err != nil || !ok || rec.User != "alice" || rec.Generation != 0 || len(rec.Objects) != 0 {
		t.Fatalf("LoadSession of a bound session: %+v, ok %v, err %v; want alice's empty record", rec, ok, err)
	}
	for i, n := range c.Nodes {
		owner, gen, err := n.BindSession(ctx, id, "bob", time.Minute)
		if err != nil || owner != "alice" || gen != 0 {
			t.Errorf("node %d: BindSession by bob: %q, %d, %v; want alice, 0, nil", i, owner, gen, err)
		}
		_, err = n.SaveSession(ctx, id, "bob", "view", wssync.StoredObject{Version: 1, State: []byte(`"bob's"`)}, time.Minute)
		if !errors.Is(err, wssync.ErrForeignSession) {
			t.Errorf("node %d: SaveSession by bob: %v; want ErrForeignSession", i, err)
		}
	}
	if rec, ok, err := a.LoadSession(ctx, id); err != nil || !ok || rec.User != "alice" || rec.Generation != 0 || len(rec.Objects) != 0 {
		t.Fatalf("after bob's attempts: %+v, ok %v, err %v; want alice's empty record, unchanged", rec, ok, err)
	}

	g, err := b.SaveSession(ctx, id, "alice", "view", wssync.StoredObject{Version: 1, State: []byte(`"alice's"`)}, time.Minute)
	if err != nil || g == 0 {
		t.Fatalf("SaveSession by alice: %d, %v", g, err)
	}
	if owner, gen, err := a.BindSession(ctx, id, "alice", time.Minute); err != nil || owner != "alice" || gen != g {
		t.Errorf("BindSession by alice after her save: %q, %d, %v; want alice, %d", owner, gen, err, g)
	}
	if owner, gen, err := a.BindSession(ctx, id, "bob", time.Minute); err != nil || owner != "alice" || gen != 0 {
		t.Errorf("BindSession by bob after alice's save: %q, %d, %v; want alice, 0", owner, gen, err)
	}
	if _, err := a.SaveSession(ctx, id, "bob", "view", wssync.StoredObject{Version: 2, State: []byte(`"bob's"`)}, time.Minute); !errors.Is(err, wssync.ErrForeignSession) {
		t.Errorf("SaveSession by bob over alice's record: %v; want ErrForeignSession", err)
	}
	rec, ok, err = b.LoadSession(ctx, id)
	if err != nil || !ok || rec.User != "alice" || rec.Generation != g || string(rec.Objects["view"].State) != `"alice's"` {
		t.Fatalf("alice's record after bob's save: %+v, ok %v, err %v", rec, ok, err)
	}

	// A session first saved (no BindSession before) is bound by the save.
	other := keyFor(t, "saved first")
	if _, err := a.SaveSession(ctx, other, "carol", "view", wssync.StoredObject{Version: 1, State: []byte(`1`)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if owner, _, err := b.BindSession(ctx, other, "dave", time.Minute); err != nil || owner != "carol" {
		t.Errorf("BindSession by dave of a session carol saved: %q, %v; want carol", owner, err)
	}
}

// testSessionBindingRace: users racing to bind one session id on every node: exactly one
// wins, and every call reports that one.
func testSessionBindingRace(t *testing.T, c Cluster) {
	ctx := testContext(t)
	for round := range 5 {
		id := keyFor(t, fmt.Sprint("session", round))
		const users = 12
		owners := make([]string, users)
		errs := make([]error, users)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range users {
			wg.Go(func() {
				<-start
				user := fmt.Sprint("user", i)
				if i%2 == 0 {
					owners[i], _, errs[i] = nodeAt(c, i).BindSession(ctx, id, user, time.Minute)
					return
				}
				_, errs[i] = nodeAt(c, i).SaveSession(ctx, id, user, "k", wssync.StoredObject{Version: 1, State: []byte(`{}`)}, time.Minute)
				if errs[i] == nil {
					owners[i] = user
				} else if errors.Is(errs[i], wssync.ErrForeignSession) {
					owners[i], errs[i] = "", nil
				}
			})
		}
		close(start)
		wg.Wait()
		rec, ok, err := c.Nodes[0].LoadSession(ctx, id)
		if err != nil || !ok {
			t.Fatalf("round %d: LoadSession: ok %v, err %v", round, ok, err)
		}
		for i := range users {
			if errs[i] != nil {
				t.Fatalf("round %d: user%d: %v", round, i, errs[i])
			}
			if owners[i] != "" && owners[i] != rec.User {
				t.Errorf("round %d: user%d was told the owner is %q; the record says %q", round, i, owners[i], rec.User)
			}
		}
	}
}

// testSessionBindingExpiry: a binding lives as long as its record: extended by its owner,
// never by another user, and gone when it expires, after which the id is free.
func testSessionBindingExpiry(t *testing.T, c Cluster) {
	ctx := testContext(t)
	id := keyFor(t, "session")
	a, b := c.Nodes[0], nodeAt(c, 1)
	const short = 200 * time.Millisecond

	// Another user's BindSession with a long TTL does not keep alice's short binding.
	if owner, _, err := a.BindSession(ctx, id, "alice", short); err != nil || owner != "alice" {
		t.Fatalf("BindSession: %q, %v", owner, err)
	}
	if owner, _, err := b.BindSession(ctx, id, "bob", time.Minute); err != nil || owner != "alice" && owner != "bob" {
		t.Fatalf("BindSession by bob: %q, %v", owner, err)
	} else if owner == "bob" {
		t.Skip("alice's binding expired before bob's call: too slow a machine for this TTL")
	}
	wstest.EventuallyNil(t, waitTimeout, "alice's binding to expire", func() error { return sessionGone(ctx, a, id) })
	if owner, _, err := b.BindSession(ctx, id, "bob", time.Minute); err != nil || owner != "bob" {
		t.Fatalf("BindSession by bob after alice's binding expired: %q, %v; want bob", owner, err)
	}

	// The owner's BindSession extends the binding.
	other := keyFor(t, "other")
	if _, _, err := a.BindSession(ctx, other, "alice", short); err != nil {
		t.Fatal(err)
	}
	if owner, _, err := b.BindSession(ctx, other, "alice", time.Minute); err != nil || owner != "alice" {
		t.Fatalf("BindSession by alice again: %q, %v", owner, err)
	}
	time.Sleep(2 * short)
	if owner, _, err := a.BindSession(ctx, other, "bob", time.Minute); err != nil || owner != "alice" {
		t.Errorf("after the short TTL, extended by alice: owner %q, %v; want alice", owner, err)
	}
}
