package wssync

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// atkHarness registers d, subscribes a capture, and checks after each Sync that the
// published state is json.Marshal(d) and that the published patch takes the previous
// published state to the new one.
type atkHarness[T any] struct {
	t    *testing.T
	s    *Synced[T]
	d    *T
	sub  *capture
	prev []byte
}

func newAtk[T any](t *testing.T, d *T) *atkHarness[T] {
	t.Helper()
	sess := NewSession()
	t.Cleanup(sess.Close)
	s, err := Register(sess, "K", d)
	if err != nil {
		t.Fatal(err)
	}
	h := &atkHarness[T]{t: t, s: s, d: d, sub: &capture{}}
	s.o.subscribe(h.sub)
	h.prev, _ = s.Published()
	return h
}

// do runs f under the object's lock (a panic of f is recovered and returned).
func (h *atkHarness[T]) do(f func()) (p any) {
	h.s.Lock()
	defer h.s.Unlock()
	defer func() { p = recover() }()
	f()
	return nil
}

// sync syncs and checks; it reports whether the checks held (errors are reported with step).
func (h *atkHarness[T]) sync(step string) bool {
	h.t.Helper()
	h.s.RLock()
	want, err := json.Marshal(h.d)
	h.s.RUnlock()
	if err != nil {
		h.t.Fatalf("%s: json.Marshal: %v", step, err)
	}
	if err := h.s.Sync(); err != nil {
		h.t.Errorf("%s: Sync: %v", step, err)
		return false
	}
	next, _ := h.s.Published()
	ok := true
	if !jsonEq(next, want) {
		h.t.Errorf("%s: published\n  %s\nwant json.Marshal\n  %s", step, next, want)
		ok = false
	}
	return h.chain(step, next) && ok
}

// chain applies the frames published since the last check to prev and compares with next.
func (h *atkHarness[T]) chain(step string, next []byte) bool {
	h.t.Helper()
	ok := true
	cur := h.prev
	var datas []string
	for _, fr := range h.sub.frames {
		var f struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(fr, &f); err != nil {
			h.t.Fatal(err)
		}
		datas = append(datas, string(f.Data))
		p, err := jsonpatch.DecodePatch(f.Data)
		if err != nil {
			h.t.Fatalf("%s: %v", step, err)
		}
		got, err := p.Apply(cur)
		if err != nil {
			h.t.Errorf("%s: patch %s does not apply to %s: %v", step, f.Data, cur, err)
			ok = false
			break
		}
		cur = got
	}
	h.sub.frames = h.sub.frames[:0]
	if ok && !jsonEq(cur, next) {
		h.t.Errorf("%s: patches %s\n on %s\n give %s\n want  %s", step, datas, h.prev, cur, next)
		ok = false
	}
	h.prev = next
	return ok
}

// ---------------------------------------------------------------------------
// 1. List[byte]: json.Marshal of a []byte is a base64 string, not an array.

type atkBytes struct {
	B List[byte] `sync:"b" json:"b"`
}

func TestListAttackBytesEncodeAsArray(t *testing.T) {
	b, _ := json.Marshal(NewList[byte](1, 2, 3))
	if string(b) != "[1,2,3]" {
		t.Errorf("godoc: \"A List encodes as a JSON array of its elements\"; List[byte] encodes as %s", b)
	}
	s := newSchemaBuilder().typeSchema(reflect.TypeFor[List[byte]]())
	out, _ := json.Marshal(s)
	t.Logf("schema of List[byte]: %s (encoding %s)", out, b)
}

func TestListAttackBytesSync(t *testing.T) {
	d := &atkBytes{B: NewList[byte](1)}
	h := newAtk(t, d)
	h.do(func() { d.B.Set(0, 5) })
	h.sync("Set(0,5) on a 1-byte list")
	h.do(func() { d.B.Append(7) })
	h.sync("Append(7)")
	h.do(func() { d.B.Delete(0, 1) })
	h.sync("Delete(0,1)")
}

