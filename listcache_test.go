package wssync

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// listItem has padding after OK and after Small, which the memory comparison sees.
type listItem struct {
	OK    bool     `json:"ok"`
	ID    int64    `json:"id"`
	Name  string   `json:"name,omitempty"`
	Small int16    `json:"small"`
	Score float64  `json:"score"`
	Pair  [2]uint8 `json:"pair"`
	In    struct {
		Note string `json:"note"`
		N    int32  `json:"n,string"`
	} `json:"in"`
}

type listState struct {
	Title string     `sync:"title" json:"title"`
	Items []listItem `sync:"items" json:"items"`
	Tags  []string   `sync:"ta/gs" json:"ta/gs"`
	Nums  []int32    `sync:"nums" json:"nums"`
	Raw   []byte     `sync:"raw" json:"raw"` // base64: never cached
	Empty []struct{} `sync:"empty" json:"empty"`

	Nested []nestedItem `sync:"nested" json:"nested"` // elements holding slices, maps and pointers
	Ptrs   []*listItem  `sync:"ptrs" json:"ptrs"`
}

type nestedDetail struct {
	Note  string  `json:"note"`
	Score float64 `json:"score"`
	Codes []int16 `json:"codes,omitempty"`
}

// nestedItem holds every kind of reference the list cache follows, with the tag options
// that make nil, empty and zero encode differently.
type nestedItem struct {
	ID     int            `json:"id"`
	Tags   []string       `json:"tags"`
	Opt    []int          `json:"opt,omitempty"`
	Zero   []string       `json:"zero,omitzero"`
	Attrs  map[string]int `json:"attrs"`
	Detail *nestedDetail  `json:"detail"`
	OptPtr *nestedDetail  `json:"optptr,omitempty"`
	Inner  struct {
		Labels []string                `json:"labels"`
		M      map[string]nestedDetail `json:"m,omitempty"`
	} `json:"inner,omitzero"`
	Pairs [2][]uint8          `json:"pairs"` // an array of references; []uint8 encodes as base64
	Grid  [][]int32           `json:"grid"`
	Lists map[string][]string `json:"lists"`
	note  []string            // unexported: never encoded
}

var listTexts = []string{"", "a", "<b>&amp;</b>", "\u2028 line", "é 日 𝄞", `q"uo\te`, "\x00ctl", "bad \xff utf8", "long " + strings.Repeat("x", 40)}

func randomText(r *rand.Rand) string { return listTexts[r.IntN(len(listTexts))] }

func randomTexts(r *rand.Rand) []string {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	out := make([]string, 1+r.IntN(3), 4) // spare capacity: appends may write in place
	for i := range out {
		out[i] = randomText(r)
	}
	return out
}

func randomDetail(r *rand.Rand) *nestedDetail {
	if r.IntN(4) == 0 {
		return nil
	}
	d := &nestedDetail{Note: randomText(r), Score: float64(r.IntN(20)) / 4}
	if r.IntN(2) == 0 {
		d.Codes = []int16{int16(r.IntN(9)), -1}
	}
	return d
}

func randomNested(r *rand.Rand) nestedItem {
	it := nestedItem{ID: r.IntN(1000), Tags: randomTexts(r), Zero: randomTexts(r), Detail: randomDetail(r), OptPtr: randomDetail(r)}
	if r.IntN(3) > 0 {
		it.Opt = []int{r.IntN(5)}
	}
	if r.IntN(4) > 0 {
		it.Attrs = map[string]int{}
		for range r.IntN(4) {
			it.Attrs[randomKey(r)] = r.IntN(9)
		}
	}
	it.Inner.Labels = randomTexts(r)
	if r.IntN(3) == 0 {
		it.Inner.M = map[string]nestedDetail{randomKey(r): {Note: randomText(r)}}
	}
	it.Pairs[r.IntN(2)] = []uint8{uint8(r.IntN(256)), 0}
	if r.IntN(2) == 0 {
		it.Grid = [][]int32{{1, 2}, nil, {}}
	}
	if r.IntN(2) == 0 {
		it.Lists = map[string][]string{"a": randomTexts(r), "b": randomTexts(r)}
	}
	return it
}

