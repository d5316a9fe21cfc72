package wssync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

// Lower is a string that a write stores lowercased: a normalisation the writer learns of
// only from its echo.
type Lower string

func (l *Lower) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*l = Lower(strings.ToLower(s))
	return nil
}

type Shelf struct {
	Tags  []string `sync:"tags,write"`
	Doc   ShelfDoc `sync:"doc,write"`
	Norm  []Lower  `sync:"norm,write"`
	Title string   `sync:"title,write"`
}

type ShelfDoc struct {
	Items []string `json:"items"`
}

// startShelf serves one shared Shelf with a computed count to a writer and an observer.
func startShelf(t *testing.T) (*wssync.Synced[Shelf], *Shelf, *wssynctest.Client, *wssynctest.Client) {
	t.Helper()
	shelf := &Shelf{Tags: []string{"a", "b"}, Doc: ShelfDoc{Items: []string{"x", "y"}}, Norm: []Lower{"p"}}
	s, err := wssync.NewShared("SHELF", shelf, wssync.WithComputed("count", func() any { return len(shelf.Tags) + len(shelf.Doc.Items) }))
	if err != nil {
		t.Fatal(err)
	}
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return s.Join(sess) }, wssync.WithLimits(wssync.Limits{RatePerSecond: -1}))
	url := serveManager(t, m)
	w := dialAs(t, url, "writer", "w")
	o := dialAs(t, url, "observer", "o")
	waitType(t, w, "_SET:SHELF")
	waitType(t, o, "_SET:SHELF")
	return s, shelf, w, o
}

// The writer of an array write gets only the residual of its write (here the computed
// count, or a normalisation), never its own ops again; other subscribers get the ordinary
// patch; and both end in the server's state, as a client that applies its own write at
// once (ws-sync-react, our hook, wssynctest) must.
func TestWriterEchoIsResidual(t *testing.T) {
	t.Parallel()
	s, _, w, o := startShelf(t)
	cases := []struct {
		name     string
		ops      []wssynctest.Op
		echo     string // the writer's echo ops
		observed string // the observer's patch ops
	}{
		{"push top-level", []wssynctest.Op{{Op: "add", Path: "/tags/2", Value: "c"}},
			`[{"op":"replace","path":"/count","value":5}]`,
			`[{"op":"add","path":"/tags/2","value":"c"},{"op":"replace","path":"/count","value":5}]`},
		{"append with -", []wssynctest.Op{{Op: "add", Path: "/tags/-", Value: "d"}},
			`[{"op":"replace","path":"/count","value":6}]`, ""},
		{"splice top-level", []wssynctest.Op{{Op: "remove", Path: "/tags/0"}, {Op: "remove", Path: "/tags/0"}},
			`[{"op":"replace","path":"/count","value":4}]`, ""},
		{"replace an array", []wssynctest.Op{wssynctest.Replace("/tags", []string{"z"})},
			`[{"op":"replace","path":"/count","value":3}]`, ""},
		{"push nested", []wssynctest.Op{{Op: "add", Path: "/doc/items/0", Value: "w"}},
			`[{"op":"replace","path":"/count","value":4}]`, ""},
		{"splice nested", []wssynctest.Op{{Op: "remove", Path: "/doc/items/1"}},
			`[{"op":"replace","path":"/count","value":3}]`, ""},
		{"scalar, no side effect", []wssynctest.Op{wssynctest.Replace("/title", "t")}, `[]`,
			`[{"op":"replace","path":"/title","value":"t"}]`},
		{"normalised push", []wssynctest.Op{{Op: "add", Path: "/norm/1", Value: "Q"}},
			`[{"op":"replace","path":"/norm","value":["p","q"]}]`, `[{"op":"add","path":"/norm/1","value":"q"}]`},
	}
	for _, tc := range cases {
		_, v, _ := w.State("SHELF")
		if err := w.Patch("SHELF", tc.ops...); err != nil {
			t.Fatal(err)
		}
		echo, err := w.WaitFrame(ctxT(t), func(f wssynctest.Frame) bool { return f.Type == "_PATCH:SHELF" })
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		seen, err := o.WaitFrame(ctxT(t), func(f wssynctest.Frame) bool { return f.Type == "_PATCH:SHELF" })
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if *echo.V != v+1 || *seen.V != v+1 {
			t.Errorf("%s: versions %d and %d after %d", tc.name, *echo.V, *seen.V, v)
		}
		if !jsonEqual(echo.Data, []byte(tc.echo)) {
			t.Errorf("%s: the writer got %s, want %s", tc.name, echo.Data, tc.echo)
		}
		if tc.observed != "" && !jsonEqual(seen.Data, []byte(tc.observed)) {
			t.Errorf("%s: the observer got %s, want %s", tc.name, seen.Data, tc.observed)
		}
		want, _ := s.Published()
		for who, c := range map[string]*wssynctest.Client{"writer": w, "observer": o} {
			if got, _, _ := c.State("SHELF"); !jsonEqual(got, want) {
				t.Errorf("%s: the %s holds %s, the server %s", tc.name, who, got, want)
			}
		}
	}
	for _, c := range []*wssynctest.Client{w, o} {
		if err := c.Errs(); err != nil {
			t.Fatal(err)
		}
	}
}