// ---------------------------------------------------------------------------
// 2. An emptied List keeps its capacity; a copy's first change does not copy an empty
// items slice, so the copy and the original append into the same array.

type atkInts struct {
	N List[int] `sync:"n" json:"n"`
}

func TestListAttackEmptyCapValueSemantics(t *testing.T) {
	a := NewList(1, 2, 3)
	a.Set(0, 1)       // a owns its history and elements
	a.Delete(0, 3)    // empty, capacity 3
	b := a            // a copy
	b.Append(7)       // the copy's change
	a.Append(8)       // the original's change
	if b.At(0) != 7 { // the copy has changed already: it must not see a's change
		t.Errorf("copy b (changed: Append(7)) now holds %v after the original a.Append(8)", b.Values())
	}
}

func TestListAttackEmptyCapTwoObjects(t *testing.T) {
	d1 := &atkInts{N: NewList(1, 2, 3)}
	h1 := newAtk(t, d1)
	h1.do(func() { d1.N.Set(0, 1); d1.N.Delete(0, 3) })
	h1.sync("d1 emptied")
	d2 := &atkInts{}
	h2 := newAtk(t, d2)
	h1.do(func() { d2.N = d1.N }) // d2's field: a copy of d1's List
	h2.do(func() { d2.N.Append(7) })
	h2.sync("d2 Append(7)")
	h1.do(func() { d1.N.Append(8) })
	h1.sync("d1 Append(8)")
	h2.sync("d2 after d1's change (d2 unchanged)")
}

// NewList of an empty slice with capacity: the first Append writes into the caller's array.
func TestListAttackNewListEmptyCapWritesCaller(t *testing.T) {
	buf := make([]int, 0, 4)
	l := NewList(buf...)
	l.Append(5)
	if got := buf[:1][0]; got != 0 {
		t.Errorf("godoc NewList: \"The list's first change copies them\"; Append wrote %d into the caller's array", got)
	}
}

// ---------------------------------------------------------------------------
// 3. NewList keeps the caller's slice until the first change; NewList's godoc, unlike
// Reset's, does not say the caller must leave it alone.

// Reset with a slice the caller keeps and appends to (never changing the elements it
// handed over): the List's Append and the caller's append share the array.
func TestListAttackResetCallerAppends(t *testing.T) {
	s := make([]int, 2, 8)
	d := &atkInts{}
	h := newAtk(t, d)
	h.do(func() { d.N.Reset(s...) })
	h.sync("Reset")
	h.do(func() { d.N.Append(5) })
	h.sync("Append(5)")
	h.do(func() { s = append(s, 7); _ = s }) // the caller's own slice grows: s[2] is the List's element 2
	if !h.sync("caller appended to its own slice") {
		t.Log("(Reset godoc says the caller should not change them: this is the caller appending to its own slice)")
	}
}

// ---------------------------------------------------------------------------
// 4. A copy's first change copies the elements shallowly: what elements refer to (a slice
// with spare capacity, a map) stays shared, and Update changes it in place.

type atkRow struct {
	ID    int            `json:"id"`
	Tags  []string       `json:"tags"`
	Attrs map[string]int `json:"attrs"`
}

type atkRows struct {
	R List[atkRow] `sync:"r" json:"r"`
}

// ---------------------------------------------------------------------------
// 5. Boundaries: many mixed changes between two Syncs, exactly 31/32/33/34 changes, and
// 63/64/65 touched elements, on small and empty lists.

type atkTwo struct {
	A List[int]    `sync:"a" json:"a"`
	S List[string] `sync:"s" json:"s"`
	T string       `sync:"t" json:"t"`
}

