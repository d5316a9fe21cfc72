package wssync

import (
	"encoding/json"
	"fmt"
	"testing"
)

// BenchmarkSyncList measures Sync of a 20,000-element slice of flat elements (the list
// cache's case, see listcache.go) against json.Marshal of the same state in the same run.
// Figures are recorded in docs/benchmarks.md.

type benchRow struct {
	ID    int     `json:"id"`
	Name  string  `json:"name"`
	Owner string  `json:"owner"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
	Done  bool    `json:"done"`
}

type benchList struct {
	Title string     `sync:"title"`
	Rows  []benchRow `sync:"rows"`
}

func newBenchList(n int) *benchList {
	s := &benchList{Title: "list"}
	for i := range n {
		s.Rows = append(s.Rows, benchRow{ID: i, Name: fmt.Sprintf("item-%d", i), Owner: "user-7", Qty: i % 17, Price: float64(i%1000) / 4})
	}
	return s
}

// benchListChanges alternate so that the state keeps its size.
var benchListChanges = []struct {
	name   string
	mutate func(s *benchList, i int)
}{
	{"nothing", func(*benchList, int) {}},
	{"scalar", func(s *benchList, i int) { s.Rows[(i*7919)%len(s.Rows)].Qty = i }},
	{"append", func(s *benchList, i int) {
		if i%2 == 0 {
			s.Rows = append(s.Rows, benchRow{ID: -1, Name: "appended"})
		} else {
			s.Rows = s.Rows[:len(s.Rows)-1]
		}
	}},
	{"remove-middle", func(s *benchList, i int) {
		mid := len(s.Rows) / 2
		if i%2 == 0 {
			s.Rows = append(s.Rows[:mid], s.Rows[mid+1:]...)
		} else {
			s.Rows = append(s.Rows[:mid+1], s.Rows[mid:]...)
			s.Rows[mid] = benchRow{ID: -2, Name: "reinserted"}
		}
	}},
}

func BenchmarkSyncList(b *testing.B) {
	runListBench(b, "L", func() *benchList { return newBenchList(20_000) }, benchListChanges)
}

// runListBench runs each change on a fresh state from newState: Sync (with a counting
// subscriber) and json.Marshal of the same state after the same change, in the same run.
func runListBench[T any](b *testing.B, name string, newState func() *T, changes []struct {
	name   string
	mutate func(s *T, i int)
}) {
	full, _ := json.Marshal(newState())
	for _, ch := range changes {
		b.Run(fmt.Sprintf("%s/%s/Sync", name, ch.name), func(b *testing.B) {
			state := newState()
			s, err := Register(NewSession(), "K", state)
			if err != nil {
				b.Fatal(err)
			}
			sub := &countingSubscriber{}
			s.o.subscribe(sub)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.o.state.Lock()
				ch.mutate(state, i)
				s.o.state.Unlock()
				if err := s.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(sub.bytes)/float64(b.N), "frame-B/op")
			b.ReportMetric(float64(len(full)), "state-B")
		})
		b.Run(fmt.Sprintf("%s/%s/Marshal", name, ch.name), func(b *testing.B) {
			state := newState()
			var v any = state
			if p, ok := v.(interface{ plain() any }); ok {
				v = p.plain() // the same rows in a plain slice, which shares their elements
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ch.mutate(state, i)
				if p, ok := any(state).(interface{ plain() any }); ok {
					v = p.plain()
				}
				if _, err := json.Marshal(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSyncNestedList is BenchmarkSyncList with elements that hold references: a
// slice of tags, a pointer to an owner shared by 100 rows, and on every tenth row a map
// of attributes (the list cache follows all three, see listdeep.go).

type benchOwner struct {
	Name string `json:"name"`
	Team string `json:"team"`
}

type benchNestedRow struct {
	ID    int            `json:"id"`
	Name  string         `json:"name"`
	Qty   int            `json:"qty"`
	Done  bool           `json:"done"`
	Tags  []string       `json:"tags"`
	Owner *benchOwner    `json:"owner"`
	Attrs map[string]int `json:"attrs,omitempty"`
}

type benchNested struct {
	Title string           `sync:"title"`
	Rows  []benchNestedRow `sync:"rows"`
}

func newBenchNested(n int) *benchNested {
	s := &benchNested{Title: "nested"}
	var owner *benchOwner
	for i := range n {
		if i%100 == 0 {
			owner = &benchOwner{Name: fmt.Sprintf("user-%d", i/100), Team: "core"}
		}
		row := benchNestedRow{ID: i, Name: fmt.Sprintf("item-%d", i), Qty: i % 17, Tags: []string{"red", "blue"}, Owner: owner}
		if i%10 == 0 {
			row.Attrs = map[string]int{"size": i % 5, "weight": i % 7}
		}
		s.Rows = append(s.Rows, row)
	}
	return s
}

var benchNestedChanges = []struct {
	name   string
	mutate func(s *benchNested, i int)
}{
	{"nothing", func(*benchNested, int) {}},
	{"scalar", func(s *benchNested, i int) { s.Rows[(i*7919)%len(s.Rows)].Qty = i }},
	{"append", func(s *benchNested, i int) {
		if i%2 == 0 {
			s.Rows = append(s.Rows, benchNestedRow{ID: -1, Name: "appended", Tags: []string{}})
		} else {
			s.Rows = s.Rows[:len(s.Rows)-1]
		}
	}},
	{"remove-middle", func(s *benchNested, i int) {
		mid := len(s.Rows) / 2
		if i%2 == 0 {
			s.Rows = append(s.Rows[:mid], s.Rows[mid+1:]...)
		} else {
			s.Rows = append(s.Rows[:mid+1], s.Rows[mid:]...)
			s.Rows[mid] = benchNestedRow{ID: -2, Name: "reinserted", Tags: []string{}}
		}
	}},
	{"tag-in-place", func(s *benchNested, i int) { s.Rows[(i*7919)%len(s.Rows)].Tags[i%2] = fmt.Sprintf("tag %d", i) }},
	{"map-entry", func(s *benchNested, i int) { s.Rows[((i*7919)%len(s.Rows))/10*10].Attrs["size"] = i }},
}

func BenchmarkSyncNestedList(b *testing.B) {
	runListBench(b, "L", func() *benchNested { return newBenchNested(20_000) }, benchNestedChanges)
}

// BenchmarkSyncNestedListType is BenchmarkSyncNestedList with the rows in a List (list.go),
// whose changes are recorded instead of found by comparing: the same changes, made through
// List's methods.

type benchNestedList struct {
	Title string               `sync:"title"`
	Rows  List[benchNestedRow] `sync:"rows"`
}

// plain returns the state with its rows in a plain slice: the Marshal baseline is what the
// same state costs without a List (whose MarshalJSON output encoding/json checks again).
func (s *benchNestedList) plain() any { return &benchNested{Title: s.Title, Rows: s.Rows.items} }

func newBenchNestedList(n int) *benchNestedList {
	return &benchNestedList{Title: "nested", Rows: NewList(newBenchNested(n).Rows...)}
}

var benchNestedListChanges = []struct {
	name   string
	mutate func(s *benchNestedList, i int)
}{
	{"nothing", func(*benchNestedList, int) {}},
	{"scalar", func(s *benchNestedList, i int) {
		s.Rows.Update((i*7919)%s.Rows.Len(), func(r *benchNestedRow) { r.Qty = i })
	}},
	{"append", func(s *benchNestedList, i int) {
		if i%2 == 0 {
			s.Rows.Append(benchNestedRow{ID: -1, Name: "appended", Tags: []string{}})
		} else {
			s.Rows.Delete(s.Rows.Len()-1, s.Rows.Len())
		}
	}},
	{"remove-middle", func(s *benchNestedList, i int) {
		mid := s.Rows.Len() / 2
		if i%2 == 0 {
			s.Rows.Delete(mid, mid+1)
		} else {
			s.Rows.Insert(mid, benchNestedRow{ID: -2, Name: "reinserted", Tags: []string{}})
		}
	}},
	{"tag-in-place", func(s *benchNestedList, i int) {
		s.Rows.Update((i*7919)%s.Rows.Len(), func(r *benchNestedRow) { r.Tags[i%2] = fmt.Sprintf("tag %d", i) })
	}},
	{"map-entry", func(s *benchNestedList, i int) {
		s.Rows.Update(((i*7919)%s.Rows.Len())/10*10, func(r *benchNestedRow) { r.Attrs["size"] = i })
	}},
}

func BenchmarkSyncNestedListType(b *testing.B) {
	runListBench(b, "L", func() *benchNestedList { return newBenchNestedList(20_000) }, benchNestedListChanges)
}
