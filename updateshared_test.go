package wssync_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wssynctest"
)

// upDoc has wire names that differ from what encoding/json would use: the sync tag wins
// over the json tag, and an untagged field is lowerCamelCase.
type upDoc struct {
	Title string   `sync:"t" json:"title"`
	Items []string `sync:"items"`
	Count int
}

// sharedNode is a node holding key attached to store, served by a Manager.
func sharedNode(t *testing.T, store wssync.Backend, key string) (*wssync.Synced[upDoc], string) {
	t.Helper()
	s, err := wssync.NewShared(key, &upDoc{Title: "start"}, wssync.WithBackend(store))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Unregister)
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return s.Join(sess) })
	return s, serveManager(t, m)
}

func storedDoc(t *testing.T, b wssync.Backend, key string) (map[string]any, uint64) {
	t.Helper()
	snap, err := b.Load(context.Background(), key, 0)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(snap.State, &m); err != nil {
		t.Fatalf("stored state %s: %v", snap.State, err)
	}
	return m, snap.Version
}

func TestUpdateSharedReachesEveryNodeAsACommit(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	a, urlA := sharedNode(t, store, "DOC")
	b, urlB := sharedNode(t, store, "DOC")
	ca, cb := dialAs(t, urlA, "alice", "s-1"), dialAs(t, urlB, "bob", "s-2")
	waitType(t, ca, "_SET:DOC")
	waitType(t, cb, "_SET:DOC")
	_, before := a.Published()

	v, err := wssync.UpdateShared(wstest.Context(t), store, "DOC", func(d *upDoc) error {
		if d.Title != "start" {
			t.Errorf("fn saw title %q: the stored state was not decoded by wire names", d.Title)
		}
		d.Items = append(d.Items, "from the worker")
		d.Count++
		return nil
	})
	if err != nil || v != before+1 {
		t.Fatalf("UpdateShared: version %d, %v; want %d", v, err, before+1)
	}
	for name, c := range map[string]*wssynctest.Client{"a": ca, "b": cb} {
		got, err := c.WaitVersion(wstest.Context(t), "DOC", v)
		if err != nil || !jsonEqual(got, []byte(`{"t":"start","items":["from the worker"],"count":1}`)) {
			t.Errorf("client of %s: %s, %v", name, got, err)
		}
	}
	for name, s := range map[string]*wssync.Synced[upDoc]{"a": a, "b": b} {
		wstest.Eventually(t, "node "+name+" applied the patch", func() bool { _, pv := s.Published(); return pv == v })
		if st := s.BackendStatus(); st.Applied != 1 || st.Reloads > 1 {
			t.Errorf("node %s: %+v, want the change applied as a patch", name, st)
		}
		var got upDoc
		_ = s.Update(func(d *upDoc) { got = *d })
		if got.Count != 1 || len(got.Items) != 1 {
			t.Errorf("node %s holds %+v", name, got)
		}
	}

	// A function that changes nothing commits nothing.
	v2, err := wssync.UpdateShared(wstest.Context(t), store, "DOC", func(d *upDoc) error { return nil })
	if err != nil || v2 != v {
		t.Errorf("no-op UpdateShared: %d, %v; want %d", v2, err, v)
	}
}

// lossyCommits wraps a Backend: the next lose commits land but their reply is an error;
// the next drop commits do not reach the backend and fail.
type lossyCommits struct {
	wssync.Backend
	lose, drop atomic.Int32
	outcomes   atomic.Int32
	before     func() // called before each Commit, if set
}

func (l *lossyCommits) Commit(ctx context.Context, key string, p wssync.Proposal) error {
	if l.before != nil {
		l.before()
	}
	if l.drop.Add(-1) >= 0 {
		return errors.New("connection reset before the command was sent")
	}
	err := l.Backend.Commit(ctx, key, p)
	if err == nil && l.lose.Add(-1) >= 0 {
		return errors.New("i/o timeout reading the reply")
	}
	return err
}

func (l *lossyCommits) Outcome(ctx context.Context, key, id string, base uint64) (uint64, error) {
	l.outcomes.Add(1)
	return l.Backend.Outcome(ctx, key, id, base)
}

