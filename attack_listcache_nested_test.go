package wssync

import (
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

type sharedItem struct {
	ID   int               `json:"id"`
	Tags []string          `json:"tags"`
	Opt  []string          `json:"opt,omitempty"`
	Zero []string          `json:"zero,omitzero"`
	M    map[string]int    `json:"m"`
	P    *nestedDetail     `json:"p"`
	OP   *nestedDetail     `json:"op,omitempty"`
	F    []float64         `json:"f"`
	Deep map[string][]byte `json:"deep"`
}

type sharedState struct {
	Items []sharedItem `sync:"items" json:"items"`
}

func newSharedState() *sharedState {
	st := &sharedState{Items: make([]sharedItem, 40)}
	for i := range st.Items {
		st.Items[i].ID = i
	}
	return st
}

// Edits that leave every element's own memory as it was: the change is in what the
// elements refer to, through a backing array or a pointer one or several elements share.
func TestAttackListCacheNestedAliasing(t *testing.T) {
	st := newSharedState()
	arr := make([]string, 2, 8)
	st.Items[3].Tags, st.Items[30].Tags = arr[:1], arr[:2]
	d := &nestedDetail{Codes: []int16{1}}
	st.Items[5].P, st.Items[25].P = d, d
	m := map[string]int{"a": 1}
	st.Items[6].M, st.Items[36].M = m, m
	c := newListChecker(t, st)
	c.step("in place through a shared array", func() { arr[0] = "x" })
	c.step("in place, seen by the longer slice only", func() { arr[1] = "y" })
	c.step("append into shared capacity overwrites the other's element", func() {
		st.Items[3].Tags = append(st.Items[3].Tags, "z") // arr[1] = "z": Items[30] changes too
	})
	c.step("append past the other's length: its slice does not see it", func() {
		st.Items[30].Tags = st.Items[30].Tags[:2]
		st.Items[3].Tags = append(st.Items[3].Tags, "w") // arr[2]
	})
	c.step("reslice to the same array, longer", func() { st.Items[30].Tags = arr[:3] })
	c.step("through a shared pointer", func() { d.Score = 2 })
	c.step("through a shared pointer into its slice", func() { d.Codes[0] = 9 })
	c.step("a shared map gains a key", func() { m["b"] = 2 })
	c.step("a shared map: delete one and add another, same length", func() { delete(m, "a"); m["c"] = 3 })
	c.step("a shared map value changes", func() { m["c"] = 4 })
	c.step("elements copied whole, then edited in place through one", func() {
		st.Items[10] = st.Items[30]
		arr[0] = "q"
	})
	c.step("the array freed from one element, still held by another", func() {
		st.Items[3].Tags = nil
		arr[1] = "r"
	})
	if lc := c.s.o.lists[0]; !lc.valid || !lc.ops {
		t.Fatal("the steps did not go through the list cache")
	}
}

// nil, empty and zero encode differently (null, [] and {}), with and without omitempty
// and omitzero; -0 differs from 0 inside references too.
func TestAttackListCacheNestedNilEmpty(t *testing.T) {
	st := newSharedState()
	c := newListChecker(t, st)
	steps := []struct {
		name string
		edit func(it *sharedItem)
	}{
		{"nil to empty slice", func(it *sharedItem) { it.Tags = []string{} }},
		{"empty to nil slice", func(it *sharedItem) { it.Tags = nil }},
		{"omitempty: nil to empty, same encoding", func(it *sharedItem) { it.Opt = []string{} }},
		{"omitempty: empty to one", func(it *sharedItem) { it.Opt = append(it.Opt, "o") }},
		{"omitempty: one to empty in place", func(it *sharedItem) { it.Opt = it.Opt[:0] }},
		{"omitzero: nil to empty", func(it *sharedItem) { it.Zero = []string{} }},
		{"omitzero: empty to nil", func(it *sharedItem) { it.Zero = nil }},
		{"nil to empty map", func(it *sharedItem) { it.M = map[string]int{} }},
		{"empty map to one key", func(it *sharedItem) { it.M[""] = 0 }},
		{"map emptied in place", func(it *sharedItem) { clear(it.M) }},
		{"nil map", func(it *sharedItem) { it.M = nil }},
		{"nil to zero pointer", func(it *sharedItem) { it.P = &nestedDetail{} }},
		{"pointer to a new equal target", func(it *sharedItem) { it.P = &nestedDetail{} }},
		{"pointer's nil slice to empty", func(it *sharedItem) { it.P.Codes = []int16{} }}, // omitempty: same
		{"pointer to nil", func(it *sharedItem) { it.P = nil }},
		{"omitempty pointer", func(it *sharedItem) { it.OP = &nestedDetail{} }},
		{"zero floats", func(it *sharedItem) { it.F = []float64{0, 0} }},
		{"negative zero in place", func(it *sharedItem) { it.F[1] = math.Copysign(0, -1) }},
		{"back to zero", func(it *sharedItem) { it.F[1] = 0 }},
		{"map of bytes: nil value, empty value", func(it *sharedItem) { it.Deep = map[string][]byte{"n": nil, "e": {}} }},
		{"map's byte value edited in place", func(it *sharedItem) { it.Deep["e"] = append(it.Deep["e"], 1); it.Deep["e"][0] = 2 }},
	}
	for _, s := range steps {
		c.step(s.name, func() { s.edit(&st.Items[17]) })
	}
}

// A map's iteration order is random and encoding/json sorts its keys: a map rebuilt in
// another order, or grown and shrunk back, encodes as it did and publishes nothing.
func TestAttackListCacheNestedMapOrder(t *testing.T) {
	st := newSharedState()
	st.Items[2].M = map[string]int{}
	for i := range 300 {
		st.Items[2].M[strings.Repeat("k", i%7)+string(rune('a'+i%26))+string(rune(0x4e00+i))] = i
	}
	c := newListChecker(t, st)
	frames := len(c.sub.frames)
	c.step("rebuilt in another order", func() {
		m := map[string]int{}
		for k, v := range st.Items[2].M {
			m[k] = v
		}
		st.Items[2].M = m
	})
	c.step("grown and shrunk back", func() {
		for i := range 1000 {
			st.Items[2].M[string(rune(i))+"tmp"] = i
		}
		for i := range 1000 {
			delete(st.Items[2].M, string(rune(i))+"tmp")
		}
	})
	if len(c.sub.frames) != frames {
		t.Fatalf("published %d frames for maps of the same contents", len(c.sub.frames)-frames)
	}
	c.step("one value among 300", func() {
		for k := range st.Items[2].M {
			st.Items[2].M[k]++
			break
		}
	})
}

// Memory the cache would keep beyond its budget: elements whose encoding is tiny next to
// what a copy holds. The field takes the whole-field path (still exact) and the cache stays
// off for listBackoff snapshots.
type heavyItem struct {
	ID   int             `json:"id"`
	Pad  [512]byte       `json:"-"`
	Big  map[string]bool `json:"big,omitempty"`
	Hide []int           `json:"-"`
}

type heavyState struct {
	Items []heavyItem `sync:"items" json:"items"`
}

func TestAttackListCacheNestedBudget(t *testing.T) {
	st := &heavyState{Items: make([]heavyItem, 200)} // ~100 KiB of elements, ~2 KiB of JSON
	c := newListChecker(t, st)
	lc := c.s.o.lists[0]
	if lc == nil || lc.valid || lc.skip != listBackoff {
		t.Fatalf("cache kept past its budget: %+v", lc)
	}
	for i := range listBackoff + 2 {
		c.step("edit while over budget", func() { st.Items[i%200].ID = i })
		if lc.valid || lc.keeps() > 0 {
			t.Fatalf("step %d: the cache keeps %d bytes", i, lc.keeps())
		}
	}
	// A list whose copies fit: maps of real content.
	big := &sharedState{Items: make([]sharedItem, 100)}
	for i := range big.Items {
		big.Items[i].M = map[string]int{"alpha": i, "beta": -i}
		big.Items[i].Tags = []string{"one", "two"}
	}
	c2 := newListChecker(t, big)
	lc2 := c2.s.o.lists[0]
	full, _ := c2.s.Published()
	if !lc2.valid || lc2.keeps() > listKeepRatio*len(full)+listKeepSlack {
		t.Fatalf("valid %v, keeps %d for a %d-byte state", lc2.valid, lc2.keeps(), len(full))
	}
	c2.step("edit in a map", func() { big.Items[50].M["alpha"] = 7 })
}

// Types that look like they qualify but encode through user code or by more than their
// value are left to the whole encode.
type ptrMarshal struct{ N int }

func (p *ptrMarshal) MarshalJSON() ([]byte, error) { return []byte(`"x"`), nil }

type keyText string

func (k keyText) MarshalText() ([]byte, error) { return []byte("k" + string(k)), nil }

func TestAttackListCacheNestedEligibility(t *testing.T) {
	type deepTime struct{ A []map[string]*time.Time }
	type ptrM struct{ P *ptrMarshal }
	type sliceM struct{ S []ptrMarshal }
	type mapKeyText struct{ M map[keyText]int }
	type mapAny struct{ M map[string][]any }
	type chanHidden struct{ C chan int } // exported chan: encoding/json errors on it
	type zeroInside struct{ P *struct{ S cutoffScore } }
	for _, v := range []any{[]deepTime{}, []ptrM{}, []sliceM{}, []mapKeyText{}, []mapAny{}, []chanHidden{}, []zeroInside{}, []*ptrMarshal{}} {
		if newListCache(reflect.TypeOf(v)) != nil {
			t.Errorf("%T is cached", v)
		}
	}
}

// Goroutines edit nested slices, maps and pointer targets in place under the lock while
// others Sync, under -race: every frame, in order, leads to the final state.
func TestAttackListCacheNestedConcurrent(t *testing.T) {
	st := newSharedState()
	shared := &nestedDetail{}
	for i := range st.Items {
		st.Items[i].Tags = []string{"t"}
		st.Items[i].M = map[string]int{}
		st.Items[i].P = shared
	}
	c := newListChecker(t, st)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				c.s.Lock()
				it := &st.Items[(g*10+i)%len(st.Items)]
				switch i % 4 {
				case 0:
					it.Tags[0] += "x"
				case 1:
					it.M[string(rune('a'+g))] = i
				case 2:
					shared.Score++
				default:
					st.Items = append(st.Items, sharedItem{ID: i, Tags: it.Tags, M: it.M}) // shares both
				}
				c.s.Unlock()
				if err := c.s.Sync(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	checkFramesLeadTo(t, c.prev, c.sub.frames, st, c.s)
}

// An embedded pointer promotes its target's fields, and a nil one drops them: both are
// what the target's kept copy sees.
type EmbeddedDetail struct {
	Where string   `json:"where"`
	Marks []string `json:"marks,omitempty"`
}

type embedItem struct {
	*EmbeddedDetail
	ID int `json:"id"`
}

type embedState struct {
	Items []embedItem `sync:"items" json:"items"`
}

func TestAttackListCacheNestedEmbeddedPointer(t *testing.T) {
	st := &embedState{Items: make([]embedItem, 40)}
	d := &EmbeddedDetail{Where: "a"}
	st.Items[1].EmbeddedDetail, st.Items[2].EmbeddedDetail = d, d
	c := newListChecker(t, st)
	c.step("promoted field through a shared pointer", func() { d.Where = "b" })
	c.step("promoted slice grows", func() { d.Marks = append(d.Marks, "m") })
	c.step("promoted slice edited in place", func() { d.Marks[0] = "n" })
	c.step("nil drops the promoted fields", func() { st.Items[1].EmbeddedDetail = nil })
	c.step("a new target", func() { st.Items[3].EmbeddedDetail = &EmbeddedDetail{} })
	if lc := c.s.o.lists[0]; lc == nil || !lc.valid {
		t.Fatal("not cached")
	}
}