func atkMutate(r *rand.Rand, l *List[int], next *int) {
	n := l.Len()
	*next++
	v := *next
	switch k := r.IntN(10); {
	case k < 3 && n > 0:
		l.Set(r.IntN(n), v)
	case k < 4 && n > 0:
		l.Update(r.IntN(n), func(p *int) {
			if r.IntN(2) == 0 {
				*p = v
			}
		})
	case k < 6:
		vs := make([]int, 1+r.IntN(2))
		for i := range vs {
			vs[i] = v*10 + i
		}
		l.Insert(r.IntN(n+1), vs...)
	case k < 7:
		l.Append(v)
	case k < 9 && n > 0:
		i := r.IntN(n)
		l.Delete(i, min(n, i+1+r.IntN(2)))
	default:
		if n > 0 {
			i := r.IntN(n)
			l.Set(i, l.At(i))
		} else {
			l.Insert(0, v)
		}
	}
}

func TestListAttackBoundaryCounts(t *testing.T) {
	for _, count := range []int{1, 2, 31, 32, 33, 34, 64} {
		for seed := range uint64(40) {
			r := rand.New(rand.NewPCG(seed, uint64(count)))
			d := &atkTwo{}
			for range r.IntN(5) {
				d.A.Append(r.IntN(100))
			}
			h := newAtk(t, d)
			next := 1000
			for round := range 8 {
				h.do(func() {
					for range count {
						atkMutate(r, &d.A, &next)
					}
					if r.IntN(3) == 0 {
						d.S.Append(fmt.Sprint(round))
					}
				})
				if !h.sync(fmt.Sprintf("count %d seed %d round %d", count, seed, round)) {
					return
				}
				checkLogCaches(t, h.s.o)
			}
		}
	}
}

func TestListAttackTouchedBoundary(t *testing.T) {
	for _, touched := range []int{63, 64, 65} {
		for _, kind := range []string{"append", "insert0", "delete", "set", "mixed"} {
			d := &atkTwo{}
			for i := range 80 {
				d.A.Append(i)
			}
			h := newAtk(t, d)
			h.do(func() {
				switch kind {
				case "append":
					for i := range touched {
						d.A.Append(1000 + i)
					}
				case "insert0":
					vs := make([]int, touched)
					for i := range vs {
						vs[i] = 2000 + i
					}
					d.A.Insert(0, vs[:touched/2]...)
					d.A.Insert(3, vs[touched/2:]...)
				case "delete":
					d.A.Delete(1, 1+touched/2)
					d.A.Delete(0, touched-touched/2)
				case "set":
					for i := range touched {
						d.A.Set(i%40, 3000+i) // at most 32 changes would be the log; use Update pairs
						if i >= 30 {
							break
						}
					}
					d.A.Delete(0, touched-31)
				case "mixed":
					d.A.Set(0, 1)
					d.A.Insert(0, make([]int, touched-3)...)
					d.A.Delete(2, 4)
				}
			})
			h.sync(fmt.Sprintf("touched %d %s", touched, kind))
			checkLogCaches(t, h.s.o)
			h.do(func() { d.A.Set(0, -1) })
			h.sync(fmt.Sprintf("touched %d %s, then one Set", touched, kind))
		}
	}
}

// Emptying, refilling, Reset() with nothing, Reset(nil...), and a copy put back around them.
func TestListAttackEmptyTransitions(t *testing.T) {
	d := &atkTwo{}
	h := newAtk(t, d)
	steps := []func(){
		func() { d.A.Append(1, 2, 3) },
		func() { d.A.Delete(0, 3) },
		func() { d.A.Insert(0, 4) },
		func() { d.A.Delete(0, 1); d.A.Append(5) },
		func() { d.A.Reset() },
		func() { d.A.Insert(0, 6, 7); d.A.Delete(0, 2) },
		func() { d.A.Reset(nil...) },
		func() { cp := d.A; d.A.Append(8); d.A = cp },
		func() { d.A.Append(9); cp := d.A; d.A.Delete(0, 1); d.A = cp },
		func() { var z List[int]; d.A = z },
		func() { d.A.Append(10) },
		func() { d.A = List[int]{} },
		func() { d.A.Insert(0, 11) },
	}
	for i, st := range steps {
		h.do(st)
		h.sync(fmt.Sprintf("step %d", i))
	}
}

