package wssync

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"sync"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// listChecker syncs a registered struct and checks, after every Sync, that the published
// state is json.Marshal of the struct and that the published patch turns the previous
// published state into it.
type listChecker[T any] struct {
	t    *testing.T
	s    *Synced[T]
	st   *T
	sub  *capture
	prev []byte
}

func newListChecker[T any](t *testing.T, st *T) *listChecker[T] {
	t.Helper()
	s, err := Register(NewSession(), "K", st)
	if err != nil {
		t.Fatal(err)
	}
	c := &listChecker[T]{t: t, s: s, st: st, sub: &capture{}}
	s.o.subscribe(c.sub)
	c.prev, _ = s.Published()
	return c
}

// step runs edit under the lock, syncs, and checks the result.
func (c *listChecker[T]) step(name string, edit func()) {
	c.t.Helper()
	c.s.Lock()
	edit()
	want, err := json.Marshal(c.st)
	c.s.Unlock()
	if err != nil {
		c.t.Fatal(err)
	}
	before := len(c.sub.frames)
	if err := c.s.Sync(); err != nil {
		c.t.Fatalf("%s: %v", name, err)
	}
	next, _ := c.s.Published()
	if !bytes.Equal(next, want) {
		c.t.Errorf("%s: published\n %s\nwant json.Marshal\n %s", name, next, want)
	}
	if len(c.sub.frames) == before {
		if !bytes.Equal(c.prev, next) {
			c.t.Errorf("%s: state changed but nothing was published", name)
		}
		return
	}
	var f struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(c.sub.frames[len(c.sub.frames)-1], &f); err != nil {
		c.t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(f.Data)
	if err != nil {
		c.t.Fatal(err)
	}
	got, err := p.Apply(c.prev)
	if err != nil || !jsonEq(got, next) {
		c.t.Errorf("%s: patch %s gives %s (%v), want %s", name, f.Data, got, err, next)
	}
	c.prev = next
}

// zeroCutoff is read by cutoffScore.IsZero: an encoding input outside the element's memory.
var zeroCutoff float64

// cutoffScore is omitted (omitzero) while under zeroCutoff.
type cutoffScore float64

func (s cutoffScore) IsZero() bool { return float64(s) < zeroCutoff }

type cutoffItem struct {
	ID    int         `json:"id"`
	Score cutoffScore `json:"score,omitzero"`
}

type cutoffState struct {
	Items []cutoffItem `sync:"items" json:"items"`
}

// omitzero calls a user IsZero method, which may read more than the element's memory:
// such an element is not encoded through the list cache.
func TestAttackListCacheIsZeroMethod(t *testing.T) {
	zeroCutoff = 0
	st := &cutoffState{}
	for i := range 40 {
		st.Items = append(st.Items, cutoffItem{ID: i, Score: cutoffScore(i)})
	}
	c := newListChecker(t, st)
	c.step("cutoff moves, an unrelated element changes", func() {
		zeroCutoff = 10
		st.Items[39].ID = 100
	})
}

// -0.0 and 0 differ in bits and in encoding; NaN fails the encode and must leave a cache
// that rebuilds correctly.
type floatState struct {
	F []float64 `sync:"f" json:"f"`
	G []float32 `sync:"g" json:"g"`
}

func TestAttackListCacheFloats(t *testing.T) {
	st := &floatState{F: make([]float64, 40), G: make([]float32, 40)}
	c := newListChecker(t, st)
	c.step("negative zero", func() { st.F[3] = math.Copysign(0, -1); st.G[4] = float32(math.Copysign(0, -1)) })
	c.step("back to zero", func() { st.F[3] = 0 })
	c.s.Lock()
	st.F[10] = math.NaN()
	c.s.Unlock()
	if err := c.s.Sync(); err == nil {
		t.Fatal("NaN synced without an error")
	}
	c.step("NaN fixed, another edit", func() { st.F[10] = 1; st.F[20] = 2 })
	c.s.Lock()
	st.F = append(st.F, math.Inf(1))
	c.s.Unlock()
	if err := c.s.Sync(); err == nil {
		t.Fatal("Inf synced without an error")
	}
	c.step("Inf dropped", func() { st.F = st.F[:len(st.F)-1]; st.F[0] = 5 })
	c.step("float32 rounding", func() { st.G[1] = 0.1; st.G[2] = 1e21 })
}

// Tag options inside elements: "-", omitempty, omitzero, ",string", embedded structs
// (named and with tags), arrays of structs, generic element types.
type tagInner struct {
	A int  `json:"a,string"`
	B bool `json:",string"`
}

type TagEmbedded struct {
	E  string `json:"e,omitempty"`
	Ov int    `json:"ov"`
}

type tagPair[T any] struct {
	X, Y T
}

type tagItem struct {
	TagEmbedded
	Ov     int                `json:"ov"` // shadows the embedded one
	Skip   int                `json:"-"`
	Z      int                `json:"z,omitzero"`
	S      string             `json:"s,string"`
	F      float64            `json:"f,string,omitempty"`
	In     [2]tagInner        `json:"in"`
	P      tagPair[int8]      `json:"p"`
	U      uintptr            `json:"u"`
	hidden int                //nolint:unused // unexported: not encoded, but in memory
	Arr    [3]tagPair[string] `json:"arr,omitempty"`
}

type tagState struct {
	Items []tagItem `sync:"items" json:"items"`
}

func TestAttackListCacheTags(t *testing.T) {
	st := &tagState{Items: make([]tagItem, 40)}
	c := newListChecker(t, st)
	c.step("skipped field", func() { st.Items[1].Skip = 7 })
	c.step("unexported field", func() { st.Items[2].hidden = 7 })
	c.step("omitzero on", func() { st.Items[4].Z = 1 })
	c.step("omitzero off", func() { st.Items[4].Z = 0 })
	c.step("string option", func() { st.Items[5].S = `a"b<c>`; st.Items[5].F = -0.5 })
	c.step("inner string option", func() { st.Items[6].In[1] = tagInner{A: -3, B: true} })
	c.step("embedded shadowed", func() { st.Items[7].TagEmbedded.Ov = 9; st.Items[7].E = "x" })
	c.step("outer", func() { st.Items[7].Ov = 9 })
	c.step("generic", func() { st.Items[8].P.Y = -128; st.Items[8].Arr[2].X = "é" })
	c.step("uintptr", func() { st.Items[9].U = ^uintptr(0) })
	c.step("array empty again", func() { st.Items[8].Arr = [3]tagPair[string]{} })
	c.step("replace the backing array, same contents", func() { st.Items = append([]tagItem(nil), st.Items...) })
	c.step("append beyond capacity and edit", func() { st.Items = append(st.Items[:len(st.Items):len(st.Items)], tagItem{Z: 3}); st.Items[0].S = "q" })
}

// Two fields share one backing array: an edit through one is an edit of both.
type aliasState struct {
	A []int `sync:"a" json:"a"`
	B []int `sync:"b" json:"b"`
}

func TestAttackListCacheAliasedFields(t *testing.T) {
	st := &aliasState{A: make([]int, 64)}
	st.B = st.A[8:48]
	c := newListChecker(t, st)
	c.step("edit through A", func() { st.A[10] = 1 })
	c.step("edit through B", func() { st.B[30] = 2 })
	c.step("append to B overwrites A", func() { st.B = append(st.B, 3) })
}

// Update from several goroutines and Sync concurrently, under -race.
func TestAttackListCacheConcurrent(t *testing.T) {
	st := &floatState{F: make([]float64, 200), G: make([]float32, 40)}
	c := newListChecker(t, st)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				c.s.Lock()
				st.F[(g*50+i)%len(st.F)] += 1
				if i%50 == 0 {
					st.F = append(st.F, float64(i))
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

// checkFramesLeadTo checks that frames, applied in order to prev, lead to the state st,
// which s has published.
func checkFramesLeadTo[T any](t *testing.T, prev []byte, frames [][]byte, st *T, s *Synced[T]) {
	t.Helper()
	got := applyFrames(t, prev, frames)
	want, _ := json.Marshal(st)
	if pub, _ := s.Published(); !bytes.Equal(pub, want) || !jsonEq(got, want) {
		t.Fatalf("published %s\npatches give %s\nwant %s", pub, got, want)
	}
}

// A type with an IsZero method, or an element holding one, is not cached.
func TestAttackListCacheIsZeroEligibility(t *testing.T) {
	type ptrZero struct{ S cutoffScore }
	for _, v := range []any{[]cutoffItem{}, []cutoffScore{}, []ptrZero{}, [][2]cutoffScore{}} {
		if newListCache(reflect.TypeOf(v)) != nil {
			t.Errorf("%T is cached", v)
		}
	}
}
