package wssync

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"unsafe"
)

// keptValue returns the list as the cache kept it: the element copy, with every reference
// pointing to a value rebuilt from its kept copy (and so sharing nothing with the user's).
func keptValue(c *listCache) reflect.Value {
	n := c.shadow.Len()
	out := reflect.MakeSlice(c.shadow.Type(), n, n)
	reflect.Copy(out, c.shadow)
	if nr := len(c.plan.refs); nr > 0 {
		for k := range n {
			rebuildRefs(c.plan, unsafe.Add(out.UnsafePointer(), uintptr(k)*c.size), c.deep[k*nr:(k+1)*nr])
		}
	}
	return out
}

func rebuildRefs(pl *elemPlan, p unsafe.Pointer, kept []keptRef) {
	for i := range pl.refs {
		pl.refs[i].rebuild(unsafe.Add(p, pl.refs[i].off), &kept[i])
	}
}

// rebuild writes into the reference at p a new value made from k.
func (r *refSite) rebuild(p unsafe.Pointer, k *keptRef) {
	dst := reflect.NewAt(r.typ, p).Elem()
	if k.n < 0 {
		dst.SetZero()
		return
	}
	copies := func(n int) reflect.Value { // k's n values, rebuilt
		s := reflect.MakeSlice(r.elem.slice, n, n)
		if n > 0 {
			reflect.Copy(s, reflect.NewAt(r.elem.slice, unsafe.Pointer(&sliceHeader{k.ptr, n, n})).Elem())
		}
		if nr := len(r.elem.refs); nr > 0 {
			for i := range n {
				rebuildRefs(r.elem, unsafe.Add(s.UnsafePointer(), uintptr(i)*r.elem.size), k.kids()[i*nr:(i+1)*nr])
			}
		}
		return s
	}
	switch r.kind {
	case reflect.Slice:
		dst.Set(copies(k.n).Convert(r.typ))
	case reflect.Pointer:
		dst.Set(copies(1).Index(0).Addr())
	default:
		m := reflect.MakeMapWithSize(r.typ, k.n)
		vals := copies(k.n)
		for i, key := range k.more.keys {
			m.SetMapIndex(reflect.ValueOf(key).Convert(r.typ.Key()), vals.Index(i))
		}
		dst.Set(m)
	}
}

type deepProbe struct {
	F   []float64          `json:"f"`
	M   map[string]float64 `json:"m"`
	P   *[2]float32        `json:"p"`
	B   []byte             `json:"b"`
	E   []string           `json:"e,omitempty"`
	Big map[string]int     `json:"big"`
}

// The compare sees what encodes differently and only that: nil against empty, -0 against
// 0 inside references, map contents in any iteration order.
func TestElemPlanEqual(t *testing.T) {
	t.Parallel()
	pl := newElemPlan(reflect.TypeFor[deepProbe]())
	if pl == nil || len(pl.refs) != 6 {
		t.Fatalf("plan %+v", pl)
	}
	big := map[string]int{}
	for i := range 500 {
		big[string(rune('a'+i%26))+string(rune(i))] = i
	}
	base := func() deepProbe {
		return deepProbe{F: []float64{0, 1}, M: map[string]float64{"a": 0, "b": 1}, P: &[2]float32{}, B: []byte{}, E: nil, Big: big}
	}
	negZero := math.Copysign(0, -1)
	tests := []struct {
		name  string
		edit  func(*deepProbe)
		equal bool
	}{
		{"nothing", func(*deepProbe) {}, true},
		{"new slice, same elements", func(d *deepProbe) { d.F = []float64{0, 1} }, true},
		{"new map, same entries", func(d *deepProbe) { d.M = map[string]float64{"b": 1, "a": 0} }, true},
		{"big map rebuilt", func(d *deepProbe) {
			d.Big = map[string]int{}
			for k, v := range big {
				d.Big[k] = v
			}
		}, true},
		{"-0 in a slice", func(d *deepProbe) { d.F[0] = negZero }, false},
		{"-0 in a map", func(d *deepProbe) { d.M["a"] = negZero }, false},
		{"-0 through a pointer", func(d *deepProbe) { d.P[1] = float32(negZero) }, false},
		{"nil slice", func(d *deepProbe) { d.B = nil }, false},
		{"empty to one", func(d *deepProbe) { d.B = []byte{0} }, false},
		{"omitempty nil to empty", func(d *deepProbe) { d.E = []string{} }, false}, // conservative: same encoding
		{"nil map", func(d *deepProbe) { d.M = nil }, false},
		{"empty map", func(d *deepProbe) { d.M = map[string]float64{} }, false},
		{"key swapped, same length", func(d *deepProbe) { delete(d.M, "a"); d.M["c"] = 0 }, false},
		{"nil pointer", func(d *deepProbe) { d.P = nil }, false},
		{"shorter, same array", func(d *deepProbe) { d.F = d.F[:1] }, false},
	}
	for _, tt := range tests {
		d := base()
		kept := make([]keptRef, len(pl.refs))
		pl.keepRefs(unsafe.Pointer(&d), kept)
		if !pl.refsEqual(unsafe.Pointer(&d), kept) {
			t.Fatalf("%s: unequal to its own copy", tt.name)
		}
		tt.edit(&d)
		if got := pl.refsEqual(unsafe.Pointer(&d), kept); got != tt.equal {
			t.Errorf("%s: equal %v, want %v", tt.name, got, tt.equal)
		}
	}
}