// A copy put back after the List changed in place (Delete shifts the shared array): the
// cache rebuilds from that stale copy but records the copy's gen; when the List itself is
// assigned back, the cache replays the Delete on the stale copy's encoding.
func TestListAttackStaleCopyThenHead(t *testing.T) {
	for _, change := range []struct {
		name string
		f    func(l *List[int])
	}{
		{"Delete(0,1)", func(l *List[int]) { l.Delete(0, 1) }},
		{"Insert(0,9) with spare capacity", func(l *List[int]) { l.Insert(0, 9) }},
		{"Delete(1,2)", func(l *List[int]) { l.Delete(1, 2) }},
	} {
		d := &atkInts{N: NewList(1, 2, 3)}
		h := newAtk(t, d)
		h.do(func() { d.N.Append(4); d.N.Delete(3, 4) }) // owns its elements, spare capacity
		h.sync(change.name + ": own")
		var head List[int]
		h.do(func() {
			old := d.N
			change.f(&d.N) // in place: old shares the array
			head = d.N
			d.N = old // the older copy put back
		})
		h.sync(change.name + ": older copy put back")
		h.do(func() { d.N = head }) // the List as it is now
		h.sync(change.name + ": the latest value assigned back")
	}
}

// ---------------------------------------------------------------------------
// 6. Update whose f panics half-way, or does nothing; Update re-entering the List.

func TestListAttackUpdatePanics(t *testing.T) {
	d := &atkRows{R: NewList(atkRow{ID: 1, Tags: []string{"x"}}, atkRow{ID: 2})}
	h := newAtk(t, d)
	if p := h.do(func() {
		d.R.Update(1, func(r *atkRow) { r.ID = 20; panic("half-way") })
	}); p == nil {
		t.Fatal("no panic")
	}
	h.sync("after a panicking Update")
	h.do(func() { d.R.Update(0, func(*atkRow) {}) })
	h.sync("Update doing nothing")
	if p := h.do(func() {
		d.R.Update(0, func(r *atkRow) { r.Tags = append(r.Tags, "y"); panic("again") })
	}); p == nil {
		t.Fatal("no panic")
	}
	h.do(func() { d.R.Insert(0, atkRow{ID: 0}) })
	h.sync("panicking Update on a fresh history, then Insert")
	// a panic in Set's own bounds check records nothing
	h.do(func() { d.R.Set(5, atkRow{}) })
	h.do(func() { d.R.Delete(2, 9) })
	h.do(func() { d.R.Insert(-1, atkRow{}) })
	h.sync("after out-of-range panics")
}

// ---------------------------------------------------------------------------
// 7. Elements of pointers, slices and maps; a List in an element; two Lists; a List in a
// nested struct (no log cache, must still be correct).

type atkItem struct {
	Name string `json:"name"`
}

type atkInner struct {
	L List[int] `json:"l"`
}

type atkMany struct {
	P     List[*atkItem]           `sync:"p" json:"p"`
	M     List[map[string]int]     `sync:"m" json:"m"`
	Sl    List[[]int]              `sync:"sl" json:"sl"`
	LL    List[List[int]]          `sync:"ll" json:"ll"`
	In    atkInner                 `sync:"in" json:"in"`
	Elems []atkInner               `sync:"elems" json:"elems"`
	Any   List[any]                `sync:"any" json:"any"`
	Rows  List[atkRow]             `sync:"rows" json:"rows"`
	Ptr   *List[int]               `sync:"ptr" json:"ptr"`
	IfL   List[json.Marshaler]     `sync:"ifl" json:"ifl"`
	Arr   List[[2]string]          `sync:"arr" json:"arr"`
	Emb   List[struct{ X, Y int }] `sync:"emb" json:"emb"`
}

