package wssync_test

import (
	"context"
	"encoding/json"

	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

// Hostile client writes over a real socket: each is refused with its documented code, the
// struct is left byte-identical, and the server's memory stays bounded.

type hwInner struct {
	A int    `json:"a"`
	B string `json:"b"`
}

// hwRow encodes to about 300 bytes when zero, from the 2 bytes of `{}`.
type hwRow struct {
	F01, F02, F03, F04, F05, F06, F07, F08, F09, F10 string
	F11, F12, F13, F14, F15, F16, F17, F18, F19, F20 string
	F21, F22, F23, F24, F25, F26, F27, F28, F29, F30 string
}

type hwDoc struct {
	List   []string       `sync:"list,write"`
	Nested hwInner        `sync:"nested,write"`
	M      map[string]int `sync:"m,write"`
	P      *hwInner       `sync:"p,write"`
	Rows   []hwRow        `sync:"rows,write"`
	Text   string         `sync:"text,write"`
	Owner  string         `sync:"owner"`
}

// newHostile serves one hwDoc under "DOC" and connects a client that has its _SET.
func newHostile(t *testing.T, doc *hwDoc, opts []wssync.SessionOption, reg ...wssync.RegisterOption) (*wssync.Synced[hwDoc], *wssynctest.Client) {
	t.Helper()
	sess := wssync.NewSession(opts...)
	s, err := wssync.Register(sess, "DOC", doc, reg...)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitPatient(t, c, "_SET:DOC")
	return s, c
}

func hwSnapshot(s *wssync.Synced[hwDoc], d *hwDoc) string {
	s.RLock()
	defer s.RUnlock()
	b, _ := json.Marshal(d)
	return string(b)
}

// writeOutcome sends one raw write and returns the refusal, or nil when the write was
// published (its _PATCH came back). It waits for the answer as long as the test may run:
// some of these documents are megabytes, which a loaded machine under -race takes more
// than wstest.Timeout to rewrite and send.
func writeOutcome(t *testing.T, c *wssynctest.Client, event, data string) *wssync.Error {
	t.Helper()
	before := len(c.Frames())
	if err := c.SendRaw([]byte(`{"type":"` + event + `","data":` + data + `}`)); err != nil {
		t.Fatal(err)
	}
	f, err := c.WaitFrame(wstest.Patient(t), func(f wssynctest.Frame) bool { return f.Type == "_ERROR" || f.Type == "_PATCH:DOC" })
	if err != nil {
		t.Fatalf("no answer to %s (frames after it: %d): %v", event, len(c.Frames())-before, err)
	}
	if f.Type == "_PATCH:DOC" {
		return nil
	}
	e := errorOf(t, f)
	waitPatient(t, c, "_SET:DOC") // the authoritative state follows a refusal
	return &e
}

// waitPatient waits for the next frame of type typ as long as the test may run (see
// writeOutcome).
func waitPatient(t *testing.T, c *wssynctest.Client, typ string) wssynctest.Frame {
	t.Helper()
	f, err := c.WaitFrame(wstest.Patient(t), func(f wssynctest.Frame) bool { return f.Type == typ })
	if err != nil {
		t.Fatalf("waiting for %s: %v (frames: %s)", typ, err, frameTypes(c.Frames()))
	}
	return f
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// The amplification of the issue: copy ops on a writable []string of 100 KiB, four frames
// of about 28 KiB. The old bound (copies up to 4x the state) let each frame quadruple it:
// 100 KiB → 25 MB, 312 MiB of heap. Now the copies of a patch may build no more than the
// patch's own bytes: refused, the struct unchanged, the heap flat. Not parallel: the heap
// is measured.
func TestHostileCopyAmplification(t *testing.T) {
	doc := &hwDoc{Owner: "o"}
	for i := range 10 {
		doc.List = append(doc.List, strings.Repeat(string(rune('a'+i)), 10<<10))
	}
	s, c := newHostile(t, doc, nil)
	before := hwSnapshot(s, doc)
	heap0 := heapInUse()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	// Each frame copies as much as the old bound allowed: 4x the state (at least 1 MiB), at
	// most 1000 ops of one 10 KiB element. Four frames, ~115 KiB: 100 KiB → 25 MB before.
	op := `{"op":"copy","from":"/list/0","path":"/list/-"},`
	sent := 0
	for range 4 {
		st, _ := s.Published()
		n := min(1000, (max(4*len(st), 1<<20)-1)/(10<<10))
		data := "[" + strings.TrimSuffix(strings.Repeat(op, n), ",") + "]"
		sent += len(data)
		e := writeOutcome(t, c, "_PATCH:DOC", data)
		if e == nil || e.Code != wssync.CodeTooLarge || e.Event != "_PATCH:DOC" || e.Message == "" {
			t.Fatalf("copy amplification: got %+v, want too_large (state now %d bytes)", e, len(hwSnapshot(s, doc)))
		}
	}
	if after := hwSnapshot(s, doc); after != before {
		t.Fatalf("a refused write changed the struct (%d → %d bytes)", len(before), len(after))
	}
	heap1 := heapInUse()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	growth := int64(heap1) - int64(heap0)
	t.Logf("4 frames, %d bytes of copy ops: live heap %+d KiB, %d KiB allocated in all", sent, growth>>10, (ms1.TotalAlloc-ms0.TotalAlloc)>>10)
	if growth > 4<<20 {
		t.Fatalf("live heap grew by %d bytes for %d bytes of refused frames", growth, sent)
	}
	// Work is bounded by the frames and the state, not multiplied: a few copies of each.
	if total := ms1.TotalAlloc - ms0.TotalAlloc; total > 64<<20 {
		t.Fatalf("the refused frames allocated %d bytes", total)
	}
}

// Zero-filling: `{}` is 2 bytes, a zero hwRow about 300 when encoded. A frame of `[{},{},…]`
// would have the decoder build a state 150 times its size; it is refused before decoding.
func TestHostileZeroFill(t *testing.T) {
	doc := &hwDoc{Rows: []hwRow{}, Owner: "o"}
	s, c := newHostile(t, doc, nil)
	before := hwSnapshot(s, doc)
	heap0 := heapInUse()
	rows := "[" + strings.TrimSuffix(strings.Repeat("{},", 100_000), ",") + "]"
	for _, w := range []struct{ event, data string }{
		{"_PATCH:DOC", `[{"op":"replace","path":"/rows","value":` + rows + `}]`},
		{"_SET:DOC", `{"rows":` + rows + `}`},
	} {
		e := writeOutcome(t, c, w.event, w.data)
		if e == nil || e.Code != wssync.CodeTooLarge || e.Path != "/rows" {
			t.Fatalf("%s of %d bytes of empty rows: got %+v, want too_large at /rows (state now %d bytes)", w.event, len(w.data), e, len(hwSnapshot(s, doc)))
		}
	}
	if after := hwSnapshot(s, doc); after != before {
		t.Fatal("a refused write changed the struct")
	}
	growth := int64(heapInUse()) - int64(heap0)
	t.Logf("2 frames of %d bytes: live heap %+d KiB", len(rows), growth>>10)
	if growth > 4<<20 {
		t.Fatalf("live heap grew by %d bytes", growth)
	}
	// A few rows are fine.
	if e := writeOutcome(t, c, "_PATCH:DOC", `[{"op":"add","path":"/rows/-","value":{}}]`); e != nil {
		t.Fatalf("one empty row refused: %+v", e)
	}
}

// Array shifts: the patch applier copies the whole array for every insert or removal at
// an index, so 1024 of them on a 100,000-element array would copy 1024 slices of 1.6 MB
// (16 bytes an element): 1.6 GB of allocation for one 37 KB frame. They are refused before anything is
// applied; a few are fine. Not parallel: allocation is measured.
func TestHostileArrayShifts(t *testing.T) {
	doc := &hwDoc{List: make([]string, 100_000), Owner: "o"} // `"",` each: 300 KB
	s, c := newHostile(t, doc, nil)
	before := hwSnapshot(s, doc)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	op := `{"op":"add","path":"/list/0","value":""},{"op":"remove","path":"/list/0"},`
	data := "[" + strings.TrimSuffix(strings.Repeat(op, 512), ",") + "]"
	e := writeOutcome(t, c, "_PATCH:DOC", data)
	runtime.ReadMemStats(&ms1)
	if e == nil || e.Code != wssync.CodeTooLarge || e.Path != "/list/0" {
		t.Fatalf("got %+v, want too_large at /list/0", e)
	}
	if hwSnapshot(s, doc) != before {
		t.Fatal("a refused write changed the struct")
	}
	total := ms1.TotalAlloc - ms0.TotalAlloc
	t.Logf("a %d-byte frame of 1024 shifts on a %d-byte array: %d MiB allocated", len(data), len(before), total>>20)
	if total > 128<<20 {
		t.Fatalf("the refused frame allocated %d bytes", total)
	}
	if e := writeOutcome(t, c, "_PATCH:DOC", `[{"op":"add","path":"/list/0","value":"x"},{"op":"remove","path":"/list/1"}]`); e != nil {
		t.Fatalf("two shifts refused: %+v", e)
	}
}

// The growth of one write is bounded by the frame limit, whatever the frame holds: here
// '<', which encoding/json escapes to 6 bytes.
func TestHostileGrowthPerFrame(t *testing.T) {
	t.Parallel()
	doc := &hwDoc{Owner: "o"}
	s, c := newHostile(t, doc, []wssync.SessionOption{wssync.WithLimits(wssync.Limits{ReadLimit: 64 << 10})})
	before := hwSnapshot(s, doc)
	e := writeOutcome(t, c, "_SET:DOC", `{"text":"`+strings.Repeat("<", 20<<10)+`"}`)
	if e == nil || e.Code != wssync.CodeTooLarge {
		t.Fatalf("got %+v, want too_large", e)
	}
	if hwSnapshot(s, doc) != before {
		t.Fatal("a refused write changed the struct")
	}
	if e := writeOutcome(t, c, "_SET:DOC", `{"text":"`+strings.Repeat("<", 5<<10)+`"}`); e != nil {
		t.Fatalf("a write within the frame limit was refused: %+v", e)
	}
}

// WithMaxStateSize: writes that grow the state stop at the bound; the state never exceeds
// it through client writes, and a write that shrinks it is still accepted.
func TestHostileMaxStateSize(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	doc := &hwDoc{List: []string{}, Owner: "o"}
	s, c := newHostile(t, doc, nil, wssync.WithMaxStateSize(limit))
	chunk := strings.Repeat("x", 10<<10)
	accepted := 0
	for i := 0; ; i++ {
		if i > 20 {
			t.Fatal("the state grew past its bound")
		}
		before := hwSnapshot(s, doc)
		e := writeOutcome(t, c, "_PATCH:DOC", `[{"op":"add","path":"/list/-","value":"`+chunk+`"}]`)
		if e == nil {
			accepted++
			if st, _ := s.Published(); len(st) > limit {
				t.Fatalf("accepted write left the state at %d bytes, over %d", len(st), limit)
			}
			continue
		}
		if e.Code != wssync.CodeTooLarge {
			t.Fatalf("got %+v, want too_large", e)
		}
		if hwSnapshot(s, doc) != before {
			t.Fatal("a refused write changed the struct")
		}
		break
	}
	if accepted != 6 {
		t.Fatalf("%d appends of 10 KiB accepted under a 64 KiB bound, want 6", accepted)
	}
	if e := writeOutcome(t, c, "_PATCH:DOC", `[{"op":"remove","path":"/list/0"}]`); e != nil {
		t.Fatalf("a shrinking write was refused: %+v", e)
	}
}

// null where the Go type cannot hold it is refused at any depth, with the member's path,
// for writes; where the type can hold it, it is accepted.
func TestHostileNullAtDepth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, event, data, path string // path "" means accepted
	}{
		{"int in a struct", "_PATCH:DOC", `[{"op":"replace","path":"/nested/a","value":null}]`, "/nested/a"},
		{"struct member in a _SET", "_SET:DOC", `{"nested":{"a":null,"b":"x"}}`, "/nested/a"},
		{"struct member in a replace", "_PATCH:DOC", `[{"op":"replace","path":"/nested","value":{"a":1,"b":null}}]`, "/nested/b"},
		{"map value", "_PATCH:DOC", `[{"op":"add","path":"/m/k","value":null}]`, "/m/k"},
		{"map value in a _SET", "_SET:DOC", `{"m":{"x":1,"k":null}}`, "/m/k"},
		{"inside a pointer to struct", "_PATCH:DOC", `[{"op":"replace","path":"/p","value":{"a":null}}]`, "/p/a"},
		{"slice element", "_PATCH:DOC", `[{"op":"add","path":"/list/-","value":null}]`, "/list/1"},
		{"row member", "_SET:DOC", `{"rows":[{"F01":"x"},{"F02":null}]}`, "/rows/1/F02"},
		{"top-level string", "_SET:DOC", `{"text":null}`, "/text"},
		{"pointer may be null", "_PATCH:DOC", `[{"op":"replace","path":"/p","value":null}]`, ""},
		{"map may be null", "_SET:DOC", `{"m":null}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := &hwDoc{List: []string{"a"}, M: map[string]int{"x": 1}, P: &hwInner{A: 1}, Owner: "o"}
			s, c := newHostile(t, doc, nil)
			before := hwSnapshot(s, doc)
			e := writeOutcome(t, c, tt.event, tt.data)
			if tt.path == "" {
				if e != nil {
					t.Fatalf("refused: %+v", e)
				}
				return
			}
			if e == nil || e.Code != wssync.CodeTypeMismatch || e.Path != tt.path {
				t.Fatalf("got %+v, want type_mismatch at %s (struct now %s)", e, tt.path, hwSnapshot(s, doc))
			}
			if hwSnapshot(s, doc) != before {
				t.Fatal("a refused write changed the struct")
			}
		})
	}
}

// Params: null inside a param, missing params whose type has its own UnmarshalJSON, and
// `validate` tags, nested structs included.

type hwPriority string

func (p *hwPriority) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*p = hwPriority(s)
	return nil
}

type hwAssignee struct {
	Name  string `json:"name" validate:"required"`
	Level int    `json:"level" validate:"min=1,max=5"`
}

type hwParams struct {
	Title    string       `validate:"required,max=20"`
	Priority hwPriority   `json:"priority" validate:"oneof=low high"`
	Due      time.Time    `json:"due"`
	Inner    hwInner      `json:"inner"`
	Items    []int        `json:"items,omitempty"`
	Assignee hwAssignee   `json:"assignee"`
	Helpers  []hwAssignee `json:"helpers,omitempty" validate:"dive"`
}

func TestHostileParams(t *testing.T) {
	t.Parallel()
	const ok = `"title":"t","priority":"low","due":"2026-01-02T03:04:05Z","inner":{"a":1,"b":"x"},"assignee":{"name":"ann","level":2}`
	tests := []struct {
		name, data string
		path       string // "" means accepted
	}{
		{"valid", `{"type":"add",` + ok + `}`, ""},
		{"missing enum param", `{"type":"add","title":"t","due":"2026-01-02T03:04:05Z","inner":{"a":1,"b":"x"},"assignee":{"name":"ann","level":2}}`, "/priority"},
		{"missing time param", `{"type":"add","title":"t","priority":"low","inner":{"a":1,"b":"x"},"assignee":{"name":"ann","level":2}}`, "/due"},
		{"null nested in a param", `{"type":"add",` + strings.Replace(ok, `"a":1`, `"a":null`, 1) + `}`, "/inner/a"},
		{"null in a param's slice", `{"type":"add",` + ok + `,"items":[1,null]}`, "/items/1"},
		{"oneof", `{"type":"add",` + strings.Replace(ok, `"low"`, `"urgent"`, 1) + `}`, "/priority"},
		{"max on a named-by-rule param", `{"type":"add",` + strings.Replace(ok, `"title":"t"`, `"title":"`+strings.Repeat("t", 21)+`"`, 1) + `}`, "/title"},
		{"required in a nested struct", `{"type":"add",` + strings.Replace(ok, `"name":"ann",`, ``, 1) + `}`, "/assignee/name"},
		{"range in a nested struct", `{"type":"add",` + strings.Replace(ok, `"level":2`, `"level":9`, 1) + `}`, "/assignee/level"},
		{"dive into a slice", `{"type":"add",` + ok + `,"helpers":[{"name":"bo","level":1},{"name":"","level":1}]}`, "/helpers/1/name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sess := wssync.NewSession()
			s, err := wssync.Register(sess, "DOC", &hwDoc{})
			if err != nil {
				t.Fatal(err)
			}
			called := make(chan hwParams, 1)
			if err := wssync.Action(s, "add", func(_ context.Context, p hwParams) error {
				called <- p
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			c := dial(t, serve(t, sess))
			waitType(t, c, "_SET:DOC")
			_ = c.SendRaw([]byte(`{"type":"_ACTION:DOC","id":"r","data":` + tt.data + `}`))
			r := waitType(t, c, "_RESULT")
			if tt.path == "" {
				if len(r.Error) > 0 {
					t.Fatalf("refused: %s", r.Error)
				}
				if p := wstest.Receive(t, called, "the action's params"); p.Priority != "low" || p.Assignee.Name != "ann" {
					t.Fatalf("params %+v", p)
				}
				return
			}
			e := errorOf(t, r)
			if e.Code != wssync.CodeBadParams || e.Path != tt.path || e.Action != "add" {
				t.Fatalf("got %+v, want bad_params at %s", e, tt.path)
			}
			select {
			case p := <-called:
				t.Fatalf("the handler ran with %+v", p)
			default:
			}
		})
	}
}

// `validate` tags on synced fields refuse client writes with rejected and the path.
type hwTagged struct {
	Title string       `sync:"title,write" validate:"max=10"`
	Crew  []hwAssignee `sync:"crew,write" validate:"dive"`
	Lead  hwAssignee   `sync:"lead,write"`
	Note  string       `sync:"note"` // read-only, left invalid by the server: not checked
	Code  string       `sync:"code" validate:"required"`
}

func TestHostileWriteValidation(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, event, data, path string }{
		{"max", "_PATCH:T", `[{"op":"replace","path":"/title","value":"far too long a title"}]`, "/title"},
		{"dive into a slice", "_PATCH:T", `[{"op":"add","path":"/crew/-","value":{"name":"","level":1}}]`, "/crew/0/name"},
		{"nested struct member", "_SET:T", `{"lead":{"name":"x","level":0}}`, "/lead/level"},
		{"accepted", "_PATCH:T", `[{"op":"replace","path":"/title","value":"short"}]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sess := wssync.NewSession()
			d := &hwTagged{Title: "t", Crew: []hwAssignee{}, Lead: hwAssignee{"ann", 1}} // Code is empty: invalid, but not written
			s, err := wssync.Register(sess, "T", d)
			if err != nil {
				t.Fatal(err)
			}
			c := dial(t, serve(t, sess))
			waitType(t, c, "_SET:T")
			snap := func() string { s.RLock(); defer s.RUnlock(); b, _ := json.Marshal(d); return string(b) }
			before := snap()
			_ = c.SendRaw([]byte(`{"type":"` + tt.event + `","data":` + tt.data + `}`))
			f, err := c.WaitFrame(ctxT(t), func(f wssynctest.Frame) bool { return f.Type == "_ERROR" || f.Type == "_PATCH:T" })
			if err != nil {
				t.Fatal(err)
			}
			if tt.path == "" {
				if f.Type != "_PATCH:T" {
					t.Fatalf("refused: %s", f.Data)
				}
				return
			}
			if f.Type != "_ERROR" {
				t.Fatalf("accepted: %s", f.Data)
			}
			if e := errorOf(t, f); e.Code != wssync.CodeRejected || e.Path != tt.path {
				t.Fatalf("got %+v, want rejected at %s", e, tt.path)
			}
			if snap() != before {
				t.Fatal("a refused write changed the struct")
			}
		})
	}
}

