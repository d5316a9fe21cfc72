package wssync

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// The field memo (fieldmemo.go) must never hide a change: every published state must be
// what encoding/json makes of the struct, and every patch must lead there. These tests
// change fields in every way a memo could miss (in place through a pointer, a shared
// backing array, a map entry, a new string of the same text) and check both.

type MemoEmbed struct {
	E  string `json:"e"`
	EN int
}

type memoInner struct {
	N    int            `json:"n"`
	S    string         `json:"s,omitempty"`
	Q    int            `json:"q,string"`
	Skip int            `json:"-"`
	Tags []string       `json:"tags"`
	M    map[string]int `json:"m,omitempty"`
	P    *int           `json:"p"`
}

type memoName string

// memoUpper encodes through its own MarshalJSON: the memo must leave it alone.
type memoUpper string

func (u memoUpper) MarshalJSON() ([]byte, error) { return json.Marshal(strings.ToUpper(string(u))) }

type memoState struct {
	MemoEmbed
	Title  string `sync:"title"`
	Count  int    `sync:"count"`
	Small  int8
	U      uint16
	F      float64
	F32    float32
	Flag   bool
	Named  memoName
	Bytes  []byte
	Arr    [3]int
	Notes  []string
	Inner  memoInner
	Ptr    *memoInner
	Map    map[string]memoInner
	Custom memoUpper
	Loud   []memoUpper
	Any    any
	Omit   string `json:"omit,omitempty"`
	Str    int    `json:"str,string"`
	Hidden int    `json:"-"`
	Long   []int
	Floats []float64
	Names  []memoName
}

func newMemoState() *memoState {
	p := 7
	return &memoState{
		MemoEmbed: MemoEmbed{E: "e"},
		Title:     "title",
		Bytes:     []byte("abc"),
		Notes:     []string{"a", "b", "c"},
		Inner:     memoInner{N: 1, Tags: []string{"x", "y"}, M: map[string]int{"k": 1}, P: &p},
		Ptr:       &memoInner{N: 2, Tags: []string{"z"}},
		Map:       map[string]memoInner{"one": {N: 1, Tags: []string{"t"}}},
		Custom:    "custom",
		Loud:      []memoUpper{"a"},
		Any:       map[string]any{"x": 1},
		Long:      make([]int, 30),
		Floats:    []float64{0.5, 1e-7},
		Names:     []memoName{"a"},
	}
}