func TestListAttackElementKinds(t *testing.T) {
	d := &atkMany{Ptr: &List[int]{}}
	h := newAtk(t, d)
	r := rand.New(rand.NewPCG(3, 4))
	for step := range 300 {
		h.do(func() {
			for range 1 + r.IntN(6) {
				switch r.IntN(14) {
				case 0:
					if n := d.P.Len(); n > 0 && r.IntN(2) == 0 {
						d.P.Update(r.IntN(n), func(p **atkItem) {
							if *p != nil {
								(*p).Name = randomText(r) // the pointee: recorded through Update
							} else {
								*p = &atkItem{Name: "new"}
							}
						})
					} else {
						d.P.Insert(r.IntN(d.P.Len()+1), &atkItem{Name: randomText(r)}, nil)
					}
				case 1:
					if n := d.M.Len(); n > 0 && r.IntN(2) == 0 {
						d.M.Update(r.IntN(n), func(m *map[string]int) {
							if *m == nil {
								*m = map[string]int{}
							}
							(*m)[randomText(r)] = r.IntN(9)
						})
					} else {
						d.M.Append(nil, map[string]int{"z": 1})
					}
				case 2:
					if n := d.Sl.Len(); n > 0 && r.IntN(2) == 0 {
						d.Sl.Update(r.IntN(n), func(s *[]int) { *s = append(*s, r.IntN(9)) })
					} else {
						d.Sl.Insert(0, []int{}, nil, make([]int, 0, 8))
					}
				case 3:
					if n := d.LL.Len(); n > 0 && r.IntN(3) != 0 {
						d.LL.Update(r.IntN(n), func(l *List[int]) {
							if l.Len() > 0 && r.IntN(2) == 0 {
								l.Delete(0, 1)
							} else {
								l.Append(r.IntN(9))
							}
						})
					} else {
						d.LL.Append(NewList(1, 2), List[int]{})
					}
				case 4:
					d.In.L.Append(r.IntN(9))
					if d.In.L.Len() > 3 {
						d.In.L.Delete(0, 2)
					}
				case 5:
					if len(d.Elems) > 0 && r.IntN(2) == 0 {
						e := &d.Elems[r.IntN(len(d.Elems))]
						e.L.Append(r.IntN(9))
					} else {
						d.Elems = append(d.Elems, atkInner{L: NewList(r.IntN(9))})
					}
				case 6:
					if n := d.Any.Len(); n > 0 && r.IntN(2) == 0 {
						d.Any.Set(r.IntN(n), []any{r.IntN(3), "x"})
					} else {
						d.Any.Append(nil, 1.5, "s", map[string]any{"k": true})
					}
				case 7:
					if n := d.Rows.Len(); n > 0 {
						d.Rows.Update(r.IntN(n), func(row *atkRow) {
							row.Tags = append(row.Tags, randomText(r))
							if row.Attrs == nil {
								row.Attrs = map[string]int{}
							}
							row.Attrs["k"]++
						})
					} else {
						d.Rows.Append(atkRow{ID: 1})
					}
				case 8:
					d.Ptr.Append(r.IntN(9))
					if r.IntN(4) == 0 {
						d.Ptr = &List[int]{}
					}
				case 9:
					if n := d.Rows.Len(); n > 1 {
						cp := d.Rows
						cp.Delete(0, 1)
						d.Rows = cp
					}
				case 10:
					d.IfL.Append(json.RawMessage(`{"a":[1,2]}`), nil)
					if n := d.IfL.Len(); n > 4 {
						d.IfL.Delete(1, 3)
					}
				case 11:
					if n := d.Arr.Len(); n > 0 {
						d.Arr.Update(n-1, func(a *[2]string) { a[0] = randomText(r) })
					}
					d.Arr.Append([2]string{"<&>", "\u2028"})
				case 12:
					d.Emb.Insert(0, struct{ X, Y int }{r.IntN(3), 1})
					if d.Emb.Len() > 5 {
						d.Emb.Delete(1, 4)
					}
				case 13:
					if n := d.LL.Len(); n > 0 { // an element List copied and put back stale
						cp := d.LL.At(0)
						d.LL.Update(0, func(l *List[int]) { l.Append(7) })
						d.LL.Set(0, cp)
					}
				}
			}
		})
		if !h.sync(fmt.Sprintf("step %d", step)) {
			return
		}
		checkLogCaches(t, h.s.o)
	}
}