// mutateNested makes one random change to the elements' references: in-place edits of
// nested slices, maps and pointer targets, backing arrays and pointers shared between
// elements, nil and empty flips, map adds and deletes, and changes to the list itself.
func mutateNested(r *rand.Rand, s *listState) {
	n := len(s.Nested)
	if n == 0 {
		s.Nested = append(s.Nested, randomNested(r))
		return
	}
	it := &s.Nested[r.IntN(n)]
	other := &s.Nested[r.IntN(n)]
	switch r.IntN(24) {
	case 0: // in place
		if len(it.Tags) > 0 {
			it.Tags[r.IntN(len(it.Tags))] = randomText(r)
		}
	case 1: // may write into capacity another element's slice shares
		it.Tags = append(it.Tags, randomText(r))
	case 2: // share a backing array, or a prefix of it
		it.Tags = other.Tags
		if len(other.Tags) > 0 && r.IntN(2) == 0 {
			it.Tags = other.Tags[:r.IntN(len(other.Tags))]
		}
	case 3:
		it.Tags, it.Opt = randomTexts(r), nil
		if r.IntN(2) == 0 {
			it.Opt = []int{}
		}
	case 4: // nil and empty flips
		switch {
		case it.Zero == nil:
			it.Zero = []string{}
		case len(it.Zero) == 0:
			it.Zero = nil
		default:
			it.Zero = it.Zero[:0]
		}
	case 5: // map add, replace, delete
		if it.Attrs == nil {
			it.Attrs = map[string]int{}
		}
		it.Attrs[randomKey(r)] = r.IntN(3)
	case 6:
		for k := range it.Attrs {
			delete(it.Attrs, k)
			break
		}
		if r.IntN(3) == 0 {
			it.Attrs = nil
		}
	case 7: // a shared map
		it.Attrs = other.Attrs
	case 8: // the pointer target, in place
		if it.Detail != nil {
			it.Detail.Score += 0.25
		}
	case 9: // a shared pointer
		it.Detail = other.Detail
	case 10: // nil flips, and a new target of the same value
		switch {
		case it.Detail == nil:
			it.Detail = &nestedDetail{}
		case r.IntN(2) == 0:
			it.Detail = nil
		default:
			d := *it.Detail
			it.Detail = &d
		}
	case 11: // through a pointer, into a nested slice
		if it.Detail != nil && len(it.Detail.Codes) > 0 {
			it.Detail.Codes[0]++
		} else if it.OptPtr != nil {
			it.OptPtr.Codes = append(it.OptPtr.Codes, 3)
		}
	case 12:
		it.OptPtr = randomDetail(r)
	case 13: // nested struct's slice and map
		if len(it.Inner.Labels) > 0 {
			it.Inner.Labels[0] += "!"
		} else {
			it.Inner.Labels = append(it.Inner.Labels, "l")
		}
	case 14:
		if it.Inner.M == nil {
			it.Inner.M = map[string]nestedDetail{}
		}
		it.Inner.M[randomKey(r)] = nestedDetail{Score: float64(r.IntN(3)), Codes: []int16{}}
	case 15: // base64 bytes, in place
		if len(it.Pairs[0]) > 0 {
			it.Pairs[0][0]++
		} else {
			it.Pairs[0] = []uint8{}
		}
	case 16:
		it.Pairs[1], it.Grid = other.Pairs[0], other.Grid
	case 17: // a slice of slices, in place and flipped
		switch {
		case len(it.Grid) > 0 && len(it.Grid[0]) > 0:
			it.Grid[0][0] = int32(r.IntN(9)) - 4
		case len(it.Grid) > 0:
			it.Grid[0] = []int32{}
		default:
			it.Grid = [][]int32{nil}
		}
	case 18: // a map of slices: the value's elements, in place
		if len(it.Lists["a"]) > 0 {
			it.Lists["a"][0] = randomText(r)
		} else if it.Lists != nil {
			it.Lists["a"] = []string{"x"}
		} else {
			it.Lists = map[string][]string{}
		}
	case 19: // an element copied: every reference shared
		*it = *other
	case 20: // unexported: not encoded, nothing to publish
		it.note = append(it.note, "n")
	case 21:
		s.Nested = append(s.Nested, randomNested(r))
	case 22:
		i := r.IntN(n)
		s.Nested = slices.Delete(s.Nested, i, i+1)
	case 23:
		s.Nested = slices.Insert(s.Nested, r.IntN(n+1), randomNested(r))
	}
	mutatePtrs(r, s)
}

