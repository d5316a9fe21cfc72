package patch

import (
	"slices"
	"testing"
	"time"
)

func TestTmpAdversarial(t *testing.T) {
	zeros := make([]int, 20000)
	mod := slices.Clone(zeros)
	for i := 50; i < len(mod); i += 100 {
		mod[i] = 1
	}
	shifted := append([]int{1}, zeros[:len(zeros)-1]...)
	for i := 50; i < len(shifted); i += 100 {
		shifted[i] = 1
	}
	items := bigItems(20000)
	rev := slices.Clone(items)
	slices.Reverse(rev)
	cases := []struct {
		name     string
		old, new any
	}{
		{"zeros 1pct", zeros, mod},
		{"zeros 1pct shift", zeros, shifted},
		{"items reversed", items, rev},
		{"items insert + 1pct", items, func() []item { x := slices.Insert(slices.Clone(items), 10000, newItem(-1)); for i := 50; i < len(x); i += 100 { x[i].Name = "x" }; return x }()},
	}
	for _, c := range cases {
		o, n := mustMarshal(c.old), mustMarshal(c.new)
		start := time.Now()
		ops, k, err := AppendDiff(nil, 0, "", o, n, nil)
		el := time.Since(start)
		ms := time.Now()
		mustMarshal(c.new)
		t.Logf("%s: %v (marshal %v), %d ops, %d bytes of %d, err %v", c.name, el, time.Since(ms), k, len(ops), len(n), err)
	}
}

func BenchmarkTmpZeros(b *testing.B) {
	zeros := make([]int, 20000)
	mod := slices.Clone(zeros)
	for i := 50; i < len(mod); i += 100 {
		mod[i] = 1
	}
	o, n := mustMarshal(zeros), mustMarshal(mod)
	for b.Loop() {
		AppendDiff(nil, 0, "", o, n, nil)
	}
}