// ---------------------------------------------------------------------------
// 8. The same List value in two objects; decoded Lists; json.Unmarshal into the field.

func TestListAttackSameValueTwoObjects(t *testing.T) {
	shared := NewList(1, 2, 3)
	d1, d2 := &atkInts{N: shared}, &atkInts{N: shared}
	h1, h2 := newAtk(t, d1), newAtk(t, d2)
	r := rand.New(rand.NewPCG(9, 9))
	next := 0
	for step := range 200 {
		switch r.IntN(5) {
		case 0:
			h1.do(func() { atkMutate(r, &d1.N, &next) })
		case 1:
			h2.do(func() { atkMutate(r, &d2.N, &next) })
		case 2:
			h1.do(func() { d2.N = d1.N }) // both objects' locks are not needed for this test
		case 3:
			h1.do(func() { d1.N = d2.N })
		case 4:
			h1.do(func() { atkMutate(r, &d1.N, &next); atkMutate(r, &d1.N, &next) })
			h2.do(func() { atkMutate(r, &d2.N, &next) })
		}
		if !h1.sync(fmt.Sprintf("d1 step %d", step)) || !h2.sync(fmt.Sprintf("d2 step %d", step)) {
			return
		}
	}
}

func TestListAttackUnmarshal(t *testing.T) {
	d := &atkTwo{A: NewList(1, 2, 3)}
	h := newAtk(t, d)
	h.do(func() { d.A.Set(0, 5) })
	h.sync("Set")
	h.do(func() {
		if err := json.Unmarshal([]byte(`[7,8]`), &d.A); err != nil {
			t.Fatal(err)
		}
	})
	h.sync("json.Unmarshal into the field")
	h.do(func() { d.A.Append(9) })
	h.sync("Append after Unmarshal")
	h.do(func() {
		if err := json.Unmarshal([]byte(`{"a":[1],"s":["x"],"t":"t"}`), d); err != nil {
			t.Fatal(err)
		}
	})
	h.sync("json.Unmarshal into the struct")
	h.do(func() { d.A.Insert(0, 0); d.S.Set(0, "y") })
	h.sync("changes after")
	h.do(func() {
		cp := d.A
		if err := json.Unmarshal([]byte(`null`), &d.A); err != nil {
			t.Fatal(err)
		}
		d.A.Append(1)
		d.A = cp // put back the copy from before the decode
	})
	h.sync("copy put back after a decode")
	h.do(func() {
		if err := json.Unmarshal([]byte(`[1,"x"]`), &d.A); err == nil {
			t.Error("decoded a string into List[int]")
		}
	})
	h.sync("failed decode")
}

// ---------------------------------------------------------------------------
// 9. A Sync that fails (an element's MarshalJSON fails sometimes), then more changes.

type atkFlaky struct {
	V    int
	Fail *bool
}

func (f atkFlaky) MarshalJSON() ([]byte, error) {
	if f.Fail != nil && *f.Fail {
		return nil, errors.New("flaky")
	}
	return json.Marshal(f.V)
}

type atkFlakyDoc struct {
	L     List[atkFlaky] `sync:"l" json:"l"`
	Other atkFlaky       `sync:"other" json:"other"` // after the List: fails after its snapshot
	N     List[int]      `sync:"n" json:"n"`
}