// mutatePtrs changes the list of pointers: through them in place, sharing, nil elements.
func mutatePtrs(r *rand.Rand, s *listState) {
	n := len(s.Ptrs)
	if n == 0 {
		return
	}
	i, j := r.IntN(n), r.IntN(n)
	switch r.IntN(6) {
	case 0:
		if s.Ptrs[i] != nil {
			s.Ptrs[i].Score++
		}
	case 1:
		s.Ptrs[i] = s.Ptrs[j]
	case 2:
		s.Ptrs[i] = nil
	case 3:
		it := randomListItem(r)
		s.Ptrs = append(s.Ptrs, &it)
	case 4:
		s.Ptrs = slices.Delete(s.Ptrs, i, i+1)
	}
}

func randomListItem(r *rand.Rand) listItem {
	it := listItem{OK: r.IntN(2) == 0, ID: r.Int64N(1 << 40), Name: randomText(r), Small: int16(r.IntN(300)), Score: float64(r.IntN(1000)) / 8}
	it.Pair = [2]uint8{uint8(r.IntN(256)), uint8(r.IntN(256))}
	it.In.Note, it.In.N = randomText(r), int32(r.IntN(100))
	return it
}

// scribblePadding writes random bytes into the padding of it: equal values, unequal memory.
func scribblePadding(r *rand.Rand, it *listItem) {
	p := unsafe.Pointer(it)
	*(*byte)(unsafe.Add(p, unsafe.Offsetof(it.OK)+1)) = byte(r.IntN(256))
	*(*byte)(unsafe.Add(p, unsafe.Offsetof(it.Small)+2)) = byte(r.IntN(256))
}

// mutateList makes one random change of the kinds the cache must see through.
func mutateList(r *rand.Rand, s *listState) {
	n := len(s.Items)
	at := func() int { return r.IntN(max(n, 1)) }
	switch r.IntN(19) {
	case 0: // an in-place scalar edit
		if n > 0 {
			s.Items[at()].Score += 1
		}
	case 1: // the same text in a new string
		if n > 0 {
			it := &s.Items[at()]
			it.Name = strings.Clone(it.Name + "")
			it.Name = string([]byte(it.Name))
		}
	case 2: // other text
		if n > 0 {
			s.Items[at()].In.Note = randomText(r)
		}
	case 3:
		s.Items = append(s.Items, randomListItem(r))
	case 4: // several appended
		for range 1 + r.IntN(min(80, 400-min(n, 399))) {
			s.Items = append(s.Items, randomListItem(r))
		}
	case 5:
		if n > 0 {
			i := at()
			s.Items = slices.Delete(s.Items, i, i+1)
		}
	case 6:
		if n > 0 {
			s.Items = s.Items[1:] // shares the backing array
		}
	case 7:
		if n > 0 {
			s.Items = s.Items[:n-1] // the next append overwrites the dropped element in place
		}
	case 8:
		s.Items = slices.Insert(s.Items, r.IntN(n+1), randomListItem(r))
	case 9: // truncate, possibly below the cache's minimum
		s.Items = s.Items[:r.IntN(n+1)]
	case 10:
		if r.IntN(2) == 0 {
			s.Items = nil
		} else {
			s.Items = []listItem{}
		}
	case 11:
		if n > 0 {
			scribblePadding(r, &s.Items[at()])
		}
	case 12: // many scattered edits: past the op budget
		for range 1 + r.IntN(100) {
			if n > 0 {
				s.Items[at()].ID++
			}
		}
	case 13:
		if n > 1 {
			i, j := at(), at()
			s.Items[i], s.Items[j] = s.Items[j], s.Items[i]
		}
	case 14: // grow back past the minimum
		for len(s.Items) < listCacheMin+r.IntN(40) {
			s.Items = append(s.Items, randomListItem(r))
		}
	case 15:
		if len(s.Tags) > 0 && r.IntN(2) == 0 {
			s.Tags[r.IntN(len(s.Tags))] = randomText(r)
		} else {
			s.Tags = slices.Insert(s.Tags, r.IntN(len(s.Tags)+1), randomText(r))
		}
	case 16:
		if len(s.Nums) > 0 {
			i := r.IntN(len(s.Nums))
			s.Nums = slices.Delete(s.Nums, i, min(len(s.Nums), i+1+r.IntN(3)))
		}
		s.Nums = append(s.Nums, int32(r.IntN(9)))
	case 17:
		s.Raw = append(s.Raw, byte(r.IntN(256)))
		s.Empty = s.Empty[:r.IntN(len(s.Empty)+1)]
		for range r.IntN(50) {
			s.Empty = append(s.Empty, struct{}{})
		}
	case 18: // a removal and an edit in one sync
		if n > 2 {
			s.Items = slices.Delete(s.Items, 0, 1)
			s.Items[len(s.Items)-1].Small++
		}
	}
	if r.IntN(3) > 0 {
		mutateNested(r, s)
	}
}

