package wspresence_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wspresence"
)

// describeDiff writes a Diff as "+user/session meta", "-user/session", "~user/session meta".
func describeDiff(d wspresence.Diff) string {
	var parts []string
	for _, m := range d.Left {
		parts = append(parts, "-"+m.User+"/"+m.Session)
	}
	for _, m := range d.Updated {
		parts = append(parts, "~"+m.User+"/"+m.Session+" "+string(m.Meta))
	}
	for _, m := range d.Joined {
		parts = append(parts, "+"+m.User+"/"+m.Session+" "+string(m.Meta))
	}
	return strings.Join(parts, ",")
}

func nextDiff(t *testing.T, diffs <-chan string, want string) {
	t.Helper()
	select {
	case got := <-diffs:
		if got != want {
			t.Fatalf("diff %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no diff; want %q", want)
	}
}

// OnChange fires on every node, the member's own included, with joins, meta updates and
// leaves, in the order they happened; the callback holds no lock of the Presence, so it
// may read Members and set Meta from inside.
func TestOnChangeOnEveryNode(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	ctx := testCtx(t)
	var mu sync.Mutex
	inside := map[string]int{} // members each node's callback read from inside it
	onNode := func(diffs chan string) wspresence.Option {
		return wspresence.OnChange(func(d wspresence.Diff) { diffs <- describeDiff(d) })
	}
	aDiffs, bDiffs := make(chan string, 16), make(chan string, 16)
	var b *wspresence.Presence
	a, err := wspresence.New(store, "room", "ROOM", onNode(aDiffs))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err = wspresence.New(store, "room", "ROOM", onNode(bDiffs), wspresence.OnChange(func(d wspresence.Diff) {
		mu.Lock()
		inside["b"] = len(b.Members()) // would deadlock were a lock held
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	url, sessions := joinedRoom(t, a)
	c := dialAs(t, ctx, url, "ada", "s-ada")
	sess := <-sessions
	nextDiff(t, aDiffs, "+ada/s-ada ")
	nextDiff(t, bDiffs, "+ada/s-ada ")
	if err := a.SetMeta(sess, map[string]bool{"typing": true}); err != nil {
		t.Fatal(err)
	}
	nextDiff(t, aDiffs, `~ada/s-ada {"typing":true}`)
	nextDiff(t, bDiffs, `~ada/s-ada {"typing":true}`)
	_ = c.Close()
	nextDiff(t, aDiffs, "-ada/s-ada")
	nextDiff(t, bDiffs, "-ada/s-ada")
	mu.Lock()
	defer mu.Unlock()
	if inside["b"] != 0 {
		t.Errorf("b's callback read %d members after the leave, want 0", inside["b"])
	}
}

// The first call lists the room as New found it; a panicking callback does not stop the
// next one or the Presence.
func TestOnChangeFirstCallAndPanics(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	ctx := context.Background()
	if err := store.SetPresence(ctx, "room", map[string][]byte{
		"s1": []byte(`{"user":"bob","session":"s1","meta":{"status":"away"}}`),
		"s2": []byte(`{"user":"ada","session":"s2"}`),
		"s3": []byte(`not a member`), // skipped
	}, time.Minute); err != nil {
		t.Fatal(err)
	}
	diffs := make(chan string, 4)
	p, err := wspresence.New(store, "room", "ROOM",
		wspresence.OnChange(func(wspresence.Diff) { panic("boom") }),
		wspresence.OnChange(func(d wspresence.Diff) { diffs <- describeDiff(d) }))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	nextDiff(t, diffs, `+ada/s2 ,+bob/s1 {"status":"away"}`)
	if err := store.RemovePresence(ctx, "room", "s1"); err != nil {
		t.Fatal(err)
	}
	nextDiff(t, diffs, "-bob/s1")
	if got := fmt.Sprint(len(p.Members())); got != "1" {
		t.Errorf("%s members, want 1", got)
	}
}
