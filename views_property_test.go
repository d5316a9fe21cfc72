package wssync

import (
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// refFilter is the reference of a view's filter, on decoded JSON: the parts of v that a
// pattern of tails reaches are left out of objects and nulled in arrays.
func refFilter(v any, tails [][]string) any {
	sub := func(token string) ([][]string, bool) {
		var out [][]string
		for _, t := range tails {
			if len(t) > 0 && (t[0] == "*" || t[0] == token) {
				if len(t) == 1 {
					return nil, true
				}
				out = append(out, t[1:])
			}
		}
		return out, false
	}
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			if s, hidden := sub(k); !hidden {
				m[k] = refFilter(e, s)
			}
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			if s, hidden := sub(strconv.Itoa(i)); !hidden {
				l[i] = refFilter(e, s)
			}
		}
		return l
	default:
		return v
	}
}

func decodeViewJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

var propertyViews = []View{
	{Name: "all"},
	{Name: "items", Hide: []string{"/items/*/meta", "/list/1", "/da~1ta~0/a"}},
	{Name: "notitle", Hide: []string{"/title", "/items/*/tags/*", "/da~1ta~0/*/*"}},
}

// viewTails returns the patterns of view name as the reference filter takes them.
func viewTails(t *testing.T, name string) [][]string {
	for _, v := range propertyViews {
		if v.Name != name {
			continue
		}
		var out [][]string
		for _, p := range v.Hide {
			tokens, err := parsePointer(p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tokens)
		}
		return out
	}
	t.Fatalf("no view %q", name)
	return nil
}

// For random states and changes, each view's patch applied to the view's previous state
// gives the view's filter of the new state: filter(apply(s, p)) == apply(filter(s), p_view).
// Each view builds one frame per publish, whatever its number of subscribers.
func TestViewPatchesApplyToFilteredState(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 11))
	for round := range 30 {
		st := &randomState{Data: map[string]any{}, List: []any{}, Items: []randomItem{}}
		roleOf := func(id Identity) string { return id.Roles[0] }
		s, err := NewShared("K", st, WithViews(roleOf, propertyViews...))
		if err != nil {
			t.Fatal(err)
		}
		subs := map[string][]*capture{}
		held := map[string]any{}
		for _, v := range propertyViews {
			for range 3 {
				c := &capture{}
				s.o.subscribeAs(c, Identity{Roles: []string{v.Name}}, slog.New(slog.DiscardHandler))
				subs[v.Name] = append(subs[v.Name], c)
			}
			s.o.pub.Lock()
			set := s.o.setFrame()
			if ov := s.o.viewOfLocked(subs[v.Name][0]); ov != nil {
				set = ov.setFrameLocked(s.o, s.o.views)
			}
			s.o.pub.Unlock()
			var f struct{ Data json.RawMessage }
			if err := json.Unmarshal(set.data, &f); err != nil {
				t.Fatal(err)
			}
			held[v.Name] = decodeViewJSON(t, f.Data)
		}
		for step := range 50 {
			s.Lock()
			for range 1 + r.IntN(3) {
				mutate(r, st)
			}
			s.Unlock()
			framesBefore := s.o.views.frames
			published := len(subs["all"][0].frames)
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			if len(subs["all"][0].frames) == published {
				continue
			}
			if built := s.o.views.frames - framesBefore; built != 2 {
				t.Fatalf("round %d step %d: %d view frames built for one publish, want 2 (one per filtering view)", round, step, built)
			}
			state, _ := s.Published()
			for _, v := range propertyViews {
				cs := subs[v.Name]
				last := cs[0].frames[len(cs[0].frames)-1]
				for _, c := range cs[1:] {
					if string(c.frames[len(c.frames)-1]) != string(last) {
						t.Fatalf("two subscribers of view %q got different frames", v.Name)
					}
				}
				var f struct{ Data json.RawMessage }
				if err := json.Unmarshal(last, &f); err != nil {
					t.Fatal(err)
				}
				p, err := jsonpatch.DecodePatch(f.Data)
				if err != nil {
					t.Fatal(err)
				}
				prev, _ := json.Marshal(held[v.Name])
				got, err := p.Apply(prev)
				if err != nil {
					t.Fatalf("round %d step %d view %s: patch %s does not apply to %s: %v", round, step, v.Name, f.Data, prev, err)
				}
				want := refFilter(decodeViewJSON(t, state), viewTails(t, v.Name))
				if !reflect.DeepEqual(decodeViewJSON(t, got), want) {
					t.Fatalf("round %d step %d view %s: patch %s\n gives %s\n want  %v", round, step, v.Name, f.Data, got, want)
				}
				held[v.Name] = decodeViewJSON(t, got)
			}
		}
	}
}

// The filter agrees with the reference on random documents and patterns.
func TestFilterJSONMatchesReference(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 5))
	tokens := []string{"*", "a", "b", "0", "1", "~", "/"}
	for range 2000 {
		doc := randomValue(r, 0)
		raw, _ := json.Marshal(doc)
		var tails [][]string
		for range 1 + r.IntN(3) {
			var p []string
			for range 1 + r.IntN(3) {
				p = append(p, tokens[r.IntN(len(tokens))])
			}
			tails = append(tails, p)
		}
		got, err := filterJSON(nil, raw, tails)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if want := refFilter(decodeViewJSON(t, raw), tails); !reflect.DeepEqual(decodeViewJSON(t, got), want) {
			t.Fatalf("filter %v of %s: %s, want %v", tails, raw, got, want)
		}
	}
}

// benchViewOptions are the views of BenchmarkPublishFanout: none, or three that each hide
// a part of every member.
func benchViewOptions(views int) []RegisterOption {
	if views == 0 {
		return nil
	}
	return []RegisterOption{WithViews(func(id Identity) string { return id.Roles[0] },
		View{Name: "v0", Hide: []string{"/members/*/email"}},
		View{Name: "v1", Hide: []string{"/members/*/phone"}},
		View{Name: "v2", Hide: []string{"/members/*/email", "/members/*/phone"}},
	)}
}