// checkListCaches checks the caches' invariants: a valid cache's encoding is the
// encoding of its element copy, split where its offsets say.
func checkListCaches(t *testing.T, o *object) {
	t.Helper()
	for i, c := range o.lists {
		if c == nil || !c.valid {
			continue
		}
		want, err := json.Marshal(c.shadow.Interface())
		if err != nil || !bytes.Equal(want, c.full) {
			t.Fatalf("field %s: cache encoding %s, elements encode as %s (%v)", o.fields[i].wire, c.full, want, err)
		}
		if off := splitArray(nil, c.full, c.shadow.Len()); !slices.Equal(off, c.off) || len(off) != c.shadow.Len()+1 {
			t.Fatalf("field %s: offsets %v, want %v", o.fields[i].wire, c.off, off)
		}
		if kept, err := json.Marshal(keptValue(c).Interface()); err != nil || !bytes.Equal(kept, c.full) {
			t.Fatalf("field %s: cache encoding %s, kept copies encode as %s (%v)", o.fields[i].wire, c.full, kept, err)
		}
	}
}

// runListSteps registers a listState, applies steps rounds of random mutations and
// checks every published patch and state; it returns how many patches used the cache,
// and how many of them a cache of elements with references (nested, ptrs).
func runListSteps(t *testing.T, r *rand.Rand, steps int) (cached, deep int) {
	t.Helper()
	st := &listState{}
	for range listCacheMin + r.IntN(50) {
		st.Items = append(st.Items, randomListItem(r))
		st.Tags = append(st.Tags, randomText(r))
		st.Nums = append(st.Nums, int32(r.IntN(50)))
		st.Nested = append(st.Nested, randomNested(r))
		if it := randomListItem(r); r.IntN(8) > 0 {
			st.Ptrs = append(st.Ptrs, &it)
		} else {
			st.Ptrs = append(st.Ptrs, nil)
		}
	}
	runSyncSteps(t, st, steps, func() {
		for range 1 + r.IntN(3) {
			mutateList(r, st)
		}
	}, func(o *object) {
		checkListCaches(t, o)
		for _, c := range o.lists {
			if c != nil && c.ops {
				cached++
				if len(c.plan.refs) > 0 {
					deep++
				}
			}
		}
	})
	return cached, deep
}

// Over random slice mutations (in-place edits, new strings of the same text, padding,
// appends, removals, inserts, truncation, nil and empty, reslicing that shares the
// backing array), and random changes to elements' nested slices, maps and pointers (see
// mutateNested), every published patch applied to the previous published state gives the
// new one, the published state is json.Marshal of the struct, and each cache's kept
// copies encode as its encoding.
func TestListCachePatchesApplyExactly(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 17))
	cached, deep := 0, 0
	for range 20 {
		c, d := runListSteps(t, r, 60)
		cached, deep = cached+c, deep+d
	}
	if cached < 300 || deep < 300 {
		t.Fatalf("only %d patches came from the list cache, %d from one of elements with references", cached, deep)
	}
}