// mutateMemo makes one change of a kind chosen by r; it returns a description for failures.
func mutateMemo(r *rand.Rand, s *memoState) string {
	texts := []string{"title", "<b>&amp;</b>", "line\nbreak\b\f", "bad \xff utf8", "\u2028", "é日𝄞", ""}
	switch r.IntN(33) {
	case 0:
		s.Title = texts[r.IntN(len(texts))]
		return "Title"
	case 1:
		if r.IntN(2) == 0 {
			s.Title = strings.Clone(s.Title) // the same text in a new string: no change
			return "Title, same text"
		}
		s.Title = s.Title[:len(s.Title)/2] // the same bytes, fewer of them
		return "Title, a prefix"
	case 2:
		s.Count = r.IntN(3)
		return "Count"
	case 3:
		s.Small, s.U = int8(r.IntN(256)-128), uint16(r.IntN(1<<16))
		return "Small, U"
	case 4:
		s.F = []float64{0, math.Copysign(0, -1), 1e-7, 1e21, 123.456, 1e20, 5e-324}[r.IntN(7)]
		return "F"
	case 5:
		s.F32 = []float32{0, 1e-7, 1e21, 3.4e38, 0.1}[r.IntN(5)]
		return "F32"
	case 6:
		s.Flag = !s.Flag
		return "Flag"
	case 7:
		s.Named = memoName(texts[r.IntN(len(texts))])
		return "Named"
	case 8:
		if len(s.Bytes) > 0 {
			s.Bytes[r.IntN(len(s.Bytes))]++ // in place
		}
		return "Bytes in place"
	case 9:
		s.Arr[r.IntN(3)] = r.IntN(3)
		return "Arr"
	case 10:
		if len(s.Notes) > 0 {
			s.Notes[r.IntN(len(s.Notes))] = texts[r.IntN(len(texts))] // in place in the backing array
		}
		return "Notes in place"
	case 11:
		switch r.IntN(4) {
		case 0:
			s.Notes = append(s.Notes, "more")
		case 1:
			if len(s.Notes) > 0 {
				s.Notes = s.Notes[:len(s.Notes)-1]
			}
		case 2:
			s.Notes = nil
		default:
			s.Notes = []string{}
		}
		return "Notes length"
	case 12:
		if len(s.Inner.Tags) > 0 {
			s.Inner.Tags[0] = texts[r.IntN(len(texts))]
		}
		return "Inner.Tags in place"
	case 13:
		if p := s.Inner.P; p != nil {
			*p = r.IntN(3) // through a pointer the struct shares with the caller
		} else {
			v := 1
			s.Inner.P = &v
		}
		return "*Inner.P"
	case 14:
		s.Inner.P = nil
		return "Inner.P nil"
	case 15:
		s.Inner.Skip++ // json:"-": no change on the wire
		return "Inner.Skip"
	case 16:
		s.Inner.Q, s.Inner.S = r.IntN(3), texts[r.IntN(len(texts))]
		return "Inner.Q, Inner.S"
	case 17:
		if s.Inner.M == nil {
			s.Inner.M = map[string]int{}
		}
		s.Inner.M[texts[r.IntN(3)]] = r.IntN(3)
		return "Inner.M entry"
	case 18:
		for k := range s.Inner.M {
			delete(s.Inner.M, k)
			break
		}
		return "Inner.M delete"
	case 19:
		if s.Ptr == nil {
			s.Ptr = &memoInner{Tags: []string{}}
		} else if r.IntN(3) == 0 {
			s.Ptr = nil
		} else {
			s.Ptr.N = r.IntN(3) // in place, through the pointer
		}
		return "Ptr"
	case 20:
		k := []string{"one", "two"}[r.IntN(2)]
		v := s.Map[k]
		v.N = r.IntN(3)
		if v.Tags == nil {
			v.Tags = []string{"t"}
		}
		s.Map[k] = v
		return "Map entry"
	case 21:
		for _, v := range s.Map {
			if len(v.Tags) > 0 {
				v.Tags[0] = texts[r.IntN(len(texts))] // in place: the map's value shares the array
			}
		}
		return "Map value's slice in place"
	case 22:
		s.Custom = memoUpper(texts[r.IntN(len(texts))])
		return "Custom"
	case 23:
		s.Loud = append(s.Loud, "x")
		if len(s.Loud) > 3 {
			s.Loud = s.Loud[:1]
		}
		return "Loud"
	case 24:
		s.Any.(map[string]any)["x"] = r.IntN(3)
		return "Any in place"
	case 25:
		s.Omit, s.Str, s.Hidden = texts[r.IntN(2)], r.IntN(3), r.IntN(3)
		return "Omit, Str, Hidden"
	case 26:
		if len(s.Long) < 40 {
			s.Long = append(s.Long, r.IntN(3)) // crosses the list cache's threshold
		} else {
			s.Long = s.Long[:28]
		}
		return "Long length"
	case 27:
		s.Long[r.IntN(len(s.Long))] = r.IntN(3)
		return "Long in place"
	case 28:
		s.E, s.EN = texts[r.IntN(len(texts))], r.IntN(3)
		return "embedded"
	case 29:
		if len(s.Floats) > 0 {
			s.Floats[r.IntN(len(s.Floats))] = []float64{0, 1e21, -2.5, 1e-7}[r.IntN(4)]
		}
		return "Floats in place"
	case 30:
		switch r.IntN(3) {
		case 0:
			s.Floats = append(s.Floats, 3)
		case 1:
			s.Floats = nil
		default:
			s.Floats = s.Floats[:0]
		}
		return "Floats length"
	case 31:
		if len(s.Names) < 4 && r.IntN(2) == 0 {
			s.Names = append(s.Names, memoName(texts[r.IntN(len(texts))]))
		} else if len(s.Names) > 0 {
			s.Names[r.IntN(len(s.Names))] = memoName(texts[r.IntN(len(texts))])
		}
		return "Names"
	default:
		*s = *newMemoState() // every field new, most of them equal in value
		return "all new"
	}
}

// wantState is what encoding/json makes of every synced field of o, read afresh.
func wantState(t *testing.T, o *object) []byte {
	t.Helper()
	buf := []byte{'{'}
	for i := range o.fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		f := &o.fields[i]
		b, err := json.Marshal(o.val.FieldByIndex(f.spec.index).Interface())
		if err != nil {
			t.Fatalf("field %s: %v", f.wire, err)
		}
		buf = append(append(buf, f.member...), b...)
	}
	return append(buf, '}')
}

func TestFieldMemoNeverHidesAChange(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 30 {
		st := newMemoState()
		s, err := Register(NewSession(), "K", st)
		if err != nil {
			t.Fatal(err)
		}
		if s.o.memos == nil || s.o.memos[fieldIndex(t, s.o, "title")] == nil || s.o.memos[fieldIndex(t, s.o, "custom")] != nil || s.o.memos[fieldIndex(t, s.o, "any")] != nil {
			t.Fatal("the memo should apply to plain fields and not to Custom (MarshalJSON) or Any (an interface)")
		}
		sub := &capture{}
		s.o.subscribe(sub)
		prev, _ := s.Published()
		for step := range 80 {
			var did []string
			s.Lock()
			for range 1 + r.IntN(3) {
				did = append(did, mutateMemo(r, st))
			}
			s.Unlock()
			before := len(sub.frames)
			if err := s.Sync(); err != nil {
				t.Fatalf("round %d step %d (%v): %v", round, step, did, err)
			}
			next, _ := s.Published()
			s.RLock()
			want := wantState(t, s.o)
			s.RUnlock()
			if !jsonEq(next, want) {
				t.Fatalf("round %d step %d (%v): published\n %s\nwant\n %s", round, step, did, next, want)
			}
			if len(sub.frames) == before {
				if !jsonEq(prev, next) {
					t.Fatalf("round %d step %d (%v): the state changed but nothing was published", round, step, did)
				}
				continue
			}
			got := applyFrame(t, prev, sub.frames[len(sub.frames)-1])
			if !jsonEq(got, want) {
				t.Fatalf("round %d step %d (%v): patch %s\n gives %s\n want  %s", round, step, did, sub.frames[len(sub.frames)-1], got, want)
			}
			prev = next
		}
	}
}

