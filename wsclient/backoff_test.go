package wsclient

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBackoffCeilingDoublesToMax(t *testing.T) {
	t.Parallel()
	b := Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}.withDefaults()
	want := []time.Duration{10, 20, 40, 80, 100, 100}
	for i, w := range want {
		if got := b.ceiling(i); got != w*time.Millisecond {
			t.Errorf("ceiling(%d) = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	if got := b.ceiling(1000); got != b.Max {
		t.Errorf("ceiling(1000) = %v, want Max", got)
	}
}

func TestBackoffDefaults(t *testing.T) {
	t.Parallel()
	b := Backoff{}.withDefaults()
	if b.Min != defaultBackoffMin || b.Max != defaultBackoffMax {
		t.Fatalf("defaults = %+v", b)
	}
	if b := (Backoff{Min: time.Second, Max: time.Millisecond}).withDefaults(); b.Max != time.Second {
		t.Fatalf("Max below Min not raised: %+v", b)
	}
}

// Full jitter: every delay lies in [0, ceiling], and the draws spread over the range
// rather than clustering at the top (a fixed seed keeps this deterministic).
func TestBackoffFullJitter(t *testing.T) {
	t.Parallel()
	b := Backoff{Min: time.Millisecond, Max: time.Second}.withDefaults()
	r := rand.New(rand.NewPCG(1, 2))
	const n = 2000
	var low int
	for range n {
		d := b.delay(10, r)
		if d < 0 || d > b.ceiling(10) {
			t.Fatalf("delay %v outside [0, %v]", d, b.ceiling(10))
		}
		if d < b.ceiling(10)/2 {
			low++
		}
	}
	if low < n/3 || low > 2*n/3 {
		t.Fatalf("%d of %d delays below half the ceiling: not uniform", low, n)
	}
}