// Task params go through the same decoder: a nested null and a broken tag are refused
// before the task starts.
func TestHostileTaskParams(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	s, err := wssync.Register(sess, "DOC", &hwDoc{})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}, 4)
	if err := wssync.Task(s, "job", func(_ context.Context, p struct {
		Inner hwInner    `json:"inner"`
		Who   hwAssignee `json:"who"`
	}) error {
		started <- struct{}{}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:DOC")
	for id, tt := range map[string]struct{ data, path string }{
		"null": {`{"type":"job","inner":{"a":null,"b":""},"who":{"name":"x","level":1}}`, "/inner/a"},
		"tag":  {`{"type":"job","inner":{"a":1,"b":""},"who":{"name":"x","level":0}}`, "/who/level"},
	} {
		_ = c.SendRaw([]byte(`{"type":"_TASK_START:DOC","id":"` + id + `","data":` + tt.data + `}`))
		r, err := c.WaitFrame(ctxT(t), func(f wssynctest.Frame) bool { return f.Type == "_RESULT" && f.ID == id })
		if err != nil {
			t.Fatal(err)
		}
		if e := errorOf(t, r); e.Code != wssync.CodeBadParams || e.Path != tt.path {
			t.Fatalf("%s: got %+v, want bad_params at %s", id, e, tt.path)
		}
	}
	select {
	case <-started:
		t.Fatal("a task started with refused params")
	default:
	}
}