// A slice the cache cannot trust to encode as a function of its value (user methods,
// interfaces, funcs, chans, non-string map keys, recursive types) keeps the whole encode.
func TestListCacheEligibility(t *testing.T) {
	t.Parallel()
	type withPtr struct{ P *int }
	type withMarshaler struct{ T time.Time }
	type withMap struct{ M map[string]int }
	type withIntKeys struct{ M map[int]string }
	type withAnyMap struct{ M map[string]any }
	type withTimePtr struct{ T *time.Time }
	type withFunc struct{ F func() }
	type withHiddenFunc struct {
		f  func()   //lint:ignore U1000 unexported: never encoded, in memory only
		ch chan int //lint:ignore U1000 likewise
		I  int
		A  any `json:"-"`
	}
	type recursive struct{ Next *recursive }
	// With GOEXPERIMENT=jsonv2, json.Number encodes through a MarshalJSONTo of its own.
	_, numberMarshals := reflect.TypeFor[json.Number]().MethodByName("MarshalJSONTo")
	tests := []struct {
		v    any
		want bool
	}{
		{[]int{}, true},
		{[]string{}, true},
		{[]listItem{}, true},
		{[][3]float32{}, true},
		{[]struct{}{}, true},
		{[]byte{}, false},
		{[]any{}, false},
		{[]withPtr{}, true},
		{[]withMarshaler{}, false},
		{[]withMap{}, true},
		{[][]int{}, true},
		{[][]byte{}, true},
		{[]*listItem{}, true},
		{[]nestedItem{}, true},
		{[]map[string][]int{}, true},
		{[]withIntKeys{}, false},
		{[]withAnyMap{}, false},
		{[]withTimePtr{}, false},
		{[]withFunc{}, false},
		{[]withHiddenFunc{}, true},
		{[]recursive{}, false},
		{[]complex128{}, false},
		{[][64][]int{}, true},
		{[][65][]int{}, false},
		{[]json.Number{}, !numberMarshals},
		{json.RawMessage{}, false},
		{[]time.Duration{}, true},
		{[]time.Time{}, false},
		{[1]int{}, false},
	}
	for _, tt := range tests {
		if got := newListCache(reflect.TypeOf(tt.v)) != nil; got != tt.want {
			t.Errorf("%T: cached %v, want %v", tt.v, got, tt.want)
		}
	}
}

// One changed element of a long list is published as an op on that element alone, an
// append as an add at the end, a removal as a remove.
func TestListCacheOps(t *testing.T) {
	t.Parallel()
	st := &listState{}
	for i := range 100 {
		st.Nums = append(st.Nums, int32(i))
	}
	s, err := Register(NewSession(), "K", st)
	if err != nil {
		t.Fatal(err)
	}
	sub := &capture{}
	s.o.subscribe(sub)
	steps := []struct {
		edit func()
		want string
	}{
		{func() { st.Nums[40] = -1 }, `[{"op":"replace","path":"/nums/40","value":-1}]`},
		{func() { st.Nums = append(st.Nums, 7) }, `[{"op":"add","path":"/nums/100","value":7}]`},
		{func() { st.Nums = slices.Delete(st.Nums, 50, 51) }, `[{"op":"remove","path":"/nums/50"}]`},
		{func() { st.Nums = slices.Insert(st.Nums, 3, 9, 9) }, `[{"op":"add","path":"/nums/3","value":9},{"op":"add","path":"/nums/4","value":9}]`},
	}
	for _, step := range steps {
		s.Lock()
		step.edit()
		s.Unlock()
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		if data := frameData(t, sub.frames[len(sub.frames)-1]); string(data) != step.want {
			t.Errorf("patch %s, want %s", data, step.want)
		}
	}
}

// FuzzListCache runs the random mutations from a fuzzed seed.
func FuzzListCache(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(99), uint64(7))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		runListSteps(t, rand.New(rand.NewPCG(a, b)), 4) // few steps per input: make fuzz runs 50,000 of them
	})
}

// A new string of the same text, or other padding bytes, differs in memory but not in
// encoding: nothing is published.
func TestListCacheEqualEncodingPublishesNothing(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	st := &listState{}
	for range 2 * listCacheMin {
		st.Items = append(st.Items, randomListItem(r))
	}
	s, err := Register(NewSession(), "K", st)
	if err != nil {
		t.Fatal(err)
	}
	sub := &capture{}
	s.o.subscribe(sub)
	_, v := s.Published()
	s.Lock()
	st.Items[5].Name = string([]byte(st.Items[5].Name + "x"))[:len(st.Items[5].Name)]
	scribblePadding(r, &st.Items[9])
	s.Unlock()
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, v2 := s.Published(); v2 != v || len(sub.frames) != 0 {
		t.Fatalf("published %d frames (version %d, was %d)", len(sub.frames), v2, v)
	}
	checkListCaches(t, s.o)
}
