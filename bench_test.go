package wssync

import (
	"encoding/json"
	"fmt"
	"testing"
)

// Benchmarks of Sync against its floor (json.Marshal of the state) and the naive
// alternative (marshal and frame the whole state on every change), on three state sizes
// and seven kinds of change. Figures are recorded in docs/benchmarks.md.

type benchItem struct {
	ID    int      `json:"id"`
	Name  string   `json:"name"`
	Qty   int      `json:"qty"`
	Price float64  `json:"price"`
	Done  bool     `json:"done"`
	Tags  []string `json:"tags"`
}

type benchState struct {
	Title string      `sync:"title"`
	Notes []string    `sync:"notes"`
	Items []benchItem `sync:"items"`
}

func newBenchState(size string) *benchState {
	s := &benchState{Title: "state"}
	switch size {
	case "S":
		for i := range 10 {
			s.Notes = append(s.Notes, fmt.Sprintf("note number %d", i))
		}
	case "M", "L":
		n := map[string]int{"M": 1_000, "L": 20_000}[size]
		for i := range n {
			s.Items = append(s.Items, benchItem{ID: i, Name: fmt.Sprintf("item-%d", i), Qty: i % 17, Price: float64(i%1000) / 4, Tags: []string{"red", "blue"}})
		}
	}
	return s
}

// benchChange mutates the state for iteration i so that every iteration has a change of
// the same kind and size (appends alternate with removals, so the state does not grow).
var benchChanges = []struct {
	name   string
	mutate func(s *benchState, i int)
}{
	{"nothing", func(*benchState, int) {}},
	{"scalar", func(s *benchState, i int) { s.Title = fmt.Sprintf("title %d", i) }},
	{"append", func(s *benchState, i int) {
		if s.Items == nil {
			if i%2 == 0 {
				s.Notes = append(s.Notes, "appended note")
			} else {
				s.Notes = s.Notes[:len(s.Notes)-1]
			}
			return
		}
		if i%2 == 0 {
			s.Items = append(s.Items, benchItem{ID: -1, Name: "appended", Tags: []string{}})
		} else {
			s.Items = s.Items[:len(s.Items)-1]
		}
	}},
	{"remove-middle", func(s *benchState, i int) {
		if s.Items == nil {
			mid := len(s.Notes) / 2
			if i%2 == 0 {
				s.Notes = append(s.Notes[:mid:mid], s.Notes[mid+1:]...)
			} else {
				s.Notes = append(s.Notes[:mid:mid], append([]string{"back"}, s.Notes[mid:]...)...)
			}
			return
		}
		mid := len(s.Items) / 2
		if i%2 == 0 {
			s.Items = append(s.Items[:mid], s.Items[mid+1:]...)
		} else {
			s.Items = append(s.Items[:mid+1], s.Items[mid:]...)
			s.Items[mid] = benchItem{ID: -2, Name: "reinserted", Tags: []string{}}
		}
	}},
	{"item-scalar", func(s *benchState, i int) { // one item's field (a note for S)
		if s.Items == nil {
			s.Notes[i%len(s.Notes)] = fmt.Sprintf("edited %d", i)
			return
		}
		s.Items[(i*7919)%len(s.Items)].Qty = i
	}},
	{"item-tag", func(s *benchState, i int) { // one item's tag, in place in its nested slice
		if s.Items == nil {
			s.Notes[i%len(s.Notes)] = fmt.Sprintf("edited %d", i)
			return
		}
		s.Items[(i*7919)%len(s.Items)].Tags[i%2] = fmt.Sprintf("tag %d", i)
	}},
	{"modify-1pct", func(s *benchState, i int) {
		if s.Items == nil {
			s.Notes[i%len(s.Notes)] = fmt.Sprintf("edited %d", i)
			return
		}
		for j := 0; j < len(s.Items); j += 100 {
			s.Items[j].Qty = i
		}
	}},
}

// countingSubscriber receives published frames and counts their bytes.
type countingSubscriber struct{ frames, bytes int }

func (c *countingSubscriber) deliver(_ *object, f *frame) { c.frames++; c.bytes += len(f.data) }
func (c *countingSubscriber) resync(*object)              {}

func BenchmarkSync(b *testing.B) {
	for _, size := range []string{"S", "M", "L"} {
		full, _ := json.Marshal(newBenchState(size))
		for _, ch := range benchChanges {
			b.Run(fmt.Sprintf("%s/%s/Sync", size, ch.name), func(b *testing.B) {
				state := newBenchState(size)
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
			b.Run(fmt.Sprintf("%s/%s/Marshal", size, ch.name), func(b *testing.B) {
				state := newBenchState(size)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					ch.mutate(state, i)
					if _, err := json.Marshal(state); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("%s/%s/NaiveFullSet", size, ch.name), func(b *testing.B) {
				state := newBenchState(size)
				sent := 0
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					ch.mutate(state, i)
					data, err := json.Marshal(state)
					if err != nil {
						b.Fatal(err)
					}
					f := appendEventHead(make([]byte, 0, len(data)+40), "_SET:K")
					f = appendVersionTail(append(f, data...), uint64(i))
					sent += len(f)
				}
				b.ReportMetric(float64(sent)/float64(b.N), "frame-B/op")
			})
		}
	}
}
