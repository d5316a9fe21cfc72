package patch

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/wI2L/jsondiff"
)

// item is a typical row: ~100 bytes of JSON with six fields.
type item struct {
	ID     int      `json:"id"`
	Name   string   `json:"name"`
	Email  string   `json:"email"`
	Active bool     `json:"active"`
	Score  float64  `json:"score"`
	Tags   []string `json:"tags"`
}

func newItem(i int) item {
	return item{
		ID:     i,
		Name:   fmt.Sprintf("User Number %d", i),
		Email:  fmt.Sprintf("user%d@example.com", i),
		Active: i%3 != 0,
		Score:  float64(i%1000) / 7,
		Tags:   []string{"tag" + fmt.Sprint(i%10), "group" + fmt.Sprint(i%7)},
	}
}

func bigItems(n int) []item {
	items := make([]item, n)
	for i := range items {
		items[i] = newItem(i)
	}
	return items
}

const bigN = 20000

// bigCases are the benchmark scenarios on a 20,000-item array (~2 MB).
func bigCases() []struct {
	name     string
	old, new []item
} {
	old := bigItems(bigN)
	modified := slices.Clone(old)
	for i := 50; i < bigN; i += bigN / 200 { // 200 spread-out elements
		modified[i].Name += " (edited)"
	}
	return []struct {
		name     string
		old, new []item
	}{
		{"unchanged", old, old},
		{"appended", old, append(slices.Clone(old), newItem(bigN))},
		{"removed_middle", old, slices.Delete(slices.Clone(old), bigN/2, bigN/2+1)},
		{"modified_1pct", old, modified},
	}
}

// TestBigCases checks the patch size targets the benchmarks measure.
func TestBigCases(t *testing.T) {
	for _, c := range bigCases() {
		t.Run(c.name, func(t *testing.T) {
			oldB, newB := mustMarshal(c.old), mustMarshal(c.new)
			ops, n, err := diffAndApply(oldB, newB, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(ops)*100 > len(newB) {
				t.Errorf("patch is %d bytes (%d ops), more than 1%% of %d", len(ops), n, len(newB))
			}
			t.Logf("%d ops, %d patch bytes, %d document bytes", n, len(ops), len(newB))
		})
	}
}

// Benchmarks, per scenario:
//   - Marshal: json.Marshal of the new data, the floor the diff is compared to;
//   - AppendDiff: this package on the marshaled old and new bytes;
//   - jsondiff: github.com/wI2L/jsondiff.CompareJSON with default options.
func BenchmarkBig(b *testing.B) {
	for _, c := range bigCases() {
		oldB, newB := mustMarshal(c.old), mustMarshal(c.new)
		b.Run(c.name+"/Marshal", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(newB)))
			for b.Loop() {
				if _, err := json.Marshal(c.new); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/AppendDiff", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(newB)))
			var dst []byte
			for b.Loop() {
				var err error
				dst, _, err = AppendDiff(dst[:0], 0, "/items", oldB, newB, nil)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(dst)), "patch-B/op")
		})
		b.Run(c.name+"/jsondiff", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(newB)))
			var size int
			for b.Loop() {
				p, err := jsondiff.CompareJSON(oldB, newB)
				if err != nil {
					b.Fatal(err)
				}
				size = len(mustMarshal(p))
			}
			b.ReportMetric(float64(size), "patch-B/op")
		})
	}
}

// BenchmarkNested appends one element to the big array while it is a
// member of an object, as a struct field holding the slice would be.
func BenchmarkNested(b *testing.B) {
	type state struct {
		Title string `json:"title"`
		Items []item `json:"items"`
		Count int    `json:"count"`
	}
	old := state{Title: "x", Items: bigItems(bigN), Count: bigN}
	nw := state{Title: "x", Items: append(slices.Clone(old.Items), newItem(bigN)), Count: bigN + 1}
	oldB, newB := mustMarshal(old), mustMarshal(nw)
	b.Run("Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(nw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendDiff", func(b *testing.B) {
		b.ReportAllocs()
		var dst []byte
		for b.Loop() {
			var err error
			if dst, _, err = AppendDiff(dst[:0], 0, "", oldB, newB, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(dst)), "patch-B/op")
	})
}

// BenchmarkScan measures the validating scanner alone on the big document.
func BenchmarkScan(b *testing.B) {
	data := mustMarshal(bigItems(bigN))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := scanExact(data, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSmall diffs a small struct-like object with one changed field.
func BenchmarkSmall(b *testing.B) {
	old := mustMarshal(map[string]any{"title": "hello", "count": 1, "items": bigItems(5), "flags": map[string]bool{"a": true}})
	nw := mustMarshal(map[string]any{"title": "hello", "count": 2, "items": bigItems(5), "flags": map[string]bool{"a": true}})
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		dst, _, _ = AppendDiff(dst[:0], 0, "", old, nw, nil)
	}
	b.ReportMetric(float64(len(dst)), "patch-B/op")
}