// TestFieldMemoAfterFailedSnapshot: a Sync that fails (a NaN in one field) publishes
// nothing; the next Sync publishes every change made meanwhile, those of the fields the
// failed snapshot had already encoded included.
func TestFieldMemoAfterFailedSnapshot(t *testing.T) {
	st := newMemoState()
	s, err := Register(NewSession(), "K", st)
	if err != nil {
		t.Fatal(err)
	}
	sub := &capture{}
	s.o.subscribe(sub)
	prev, v := s.Published()
	s.Lock()
	st.Title, st.F = "changed", math.NaN()
	s.Unlock()
	var unsupported *json.UnsupportedValueError
	if err := s.Sync(); !errors.As(err, &unsupported) {
		t.Fatalf("Sync with a NaN: %v, want encoding/json's UnsupportedValueError", err)
	}
	if now, nv := s.Published(); nv != v || !bytes.Equal(now, prev) || len(sub.frames) != 0 {
		t.Fatalf("a failed Sync published version %d: %s", nv, now)
	}
	if err := s.Sync(); err == nil { // the NaN is still there
		t.Fatal("the second Sync with a NaN succeeded")
	}
	s.Lock()
	st.F, st.Floats[1] = 2, math.Inf(-1) // an element of a slice encoded directly
	s.Unlock()
	if err := s.Sync(); !errors.As(err, &unsupported) {
		t.Fatalf("Sync with an infinity in a slice: %v, want encoding/json's UnsupportedValueError", err)
	}
	s.Lock()
	st.Floats[1] = 4
	s.Unlock()
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if len(sub.frames) != 1 {
		t.Fatalf("%d frames, want 1", len(sub.frames))
	}
	got := applyFrame(t, prev, sub.frames[0])
	s.RLock()
	want := wantState(t, s.o)
	s.RUnlock()
	if !jsonEq(got, want) || !strings.Contains(string(sub.frames[0]), `"changed"`) {
		t.Fatalf("patch %s gives %s, want %s", sub.frames[0], got, want)
	}
}

// TestFieldMemoSameValueNewMemory: values equal to the published ones in new memory (a
// new string, slice, map or pointer of the same contents) publish nothing.
func TestFieldMemoSameValueNewMemory(t *testing.T) {
	st := newMemoState()
	s, err := Register(NewSession(), "K", st)
	if err != nil {
		t.Fatal(err)
	}
	sub := &capture{}
	s.o.subscribe(sub)
	s.Lock()
	st.Title = strings.Clone(st.Title)
	st.Notes = append([]string(nil), st.Notes...)
	st.Ptr = &memoInner{N: st.Ptr.N, Tags: []string{"z"}}
	st.Map = map[string]memoInner{"one": {N: 1, Tags: []string{"t"}}}
	st.Inner.Skip = 99
	s.Unlock()
	for range 2 {
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if len(sub.frames) != 0 {
		t.Fatalf("published %s for values that did not change", sub.frames[0])
	}
}

func fieldIndex(t *testing.T, o *object, wire string) int {
	t.Helper()
	for i := range o.fields {
		if o.fields[i].wire == wire {
			return i
		}
	}
	t.Fatalf("no field %q", wire)
	return -1
}

// applyFrame applies the ops of the _PATCH frame f to the state prev.
func applyFrame(t *testing.T, prev, f []byte) []byte {
	t.Helper()
	var fr struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(f, &fr); err != nil {
		t.Fatalf("frame %s: %v", f, err)
	}
	p, err := jsonpatch.DecodePatch(fr.Data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Apply(prev)
	if err != nil {
		t.Fatalf("patch %s does not apply to %s: %v", fr.Data, prev, err)
	}
	return got
}

// TestFieldMemoKinds: which field types get a memo.
func TestFieldMemoKinds(t *testing.T) {
	type big struct{ A [memoMaxSize + 1]byte }
	for _, c := range []struct {
		typ  reflect.Type
		memo bool
	}{
		{reflect.TypeFor[string](), true},
		{reflect.TypeFor[memoName](), true},
		{reflect.TypeFor[[]string](), true},
		{reflect.TypeFor[map[string]int](), true},
		{reflect.TypeFor[*memoInner](), true},
		{reflect.TypeFor[memoUpper](), false},
		{reflect.TypeFor[[]memoUpper](), false},
		{reflect.TypeFor[any](), false},
		{reflect.TypeFor[map[int]string](), false},
		{reflect.TypeFor[big](), false},
	} {
		got := newFieldMemo(reflect.TypeFor[struct{ X int }](), &fieldSpec{index: []int{0}, typ: c.typ}) != nil
		if got != c.memo {
			t.Errorf("%v: memo %v, want %v", c.typ, got, c.memo)
		}
	}
}
