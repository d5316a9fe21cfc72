package wssync

import (
	"encoding/json"
	"fmt"
	"testing"
)

// BenchmarkSyncList measures Sync of a 20,000-element slice of shallow elements (the list
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
	const n = 20_000
	full, _ := json.Marshal(newBenchList(n))
	for _, ch := range benchListChanges {
		b.Run(fmt.Sprintf("L/%s/Sync", ch.name), func(b *testing.B) {
			state := newBenchList(n)
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
		b.Run(fmt.Sprintf("L/%s/Marshal", ch.name), func(b *testing.B) {
			state := newBenchList(n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ch.mutate(state, i)
				if _, err := json.Marshal(state); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
