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

	jsonpatch "github.com/evanphx/json-patch/v5"
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
}

var listTexts = []string{"", "a", "<b>&amp;</b>", "\u2028 line", "é 日 𝄞", `q"uo\te`, "\x00ctl", "bad \xff utf8", "long " + strings.Repeat("x", 40)}

func randomText(r *rand.Rand) string { return listTexts[r.IntN(len(listTexts))] }

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
	}
}

// runListSteps registers a listState, applies steps rounds of random mutations and
// checks every published patch and state; it returns how many patches used the cache.
func runListSteps(t *testing.T, r *rand.Rand, steps int) (cached int) {
	t.Helper()
	st := &listState{}
	for range listCacheMin + r.IntN(50) {
		st.Items = append(st.Items, randomListItem(r))
		st.Tags = append(st.Tags, randomText(r))
		st.Nums = append(st.Nums, int32(r.IntN(50)))
	}
	sess := NewSession()
	defer sess.Close()
	s, err := Register(sess, "K", st)
	if err != nil {
		t.Fatal(err)
	}
	sub := &capture{}
	s.o.subscribe(sub)
	prev, _ := s.Published()
	for step := range steps {
		s.Lock()
		for range 1 + r.IntN(3) {
			mutateList(r, st)
		}
		want, err := json.Marshal(st)
		s.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		before := len(sub.frames)
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		next, _ := s.Published()
		if !bytes.Equal(next, want) {
			t.Fatalf("step %d: published\n %s\nwant json.Marshal\n %s", step, next, want)
		}
		checkListCaches(t, s.o)
		for _, c := range s.o.lists {
			if c != nil && c.ops {
				cached++
			}
		}
		if len(sub.frames) == before {
			if !bytes.Equal(prev, next) {
				t.Fatalf("step %d: state changed but nothing was published", step)
			}
			continue
		}
		var f struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(sub.frames[len(sub.frames)-1], &f); err != nil {
			t.Fatal(err)
		}
		p, err := jsonpatch.DecodePatch(f.Data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Apply(prev)
		if err != nil {
			t.Fatalf("step %d: patch %s does not apply: %v", step, f.Data, err)
		}
		if !jsonEq(got, next) {
			t.Fatalf("step %d: patch %s\n gives %s\n want  %s", step, f.Data, got, next)
		}
		prev = next
	}
	return cached
}

// Over random slice mutations (in-place edits, new strings of the same text, padding,
// appends, removals, inserts, truncation, nil and empty, reslicing that shares the
// backing array), every published patch applied to the previous published state gives
// the new one, and the published state is json.Marshal of the struct.
func TestListCachePatchesApplyExactly(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 17))
	cached := 0
	for range 20 {
		cached += runListSteps(t, r, 60)
	}
	if cached < 300 {
		t.Fatalf("only %d patches came from the list cache", cached)
	}
}

// A slice the cache cannot trust to encode by its memory alone keeps the whole encode.
func TestListCacheEligibility(t *testing.T) {
	t.Parallel()
	type withPtr struct{ P *int }
	type withMarshaler struct{ T time.Time }
	type withMap struct{ M map[string]int }
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
		{[]withPtr{}, false},
		{[]withMarshaler{}, false},
		{[]withMap{}, false},
		{[][]int{}, false},
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
		var f struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(sub.frames[len(sub.frames)-1], &f); err != nil {
			t.Fatal(err)
		}
		if string(f.Data) != step.want {
			t.Errorf("patch %s, want %s", f.Data, step.want)
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