func TestListAttackFailingSync(t *testing.T) {
	failElem, failOther := false, false
	fe, fo := &failElem, &failOther
	d := &atkFlakyDoc{L: NewList(atkFlaky{V: 1, Fail: fe}, atkFlaky{V: 2, Fail: fe}), Other: atkFlaky{Fail: fo}}
	h := newAtk(t, d)
	r := rand.New(rand.NewPCG(5, 6))
	loggedOK := false
	for step := range 400 {
		h.do(func() {
			for range 1 + r.IntN(3) {
				n := d.L.Len()
				switch k := r.IntN(6); {
				case k == 0 && n > 0:
					d.L.Set(r.IntN(n), atkFlaky{V: r.IntN(100), Fail: fe})
				case k == 1:
					d.L.Insert(r.IntN(n+1), atkFlaky{V: r.IntN(100), Fail: fe})
				case k == 2 && n > 0:
					d.L.Delete(r.IntN(n), n)
				case k == 3:
					d.Other.V++
				case k == 4:
					d.N.Append(step)
				default:
					if n > 0 {
						d.L.Update(0, func(f *atkFlaky) { f.V++ })
					}
				}
			}
		})
		failElem, failOther = r.IntN(4) == 0, r.IntN(4) == 0
		if failElem || failOther {
			err := h.s.Sync()
			h.s.RLock()
			_, merr := json.Marshal(d)
			h.s.RUnlock()
			if err == nil && merr != nil && !loggedOK {
				loggedOK = true
				t.Logf("step %d: Sync succeeded although json.Marshal fails (an untouched element's MarshalJSON is not called): %v", step, merr)
			}
			failElem, failOther = false, false
			if err == nil {
				next, _ := h.s.Published()
				if !h.chain(fmt.Sprintf("step %d (Sync under failure flags)", step), next) {
					return
				}
			}
			continue
		}
		if !h.sync(fmt.Sprintf("step %d", step)) {
			return
		}
		checkLogCaches(t, h.s.o)
	}
}

// ---------------------------------------------------------------------------
// 10. Concurrency: Updates of Lists from several goroutines, Syncs in between (-race).

func TestListAttackConcurrent(t *testing.T) {
	d := &atkTwo{}
	sess := NewSession()
	defer sess.Close()
	s, err := Register(sess, "K", d)
	if err != nil {
		t.Fatal(err)
	}
	sub := &capture{}
	s.o.subscribe(sub)
	start, _ := s.Published()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			next := g * 100000
			for range 300 {
				_ = s.Update(func(v *atkTwo) {
					atkMutate(r, &v.A, &next)
					if r.IntN(5) == 0 {
						v.S.Append("g")
					}
					if v.A.Len() > 40 {
						v.A.Delete(0, 20)
					}
				})
			}
		})
	}
	wg.Go(func() {
		for range 300 {
			_ = s.Sync()
			_, _ = s.Published()
		}
	})
	wg.Wait()
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	final, _ := s.Published()
	s.RLock()
	want, _ := json.Marshal(d)
	s.RUnlock()
	if !jsonEq(final, want) {
		t.Fatalf("published %s\nwant %s", final, want)
	}
	if cur := applyFrames(t, start, sub.frames); !jsonEq(cur, final) {
		t.Fatalf("patches chained give %s\nwant %s", cur, final)
	}
}

// ---------------------------------------------------------------------------
// 11. Client writes: a List field against a slice field of the same elements.

type atkWrite struct {
	L List[int] `sync:"l,write" json:"l"`
	S []int     `sync:"s,write" json:"s"`
}

func TestListAttackClientWriteNullElement(t *testing.T) {
	d := &atkWrite{L: NewList(1, 2), S: []int{1, 2}}
	s, err := Register(NewSession(), "K", d)
	if err != nil {
		t.Fatal(err)
	}
	errS := s.o.clientPatch(nil, json.RawMessage(`[{"op":"add","path":"/s/-","value":null}]`), 1<<20)
	errL := s.o.clientPatch(nil, json.RawMessage(`[{"op":"add","path":"/l/-","value":null}]`), 1<<20)
	got, _ := s.Published()
	t.Logf("slice field: %v; List field: %v; published %s", errS, errL, got)
	if (errS == nil) != (errL == nil) {
		t.Errorf("godoc: \"client writes to it work as to a slice field\": null element into []int: %v, into List[int]: %v", errS, errL)
	}
}