// A kept copy shares no memory with the value it copies: an in-place edit of the value
// leaves the copy as it was.
func TestElemPlanKeepCopies(t *testing.T) {
	t.Parallel()
	type item struct {
		Tags []string          `json:"tags"`
		M    map[string][]int  `json:"m"`
		P    *nestedDetail     `json:"p"`
		G    [][]int           `json:"g"`
		Q    map[string]string `json:"q"`
	}
	v := []item{{Tags: []string{"a"}, M: map[string][]int{"x": {1}}, P: &nestedDetail{Codes: []int16{1}}, G: [][]int{{1}}, Q: map[string]string{}}}
	c := newListCache(reflect.TypeOf(v))
	rv := reflect.ValueOf(&v).Elem()
	c.shadow = reflect.MakeSlice(rv.Type(), 1, 1)
	reflect.Copy(c.shadow, rv)
	c.deep = make([]keptRef, len(c.plan.refs))
	c.plan.keepRefs(rv.UnsafePointer(), c.deep)
	want, _ := json.Marshal(v)
	v[0].Tags[0], v[0].M["x"][0], v[0].P.Codes[0], v[0].P.Note, v[0].G[0][0] = "b", 2, 2, "n", 2
	v[0].Q["k"] = "v"
	if got, _ := json.Marshal(keptValue(c).Interface()); string(got) != string(want) {
		t.Fatalf("kept copy encodes as %s, want %s", got, want)
	}
	if c.plan.refsEqual(rv.UnsafePointer(), c.deep) {
		t.Fatal("edited value equals its old copy")
	}
}

// What the cache keeps for the 20,000 items of BenchmarkSync (docs/architecture.md, "The
// list cache"): under 2× the field's encoding, within the budget.
func TestListCacheKeepsForBenchState(t *testing.T) {
	t.Parallel()
	s, err := Register(NewSession(), "K", newBenchState("L"))
	if err != nil {
		t.Fatal(err)
	}
	c := s.o.lists[2]
	full := len(s.o.last[2])
	if c == nil || !c.valid || c.keeps() > 2*full {
		t.Fatalf("keeps %d bytes for a %d-byte encoding", c.keeps(), full)
	}
	t.Logf("keeps %d bytes for a %d-byte encoding (element copy %d, keptRefs %d, copies %d, offsets %d)", c.keeps(), full, c.shadow.Cap()*int(c.size), cap(c.deep)*keptRefSize, c.kept, 8*cap(c.off))
}

// Types nested deeper than planMaxDepth are not followed.
func TestElemPlanDepth(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[int]()
	for range planMaxDepth / 2 {
		typ = reflect.SliceOf(typ)
	}
	if newElemPlan(typ) == nil {
		t.Fatalf("%v has no plan", typ)
	}
	for range planMaxDepth {
		typ = reflect.SliceOf(typ)
	}
	if newElemPlan(typ) != nil {
		t.Fatalf("%v has a plan", typ)
	}
}

// Maps of the common unnamed types are compared without reflect; any other map through
// reflect.MapIter into reused values. Neither allocates.
func TestElemPlanMapCompare(t *testing.T) {
	type maps struct {
		Fast  map[string]int          `json:"fast"`
		Named map[keyName]int         `json:"named"`
		Deep  map[string][]string     `json:"deep"`
		Vals  map[string]nestedDetail `json:"vals"`
	}
	pl := newElemPlan(reflect.TypeFor[maps]())
	if pl == nil || pl.refs[0].fastMap == nil || pl.refs[1].fastMap != nil || pl.refs[2].fastMap != nil {
		t.Fatalf("plan %+v", pl)
	}
	v := maps{Fast: map[string]int{"a": 1, "b": 2}, Named: map[keyName]int{"x": 1}, Deep: map[string][]string{"k": {"v", "w"}, "e": {}}, Vals: map[string]nestedDetail{"d": {Codes: []int16{1}}}}
	kept := make([]keptRef, len(pl.refs))
	pl.keepRefs(unsafe.Pointer(&v), kept)
	if allocs := testing.AllocsPerRun(100, func() {
		if !pl.refsEqual(unsafe.Pointer(&v), kept) {
			t.Fatal("unequal")
		}
	}); allocs != 0 {
		t.Fatalf("%v allocations per compare", allocs)
	}
	v.Deep["k"][1] = "x"
	if pl.refsEqual(unsafe.Pointer(&v), kept) {
		t.Fatal("an in-place edit of a map's slice value went unseen")
	}
}

type keyName string
