package wssync_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsmemory"
	"github.com/wssync/wssync/wssynctest"
)

// ackData is the data of an accepted write's _RESULT.
type ackData struct {
	V         uint64 `json:"v"`
	Unchanged bool   `json:"unchanged"`
	Pending   bool   `json:"pending"`
}

// result waits for the _RESULT of id and decodes it: its data, or its error.
func result(t *testing.T, c *wssynctest.Client, id string) (ackData, *wssync.Error) {
	t.Helper()
	f, err := c.WaitResult(ctxT(t), id)
	if err != nil {
		t.Fatalf("no _RESULT for %q: %v (frames %s)", id, err, frameTypes(c.Frames()))
	}
	if f.Error != nil {
		var e wssync.Error
		if err := json.Unmarshal(f.Error, &e); err != nil {
			t.Fatal(err)
		}
		return ackData{}, &e
	}
	var a ackData
	if err := json.Unmarshal(f.Data, &a); err != nil {
		t.Fatalf("_RESULT data %s: %v", f.Data, err)
	}
	return a, nil
}

// countResults counts the _RESULT frames of id the client received.
func countResults(c *wssynctest.Client, id string) int {
	n := 0
	for _, f := range c.Frames() {
		if f.Type == "_RESULT" && f.ID == id {
			n++
		}
	}
	return n
}

// noErrorFrames fails when the client got an _ERROR: a write with an id is answered
// only by its _RESULT.
func noErrorFrames(t *testing.T, c *wssynctest.Client) {
	t.Helper()
	for _, f := range c.Frames() {
		if f.Type == "_ERROR" {
			t.Errorf("got _ERROR %s", f.Data)
		}
	}
}

// TestWriteResultAccepted: a _PATCH and a _SET with an id each get one _RESULT with the
// version they produced, after their echo carrying that version.
func TestWriteResultAccepted(t *testing.T) {
	t.Parallel()
	s, _, c := newForm(t)
	if err := c.PatchWith("FORM", wssynctest.WriteOpts{ID: "p1"}, wssynctest.Replace("/title", "new")); err != nil {
		t.Fatal(err)
	}
	if a, e := result(t, c, "p1"); e != nil || a != (ackData{V: 1}) {
		t.Fatalf("result %+v, %v; want v 1", a, e)
	}
	if err := c.SetWith("FORM", wssynctest.WriteOpts{ID: "s1"}, map[string]any{"count": 9}); err != nil {
		t.Fatal(err)
	}
	if a, e := result(t, c, "s1"); e != nil || a != (ackData{V: 2}) {
		t.Fatalf("result %+v, %v; want v 2", a, e)
	}
	// Each echo (the _PATCH with the write's version) comes before its _RESULT.
	var seen []string
	for _, f := range c.Frames() {
		switch {
		case f.Type == "_PATCH:FORM":
			seen = append(seen, fmt.Sprint("patch v", *f.V))
		case f.Type == "_RESULT":
			seen = append(seen, "result "+f.ID)
		}
	}
	if want := []string{"patch v1", "result p1", "patch v2", "result s1"}; !slices.Equal(seen, want) {
		t.Errorf("frames %q, want %q", seen, want)
	}
	if _, v := s.Published(); v != 2 {
		t.Errorf("version %d, want 2", v)
	}
	noErrorFrames(t, c)
}

