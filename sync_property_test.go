package wssync

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// capture records the frames an object publishes.
type capture struct{ frames [][]byte }

func (c *capture) deliver(_ *object, f *frame) { c.frames = append(c.frames, f.data) }
func (c *capture) resync(*object)              {}

// runSyncSteps registers st and, steps times, makes a change (mutate, under the object's
// lock), Syncs, and checks that the published state is json.Marshal of st and that what
// was published leads to it from the state before; after runs after each step's checks.
func runSyncSteps[T any](t *testing.T, st *T, steps int, mutate func(), after func(o *object)) {
	t.Helper()
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
		mutate()
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
		after(s.o)
		checkStepPatch(t, step, sub.frames[before:], prev, next)
		prev = next
	}
}

// frameData returns the data of a published frame.
func frameData(t *testing.T, fr []byte) json.RawMessage {
	t.Helper()
	var f struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(fr, &f); err != nil {
		t.Fatal(err)
	}
	return f.Data
}

// applyFrames applies the _PATCH frames to doc in order.
func applyFrames(t *testing.T, doc []byte, frames [][]byte) []byte {
	t.Helper()
	for i, fr := range frames {
		p, err := jsonpatch.DecodePatch(frameData(t, fr))
		if err != nil {
			t.Fatal(err)
		}
		if doc, err = p.Apply(doc); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	return doc
}

// checkStepPatch checks one Sync of a property test: frames, what it published (none or
// one _PATCH), take the published state prev to next.
func checkStepPatch(t *testing.T, step int, frames [][]byte, prev, next []byte) {
	t.Helper()
	if len(frames) == 0 {
		if !bytes.Equal(prev, next) {
			t.Fatalf("step %d: state changed but nothing was published", step)
		}
		return
	}
	data := frameData(t, frames[len(frames)-1])
	p, err := jsonpatch.DecodePatch(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Apply(prev)
	if err != nil {
		t.Fatalf("step %d: patch %s does not apply: %v", step, data, err)
	}
	if !jsonEq(got, next) {
		t.Fatalf("step %d: patch %s\n gives %s\n want  %s", step, data, got, next)
	}
}

type randomState struct {
	Title string         `sync:"title"`
	Data  map[string]any `sync:"da/ta~"` // a wire name that needs JSON Pointer escaping
	List  []any          `sync:"list"`
	Items []randomItem   `sync:"items"`
}

type randomItem struct {
	ID   int            `json:"id"`
	Tags []string       `json:"tags"`
	Meta map[string]any `json:"meta"`
}

var keyRunes = []string{"a", "b", "~", "/", "é", "日", "~1", "~0", " ", "\"", "x"}

func randomKey(r *rand.Rand) string {
	var b strings.Builder
	for range 1 + r.IntN(3) {
		b.WriteString(keyRunes[r.IntN(len(keyRunes))])
	}
	return b.String()
}

func randomValue(r *rand.Rand, depth int) any {
	switch k := r.IntN(8); {
	case depth > 3 || k < 3:
		return []any{nil, true, r.IntN(100), r.Float64() * 10, randomKey(r), "unicode ✓ 𝄞"}[r.IntN(6)]
	case k < 5:
		m := map[string]any{}
		for range r.IntN(4) {
			m[randomKey(r)] = randomValue(r, depth+1)
		}
		return m
	default:
		l := []any{}
		for range r.IntN(5) {
			l = append(l, randomValue(r, depth+1))
		}
		return l
	}
}

// mutate makes a small random change, of the kinds real states see.
func mutate(r *rand.Rand, s *randomState) {
	switch r.IntN(7) {
	case 0:
		s.Title = randomKey(r)
	case 1:
		s.Data[randomKey(r)] = randomValue(r, 1)
	case 2:
		for k := range s.Data {
			delete(s.Data, k)
			break
		}
	case 3:
		i := r.IntN(len(s.List) + 1)
		s.List = append(s.List[:i], append([]any{randomValue(r, 1)}, s.List[i:]...)...)
	case 4:
		if len(s.List) > 0 {
			i := r.IntN(len(s.List))
			s.List = append(s.List[:i], s.List[i+1:]...)
		}
	case 5:
		i := r.IntN(len(s.Items) + 1)
		s.Items = append(s.Items[:i], append([]randomItem{{ID: r.IntN(1000), Tags: []string{randomKey(r)}, Meta: map[string]any{randomKey(r): randomValue(r, 2)}}}, s.Items[i:]...)...)
	case 6:
		if len(s.Items) > 0 {
			it := &s.Items[r.IntN(len(s.Items))]
			it.Tags = append(it.Tags, randomKey(r))
			it.Meta[randomKey(r)] = randomValue(r, 2)
		}
	}
}

// Over many random states, every published patch applied (with evanphx/json-patch) to the
// previously published state gives exactly the newly published state.
func TestSyncPatchesApplyExactly(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 40 {
		st := &randomState{Data: map[string]any{}, List: []any{}, Items: []randomItem{}}
		s, err := Register(NewSession(), "K", st)
		if err != nil {
			t.Fatal(err)
		}
		sub := &capture{}
		s.o.subscribe(sub)
		prev, _ := s.Published()
		for step := range 60 {
			s.Lock()
			for range 1 + r.IntN(3) {
				mutate(r, st)
			}
			s.Unlock()
			before := len(sub.frames)
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			next, v := s.Published()
			if len(sub.frames) == before {
				if !jsonEq(prev, next) {
					t.Fatalf("round %d step %d: state changed but nothing was published", round, step)
				}
				continue
			}
			var f struct {
				Data json.RawMessage `json:"data"`
				V    uint64          `json:"v"`
			}
			if err := json.Unmarshal(sub.frames[len(sub.frames)-1], &f); err != nil || f.V != v {
				t.Fatalf("frame %s (v %d)", sub.frames[len(sub.frames)-1], v)
			}
			p, err := jsonpatch.DecodePatch(f.Data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Apply(prev)
			if err != nil {
				t.Fatalf("round %d step %d: patch %s does not apply to %s: %v", round, step, f.Data, prev, err)
			}
			if !jsonEq(got, next) {
				t.Fatalf("round %d step %d: patch %s\n gives %s\n want  %s", round, step, f.Data, got, next)
			}
			prev = next
		}
	}
}

func jsonEq(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