func TestUpdateSharedLostReplyIsNotAppliedTwice(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	sharedNode(t, store, "DOC")
	lossy := &lossyCommits{Backend: store}
	lossy.lose.Store(1)
	calls := 0
	v, err := wssync.UpdateShared(wstest.Context(t), lossy, "DOC", func(d *upDoc) error {
		calls++
		d.Count++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	doc, stored := storedDoc(t, store, "DOC")
	if doc["count"] != 1.0 || v != stored || calls != 1 || lossy.outcomes.Load() != 1 {
		t.Errorf("stored %v at %d, returned %d, fn ran %d times, %d outcomes asked: want count 1 once, asked once",
			doc, stored, v, calls, lossy.outcomes.Load())
	}
}

func TestUpdateSharedRetriesACommitThatDidNotLand(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	sharedNode(t, store, "DOC")
	lossy := &lossyCommits{Backend: store}
	lossy.drop.Store(1)
	calls := 0
	if _, err := wssync.UpdateShared(wstest.Context(t), lossy, "DOC", func(d *upDoc) error {
		calls++
		d.Count++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if doc, _ := storedDoc(t, store, "DOC"); doc["count"] != 1.0 || calls != 2 || lossy.outcomes.Load() != 1 {
		t.Errorf("stored %v, fn ran %d times, %d outcomes: want count 1, fn twice (the first commit fenced)", doc, calls, lossy.outcomes.Load())
	}
}

func TestUpdateSharedRetriesAfterAConflict(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	sharedNode(t, store, "DOC")
	lossy := &lossyCommits{Backend: store}
	var raced atomic.Bool
	lossy.before = func() {
		if raced.CompareAndSwap(false, true) { // another process commits first
			if _, err := wssync.UpdateShared(context.Background(), store, "DOC", func(d *upDoc) error { d.Count += 10; return nil }); err != nil {
				t.Error(err)
			}
		}
	}
	calls := 0
	if _, err := wssync.UpdateShared(wstest.Context(t), lossy, "DOC", func(d *upDoc) error {
		calls++
		d.Count++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if doc, _ := storedDoc(t, store, "DOC"); doc["count"] != 11.0 || calls != 2 {
		t.Errorf("stored %v, fn ran %d times: want both changes, fn twice", doc, calls)
	}
}

func TestUpdateSharedRefusals(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	ctx := wstest.Context(t)
	if _, err := wssync.UpdateShared(ctx, store, "NOWHERE", func(*upDoc) error { return nil }); !errors.Is(err, wssync.ErrNotStored) {
		t.Errorf("a key never stored: %v, want ErrNotStored", err)
	}
	sharedNode(t, store, "DOC")
	_, v := storedDoc(t, store, "DOC")
	mine := errors.New("not today")
	if _, err := wssync.UpdateShared(ctx, store, "DOC", func(d *upDoc) error { d.Count = 99; return mine }); err != mine {
		t.Errorf("fn's error: %v, want it as it is", err)
	}
	if doc, now := storedDoc(t, store, "DOC"); now != v || doc["count"] != 0.0 {
		t.Errorf("after fn's error: %v at %d, want nothing committed", doc, now)
	}
	if _, err := wssync.UpdateShared(ctx, store, "DOC", func(d *int) error { return nil }); !errors.Is(err, wssync.ErrNotStructPointer) {
		t.Errorf("a type that is not a struct: %v", err)
	}
}

// Members the stored state has and T does not (a computed value, a field of a newer
// version of the type) are kept; a field T has and the state lacks is added.
func TestUpdateSharedKeepsMembersItDoesNotKnow(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	ctx := wstest.Context(t)
	state := []byte(`{"t":"x","newer":{"a":[1,2]},"count":3,"total":7}`)
	if err := store.Commit(ctx, "DOC", wssync.Proposal{State: state, Patch: []byte(`[]`), ID: "seed"}); err != nil {
		t.Fatal(err)
	}
	sub := make(chan wssync.Change, 4)
	stop := store.Subscribe("DOC", func(c wssync.Change) { sub <- c })
	defer stop()
	if _, err := wssync.UpdateShared(ctx, store, "DOC", func(d *upDoc) error {
		d.Count++
		d.Items = []string{"a"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	snap, _ := store.Load(ctx, "DOC", 0)
	if want := `{"t":"x","newer":{"a":[1,2]},"count":4,"total":7,"items":["a"]}`; string(snap.State) != want {
		t.Errorf("stored %s, want %s", snap.State, want)
	}
	c := wstest.Receive(t, sub, "the change")
	if want := `[{"op":"add","path":"/items","value":["a"]},{"op":"replace","path":"/count","value":4}]`; !jsonEqual(c.Patch, []byte(want)) {
		t.Errorf("patch %s, want %s", c.Patch, want)
	}
}