// TestWriteResultUnchanged: a write of values the state already holds says so, with the
// current version, and publishes nothing.
func TestWriteResultUnchanged(t *testing.T) {
	t.Parallel()
	s, _, c := newForm(t)
	if err := s.Update(func(f *Form) { f.Count = 3 }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitVersion(ctxT(t), "FORM", 1); err != nil {
		t.Fatal(err)
	}
	if err := c.PatchWith("FORM", wssynctest.WriteOpts{ID: "same"}, wssynctest.Replace("/title", "t")); err != nil {
		t.Fatal(err)
	}
	if a, e := result(t, c, "same"); e != nil || a != (ackData{V: 1, Unchanged: true}) {
		t.Fatalf("result %+v, %v; want v 1, unchanged", a, e)
	}
	if _, v := s.Published(); v != 1 {
		t.Errorf("version %d, want 1", v)
	}
}

// TestWriteResultRefused: a refused write with an id gets its error in the _RESULT (no
// _ERROR), then the authoritative _SET; the Go value is left byte for byte as it was.
func TestWriteResultRefused(t *testing.T) {
	t.Parallel()
	s, f, c := newForm(t)
	before := snapshot(t, s, f)
	if err := c.PatchWith("FORM", wssynctest.WriteOpts{ID: "ro"}, wssynctest.Replace("/title", "x"), wssynctest.Replace("/owner", "eve")); err != nil {
		t.Fatal(err)
	}
	_, e := result(t, c, "ro")
	if e == nil || e.Code != wssync.CodeReadOnly || e.Path != "/owner" {
		t.Fatalf("error %+v; want read_only at /owner", e)
	}
	waitType(t, c, "_SET:FORM")
	if after := snapshot(t, s, f); after != before {
		t.Errorf("the refused write changed the value:\n%s\n%s", before, after)
	}
	noErrorFrames(t, c)
	if n := countResults(c, "ro"); n != 1 {
		t.Errorf("%d _RESULTs, want 1", n)
	}
}

// TestWriteBase covers the base of a write on an object of each StalePolicy: current,
// from the future, stale on a field that changed, stale on a field that did not.
func TestWriteBase(t *testing.T) {
	t.Parallel()
	type want struct {
		code wssync.Code // "" for accepted
		path string
	}
	cases := []struct {
		name   string
		policy wssync.StalePolicy
		base   uint64
		ops    []wssynctest.Op
		want   want
	}{
		{"current", wssync.StaleRefuse, 1, []wssynctest.Op{wssynctest.Replace("/title", "x")}, want{}},
		{"future", wssync.StaleRebase, 2, []wssynctest.Op{wssynctest.Replace("/title", "x")}, want{wssync.CodeBadBase, ""}},
		{"rebased", wssync.StaleRebase, 0, []wssynctest.Op{wssynctest.Replace("/title", "x")}, want{}},
		{"rebase conflict", wssync.StaleRebase, 0, []wssynctest.Op{wssynctest.Replace("/title", "x"), wssynctest.Replace("/count", 5)}, want{wssync.CodeStaleWrite, "/count"}},
		{"read a changed field", wssync.StaleRebase, 0, []wssynctest.Op{{Op: "test", Path: "/count", Value: 1}, wssynctest.Replace("/title", "x")}, want{wssync.CodeStaleWrite, "/count"}},
		{"refused", wssync.StaleRefuse, 0, []wssynctest.Op{wssynctest.Replace("/title", "x")}, want{wssync.CodeStaleWrite, ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sess := wssync.NewSession()
			f := &Form{Title: "t", Count: 1, Items: []Item{}, Tags: map[string]string{}}
			s, err := wssync.Register(sess, "FORM", f, wssync.WithStaleWrites(tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			c := dial(t, serve(t, sess))
			waitType(t, c, "_SET:FORM")
			if err := s.Update(func(f *Form) { f.Count = 2 }); err != nil { // version 1 changes count
				t.Fatal(err)
			}
			if _, err := c.WaitVersion(ctxT(t), "FORM", 1); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, s, f)
			if err := c.PatchWith("FORM", wssynctest.WriteOpts{ID: "w", Base: wssynctest.Base(tc.base)}, tc.ops...); err != nil {
				t.Fatal(err)
			}
			a, e := result(t, c, "w")
			if tc.want.code == "" {
				if e != nil || a != (ackData{V: 2}) {
					t.Fatalf("result %+v, %+v; want accepted at v 2", a, e)
				}
				s.RLock()
				title := f.Title
				s.RUnlock()
				if title != "x" {
					t.Errorf("title %q", title)
				}
				return
			}
			if e == nil || e.Code != tc.want.code || e.Path != tc.want.path {
				t.Fatalf("result %+v, %+v; want %s at %q", a, e, tc.want.code, tc.want.path)
			}
			if set := waitType(t, c, "_SET:FORM"); *set.V != 1 {
				t.Errorf("_SET at v %d, want 1", *set.V)
			}
			if after := snapshot(t, s, f); after != before {
				t.Errorf("the refused write changed the value:\n%s\n%s", before, after)
			}
		})
	}
}

// TestWriteBaseSet: a stale whole-state write under rebase applies when the fields it
// sets to new values did not change after its base, and is refused when it would set a
// field back to the value the writer saw.
func TestWriteBaseSet(t *testing.T) {
	t.Parallel()
	s, f, c := newForm(t)
	if err := s.Update(func(f *Form) { f.Count = 2 }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitVersion(ctxT(t), "FORM", 1); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, s, f)
	// The writer's state at version 0, with its own title: count would go back to 1.
	old := map[string]any{"title": "mine", "count": 1, "owner": "ann"}
	if err := c.SetWith("FORM", wssynctest.WriteOpts{ID: "old", Base: wssynctest.Base(0)}, old); err != nil {
		t.Fatal(err)
	}
	if _, e := result(t, c, "old"); e == nil || e.Code != wssync.CodeStaleWrite || e.Path != "/count" {
		t.Fatalf("error %+v; want stale_write at /count", e)
	}
	if after := snapshot(t, s, f); after != before {
		t.Errorf("the refused write changed the value:\n%s\n%s", before, after)
	}
	if err := c.SetWith("FORM", wssynctest.WriteOpts{ID: "new", Base: wssynctest.Base(0)}, map[string]any{"title": "mine", "count": 2}); err != nil {
		t.Fatal(err)
	}
	if a, e := result(t, c, "new"); e != nil || a.V != 2 {
		t.Fatalf("result %+v, %+v; want accepted at v 2", a, e)
	}
}

// TestWriteBaseMalformed: a base that is not a version in digits is refused as a bad
// envelope, and nothing of the write is applied.
func TestWriteBaseMalformed(t *testing.T) {
	t.Parallel()
	s, f, c := newForm(t)
	before := snapshot(t, s, f)
	for i, base := range []string{`-1`, `1.5`, `1e3`, `1E3`, `"3"`, `true`, `{}`, `9007199254740992`, `99999999999999999999`} {
		id := fmt.Sprint("b", i)
		frame := fmt.Sprintf(`{"type":"_PATCH:FORM","data":[{"op":"replace","path":"/title","value":"x"}],"id":%q,"base":%s}`, id, base)
		if err := c.SendRaw([]byte(frame)); err != nil {
			t.Fatal(err)
		}
		if _, e := result(t, c, id); e == nil || e.Code != wssync.CodeBadEnvelope {
			t.Errorf("base %s: error %+v, want bad_envelope", base, e)
		}
	}
	if after := snapshot(t, s, f); after != before {
		t.Errorf("a refused write changed the value:\n%s\n%s", before, after)
	}
	// The largest version a base may name, and null (no base), are accepted as such.
	if err := c.SendRaw([]byte(`{"type":"_PATCH:FORM","data":[{"op":"replace","path":"/title","value":"x"}],"id":"max","base":9007199254740991}`)); err != nil {
		t.Fatal(err)
	}
	if _, e := result(t, c, "max"); e == nil || e.Code != wssync.CodeBadBase {
		t.Errorf("base 2^53-1: %+v, want bad_base", e)
	}
	if err := c.SendRaw([]byte(`{"type":"_PATCH:FORM","data":[{"op":"replace","path":"/title","value":"x"}],"id":"null","base":null}`)); err != nil {
		t.Fatal(err)
	}
	if a, e := result(t, c, "null"); e != nil || a.V != 1 {
		t.Errorf("base null: %+v, %+v; want accepted", a, e)
	}
}

// TestWriteResultsConcurrent: writers on several sessions of one shared object, each
// sending writes with ids as fast as it can, some conditional on one contested field. Every
// id gets exactly one _RESULT; every accepted write produced its own version and is in the
// final state exactly once; no refused write is.
func TestWriteResultsConcurrent(t *testing.T) {
	t.Parallel()
	const writers, writes = 4, 25
	s, err := wssync.NewShared("BOARD", &Wall{Items: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Unregister)
	clients := make([]*wssynctest.Client, writers)
	for i := range clients {
		sess := wssync.NewSession()
		if err := s.Join(sess); err != nil {
			t.Fatal(err)
		}
		clients[i] = dial(t, serve(t, sess))
		waitType(t, clients[i], "_SET:BOARD")
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range writes {
				id := fmt.Sprintf("c%d-%d", i, j)
				var err error
				if j%2 == 0 {
					err = c.PatchWith("BOARD", wssynctest.WriteOpts{ID: id}, wssynctest.Op{Op: "add", Path: "/items/-", Value: id})
				} else {
					// contested: made against what the client holds, stale when another wrote it first
					_, v, _ := c.State("BOARD")
					err = c.PatchWith("BOARD", wssynctest.WriteOpts{ID: id, Base: wssynctest.Base(v)}, wssynctest.Replace("/title", id))
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	versions := map[uint64]string{}
	var titles []string
	for i, c := range clients {
		for j := range writes {
			id := fmt.Sprintf("c%d-%d", i, j)
			a, e := result(t, c, id)
			if n := countResults(c, id); n != 1 {
				t.Errorf("%s: %d _RESULTs", id, n)
			}
			if e != nil {
				if j%2 == 0 || e.Code != wssync.CodeStaleWrite || e.Path != "/title" {
					t.Errorf("%s refused: %+v", id, e)
				}
				continue
			}
			if prev, dup := versions[a.V]; dup || a.Unchanged {
				t.Errorf("%s: result %+v, version also produced by %s", id, a, prev)
			}
			versions[a.V] = id
			if j%2 == 1 {
				titles = append(titles, id)
			}
		}
		noErrorFrames(t, c)
	}
	var final Wall
	state, _ := s.Published()
	if err := json.Unmarshal(state, &final); err != nil {
		t.Fatal(err)
	}
	for i := range writers {
		for j := 0; j < writes; j += 2 {
			id := fmt.Sprintf("c%d-%d", i, j)
			if n := countOf(final.Items, id); n != 1 {
				t.Errorf("acknowledged append %s is in the state %d times", id, n)
			}
		}
	}
	if len(final.Items) != writers*(writes+1)/2 {
		t.Errorf("%d items, want %d", len(final.Items), writers*(writes+1)/2)
	}
	// The title is the accepted title write of the highest version.
	var last string
	var top uint64
	for v, id := range versions {
		if slices.Contains(titles, id) && v > top {
			last, top = id, v
		}
	}
	if final.Title != last {
		t.Errorf("title %q, want the last accepted title write %q", final.Title, last)
	}
}

func countOf(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

// TestWriteResultAfterConflict: a conditional client write that loses the race to another
// node is made again on the newer state: one _RESULT, with the version of the commit that
// landed, when the other node changed another field; a stale_write refusal, once, when it
// changed the field the write touches.
func TestWriteResultAfterConflict(t *testing.T) {
	t.Parallel()
	m := wsmemory.New()
	key := "WALL/" + t.Name()
	rb := &racedBackend{Backend: m}
	a := startWallNode(t, key, rb)
	_, v0 := a.s.Published()

	rb.remote.Store(&wssync.Proposal{ // another node appends first
		State: []byte(`{"items":["other"],"title":""}`),
		Patch: []byte(`[{"op":"add","path":"/items/-","value":"other"}]`),
		ID:    "remote 1",
	})
	if err := a.c.PatchWith(key, wssynctest.WriteOpts{ID: "t", Base: wssynctest.Base(v0)}, wssynctest.Replace("/title", "mine")); err != nil {
		t.Fatal(err)
	}
	r, e := result(t, a.c, "t")
	if e != nil || r.V != v0+2 || r.Pending || r.Unchanged {
		t.Fatalf("result %+v, %+v; want accepted at v %d, after the other node's v %d", r, e, v0+2, v0+1)
	}
	snap, err := m.Load(ctxT(t), key, 0)
	if err != nil || snap.Version != r.V || !jsonEqual(snap.State, []byte(`{"items":["other"],"title":"mine"}`)) {
		t.Fatalf("store at v %d: %s (%v); want the write's version %d and both changes", snap.Version, snap.State, err, r.V)
	}

	rb.remote.Store(&wssync.Proposal{ // another node sets the title first
		State: []byte(`{"items":["other"],"title":"theirs"}`),
		Patch: []byte(`[{"op":"replace","path":"/title","value":"theirs"}]`),
		ID:    "remote 2",
	})
	before := a.published(t)
	if err := a.c.PatchWith(key, wssynctest.WriteOpts{ID: "t2", Base: wssynctest.Base(r.V)}, wssynctest.Replace("/title", "again")); err != nil {
		t.Fatal(err)
	}
	if _, e := result(t, a.c, "t2"); e == nil || e.Code != wssync.CodeStaleWrite || e.Path != "/title" {
		t.Fatalf("error %+v; want stale_write at /title", e)
	}
	waitUntil(t, func() bool { return wallsConverged(t, m, key, a) })
	if got := a.published(t); got.Title != "theirs" || !slices.Equal(got.Items, before.Items) {
		t.Errorf("state %+v; want the other node's title, nothing of the refused write", got)
	}
	for _, id := range []string{"t", "t2"} {
		if n := countResults(a.c, id); n != 1 {
			t.Errorf("%s: %d _RESULTs, want 1", id, n)
		}
	}
	noErrorFrames(t, a.c)
}

// TestWriteResultPending: a write applied while the backend is unreachable is answered
// as pending, with this node's local version; when the backend returns it is committed.
func TestWriteResultPending(t *testing.T) {
	t.Parallel()
	m := wsmemory.New()
	key := "WALL/" + t.Name()
	a := startWallNode(t, key, m)
	_, v0 := a.s.Published()
	m.SetUnavailable(true)
	if err := a.c.PatchWith(key, wssynctest.WriteOpts{ID: "off"}, wssynctest.Op{Op: "add", Path: "/items/-", Value: "offline"}); err != nil {
		t.Fatal(err)
	}
	if r, e := result(t, a.c, "off"); e != nil || r != (ackData{V: v0 + 1, Pending: true}) {
		t.Fatalf("result %+v, %+v; want pending at local v %d", r, e, v0+1)
	}
	m.SetUnavailable(false)
	waitUntil(t, func() bool { return wallsConverged(t, m, key, a) })
	if got := a.published(t).Items; !slices.Equal(got, []string{"offline"}) {
		t.Errorf("items %q; want the pending write committed once", got)
	}
	if n := countResults(a.c, "off"); n != 1 {
		t.Errorf("%d _RESULTs, want 1", n)
	}
}

// TestLostWriteNamesItsID: a pending write that cannot be kept when the backend returns
// is reported with write_lost and the id of the write, after its one _RESULT.
func TestLostWriteNamesItsID(t *testing.T) {
	t.Parallel()
	m := wsmemory.New()
	key := "WALL/" + t.Name()
	hb := &heldBackend{Backend: m}
	a := startWallNode(t, key, m)
	b := startWallNode(t, key, hb)
	waitUntil(t, func() bool { return wallsConverged(t, m, key, a, b) })
	hb.held.Store(true)
	if err := b.c.PatchWith(key, wssynctest.WriteOpts{ID: "mine"}, wssynctest.Replace("/title", "B")); err != nil {
		t.Fatal(err)
	}
	if r, e := result(t, b.c, "mine"); e != nil || !r.Pending {
		t.Fatalf("result %+v, %+v; want pending", r, e)
	}
	if err := a.c.Patch(key, wssynctest.Replace("/title", "A")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return wallsConverged(t, m, key, a) && a.published(t).Title == "A" })
	hb.held.Store(false)
	f := waitType(t, b.c, "_ERROR")
	if e := errorOf(t, f); e.Code != wssync.CodeWriteLost || f.ID != "mine" {
		t.Errorf("_ERROR %s id %q; want write_lost for mine", f.Data, f.ID)
	}
	waitUntil(t, func() bool { return wallsConverged(t, m, key, a, b) })
	if n := countResults(b.c, "mine"); n != 1 {
		t.Errorf("%d _RESULTs, want 1", n)
	}
}

// TestWriteBaseOlderThanRecord: a node that loaded a shared object from its backend
// answers only for bases from that load on: an older base is refused with stale_write and
// no path, even on a field that did not change, as the node cannot know.
func TestWriteBaseOlderThanRecord(t *testing.T) {
	t.Parallel()
	m := wsmemory.New()
	key := "WALL/" + t.Name()
	a := startWallNode(t, key, m)
	if err := a.s.Update(func(w *Wall) { w.Items = append(w.Items, "x") }); err != nil {
		t.Fatal(err)
	}
	b := startWallNode(t, key, m) // loads the key at the version a published
	_, v := b.s.Published()
	if err := b.c.PatchWith(key, wssynctest.WriteOpts{ID: "old", Base: wssynctest.Base(v - 1)}, wssynctest.Replace("/title", "t")); err != nil {
		t.Fatal(err)
	}
	if _, e := result(t, b.c, "old"); e == nil || e.Code != wssync.CodeStaleWrite || e.Path != "" {
		t.Fatalf("error %+v; want stale_write without a path", e)
	}
	if err := b.c.PatchWith(key, wssynctest.WriteOpts{ID: "cur", Base: wssynctest.Base(v)}, wssynctest.Replace("/title", "t")); err != nil {
		t.Fatal(err)
	}
	if r, e := result(t, b.c, "cur"); e != nil || r.V != v+1 {
		t.Fatalf("result %+v, %+v; want accepted at v %d", r, e, v+1)
	}
}

// TestWriteBaseOlderThanRestore: a session restored on another node from its session
// store keeps its versions, and answers for bases from the restore on only.
func TestWriteBaseOlderThanRestore(t *testing.T) {
	t.Parallel()
	store := wsmemory.New()
	url0, _ := storeNode(t, store)
	url1, _ := storeNode(t, store)
	c0 := dialAs(t, url0, "alice", "tab-base")
	waitType(t, c0, "_SET:NOTES")
	_, v, _ := c0.State("NOTES")
	for i := range 2 {
		if err := c0.Patch("NOTES", wssynctest.Replace("/title", fmt.Sprint("edit ", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c0.WaitVersion(ctxT(t), "NOTES", v+2); err != nil {
		t.Fatal(err)
	}
	c1 := dialAs(t, url1, "alice", "tab-base")
	if _, err := c1.WaitVersion(ctxT(t), "NOTES", v+2); err != nil {
		t.Fatalf("node1 did not restore version %d: %v", v+2, err)
	}
	if err := c1.PatchWith("NOTES", wssynctest.WriteOpts{ID: "old", Base: wssynctest.Base(v + 1)}, wssynctest.Replace("/title", "late")); err != nil {
		t.Fatal(err)
	}
	if _, e := result(t, c1, "old"); e == nil || e.Code != wssync.CodeStaleWrite || e.Path != "" {
		t.Fatalf("error %+v; want stale_write without a path", e)
	}
	if err := c1.PatchWith("NOTES", wssynctest.WriteOpts{ID: "cur", Base: wssynctest.Base(v + 2)}, wssynctest.Replace("/title", "now")); err != nil {
		t.Fatal(err)
	}
	if r, e := result(t, c1, "cur"); e != nil || r.V != v+3 {
		t.Fatalf("result %+v, %+v; want accepted at v %d", r, e, v+3)
	}
}

// TestWriteBaseInAView: a guest's conditional write is checked on whole top-level fields,
// hidden parts included: a change to a member's hidden e-mail after its base makes its
// write to a member's name stale (its _RESULT names /members, and carries no hidden byte),
// while a write to the title, unchanged since, applies with the object's version.
func TestWriteBaseInAView(t *testing.T) {
	t.Parallel()
	_, shared := newTeam(t)
	url := serveManager(t, teamManager(t, shared))
	guest := wstest.Dial(t, url+"?u=gus&s=g1&role=guest")
	waitType(t, guest, "_SET:TEAM")
	_, base, _ := guest.State("TEAM")
	if err := shared.Update(func(x *Team) { x.Members[0].Email = secret + "new" }); err != nil {
		t.Fatal(err)
	}
	if _, err := guest.WaitVersion(ctxT(t), "TEAM", base+1); err != nil {
		t.Fatal(err)
	}
	if err := guest.PatchWith("TEAM", wssynctest.WriteOpts{ID: "name", Base: wssynctest.Base(base)}, wssynctest.Replace("/members/0/name", "bob")); err != nil {
		t.Fatal(err)
	}
	if _, e := result(t, guest, "name"); e == nil || e.Code != wssync.CodeStaleWrite || e.Path != "/members" {
		t.Fatalf("error %+v; want stale_write at /members", e)
	}
	if err := guest.PatchWith("TEAM", wssynctest.WriteOpts{ID: "title", Base: wssynctest.Base(base)}, wssynctest.Replace("/title", "mine")); err != nil {
		t.Fatal(err)
	}
	if r, e := result(t, guest, "title"); e != nil || r.V != base+2 || r.V != shared.Version() {
		t.Fatalf("result %+v, %+v; want accepted at v %d", r, e, base+2)
	}
	if b := framesBytes(guest.Frames()); bytes.Contains(b, []byte(secret)) {
		t.Errorf("the guest received a hidden byte: %s", b)
	}
}