// A server change to an array published right before the writer's write to the same array
// is processed reaches the writer after its write, computed against the state before it.
// The writer applies both; its echo then carries the array whole, so it converges.
func TestWriterEchoAfterCrossingPatch(t *testing.T) {
	t.Parallel()
	s, _, w, o := startShelf(t)
	if err := wssync.Action(s, "serverPush", func(ctx context.Context, p struct{}) error {
		return s.Update(func(sh *Shelf) { sh.Tags = append([]string{"s"}, sh.Tags...) })
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		// the action's patch goes out while the write is already on its way
		if err := w.Send("_ACTION:SHELF", map[string]any{"type": "serverPush"}); err != nil {
			t.Fatal(err)
		}
		if err := w.Patch("SHELF", wssynctest.Op{Op: "add", Path: "/tags/1", Value: fmt.Sprint("c", i)}); err != nil {
			t.Fatal(err)
		}
		var want []byte
		var v uint64
		waitUntil(t, func() bool { // each round publishes two versions
			want, v = s.Published()
			return v >= uint64(2*(i+1))
		})
		for who, c := range map[string]*wssynctest.Client{"writer": w, "observer": o} {
			got, err := c.WaitVersion(ctxT(t), "SHELF", v)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(got, want) {
				t.Fatalf("round %d: the %s holds %s, the server %s", i, who, got, want)
			}
		}
	}
}

// A write whose value the server normalises back to the current one publishes nothing; the
// writer, which shows its own spelling, gets a _SET. A write right after a refused one may
// cross the refusal's _SET, which wipes it on the client: its echo carries the field whole.
func TestWriterEchoUnpublishedAndAfterRefusal(t *testing.T) {
	t.Parallel()
	s, _, w, o := startShelf(t)
	if err := w.Patch("SHELF", wssynctest.Replace("/norm", []string{"P"})); err != nil {
		t.Fatal(err)
	}
	set := waitType(t, w, "_SET:SHELF")
	if !strings.Contains(string(set.Data), `"norm":["p"]`) {
		t.Fatalf("the _SET holds %s", set.Data)
	}
	want, _ := s.Published()
	if got, _, _ := w.State("SHELF"); !jsonEqual(got, want) {
		t.Fatalf("the writer holds %s, the server %s", got, want)
	}

	for i := range 3 {
		if err := w.Patch("SHELF", wssynctest.Replace("/title", 5)); err != nil { // refused: not a string
			t.Fatal(err)
		}
		if err := w.Patch("SHELF", wssynctest.Op{Op: "add", Path: "/tags/-", Value: fmt.Sprint("r", i)}); err != nil {
			t.Fatal(err)
		}
		var v uint64
		waitUntil(t, func() bool {
			var st []byte
			st, v = s.Published()
			return strings.Contains(string(st), fmt.Sprintf(`"r%d"`, i))
		})
		want, _ := s.Published()
		for who, c := range map[string]*wssynctest.Client{"writer": w, "observer": o} {
			got, err := c.WaitVersion(ctxT(t), "SHELF", v)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(got, want) {
				t.Fatalf("round %d: the %s holds %s, the server %s", i, who, got, want)
			}
		}
	}
	// the second and later echoes crossed a _SET that was not the connection's first
	var whole int
	for _, f := range w.Frames() {
		if f.Type == "_PATCH:SHELF" && strings.Contains(string(f.Data), `"path":"/tags","value"`) {
			whole++
		}
	}
	if whole == 0 {
		t.Error("no echo carried /tags whole after a refusal's _SET")
	}
}

// An echo that carries a field whole is a patch like any other to the writer: one that
// reaches it after its next write, to another member of that field, takes that write back
// on the client. The next write's echo must then carry the field whole too. Here a server
// change to /seen/a makes the echo of the write to /seen/a carry "seen" whole; the writer,
// not reading, writes /seen/b before that echo arrives.
func TestWriterEchoAfterItsOwnWholeEcho(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	room := &Room{Seen: map[string]string{}}
	s, err := wssync.Register(sess, "ROOM", room)
	if err != nil {
		t.Fatal(err)
	}
	w := dial(t, serve(t, sess))
	waitType(t, w, "_SET:ROOM")
	_ = s.Update(func(r *Room) { r.Seen["a"] = "server" })
	waitType(t, w, "_PATCH:ROOM")

	w.Pause()
	if err := w.Patch("ROOM", wssynctest.Op{Op: "add", Path: "/seen/a", Value: "writer"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Patch("ROOM", wssynctest.Op{Op: "add", Path: "/seen/b", Value: "writer"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { _, v := s.Published(); return v == 3 }) // both writes are in
	w.Resume()
	want, v := s.Published()
	got, err := w.WaitVersion(ctxT(t), "ROOM", v)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(got, want) {
		t.Fatalf("the writer holds %s, the server %s (frames: %s)", got, want, frameTypes(w.Frames()))
	}
}