type atkWriteV struct {
	L List[int] `sync:"l,write" json:"l" validate:"max=2"`
	S []int     `sync:"s,write" json:"s" validate:"max=2"`
}

func TestListAttackClientWriteValidateTag(t *testing.T) {
	d := &atkWriteV{L: NewList(1), S: []int{1}}
	s, err := Register(NewSession(), "K", d)
	if err != nil {
		t.Fatal(err)
	}
	errS := s.o.clientPatch(nil, json.RawMessage(`[{"op":"add","path":"/s/-","value":5}]`), 1<<20)
	errL := s.o.clientPatch(nil, json.RawMessage(`[{"op":"add","path":"/l/-","value":5}]`), 1<<20)
	t.Logf("validate:\"max=2\", 2 elements: slice %v; List %v", errS, errL)
	if (errS == nil) != (errL == nil) {
		t.Errorf("validate tag max=2 with 2 elements: slice field %v, List field %v", errS, errL)
	}
	errS = s.o.clientPatch(nil, json.RawMessage(`[{"op":"add","path":"/s/-","value":5}]`), 1<<20)
	errL = s.o.clientPatch(nil, json.RawMessage(`[{"op":"add","path":"/l/-","value":5}]`), 1<<20)
	t.Logf("validate:\"max=2\", 3 elements: slice %v; List %v", errS, errL)
	var e *Error
	if !errors.As(errL, &e) || e.Code != CodeRejected || e.Path != "/l" || errS == nil {
		t.Errorf("validate tag max=2 with 3 elements: slice field %v, List field %v; want both rejected, the List at /l", errS, errL)
	}
	sc, err := s.o.schema()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sc.State.Properties {
		if b, _ := json.Marshal(p.Schema); p.Name == "l" && !strings.Contains(string(b), `"maxItems":2`) {
			t.Errorf("schema of the List field %s: no maxItems", b)
		}
	}
}

// A client write into a List, then List changes, then another client write, with the
// published patches checked throughout.
func TestListAttackClientWriteThenChanges(t *testing.T) {
	d := &atkWrite{L: NewList(1, 2, 3)}
	h := newAtk(t, d)
	for i, op := range []string{
		`[{"op":"replace","path":"/l/1","value":20}]`,
		`[{"op":"remove","path":"/l/0"},{"op":"add","path":"/l/0","value":7}]`,
		`[{"op":"move","from":"/l/0","path":"/l/-"}]`,
		`[{"op":"replace","path":"/l","value":[]}]`,
		`[{"op":"add","path":"/l/0","value":1}]`,
	} {
		if err := h.s.o.clientPatch(nil, json.RawMessage(op), 1<<20); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		h.sync(fmt.Sprintf("after write %d", i)) // the write published already: nothing new
		h.do(func() { d.L.Append(100 + i); d.L.Set(0, -i) })
		h.sync(fmt.Sprintf("List change after write %d", i))
	}
}

// ---------------------------------------------------------------------------
// 12. Schema.

func TestListAttackSchema(t *testing.T) {
	b := newSchemaBuilder()
	for typ, want := range map[reflect.Type]string{
		reflect.TypeFor[List[List[int]]](): `{"type":"array","items":{"type":"array","items":{"type":"integer"`,
		reflect.TypeFor[*List[int]]():      `{"type":["array","null"],"items":{"type":"integer"`,
	} {
		out, _ := json.Marshal(b.typeSchema(typ))
		if !strings.HasPrefix(string(out), want) {
			t.Errorf("%v: %s, want %s...", typ, out, want)
		}
	}
}
