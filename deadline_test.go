package wssync

import (
	"testing"
	"time"
)

// The deadline is always at least the timeout after the last read, at most timeout+slack,
// and the socket's deadline is set once per slack, not once per frame.
func TestLazyDeadlineBounds(t *testing.T) {
	t.Parallel()
	const timeout = 16 * time.Second // slack 1 s
	var deadline time.Time
	sets := 0
	d := newLazyDeadline(timeout, func(at time.Time) error { deadline = at; sets++; return nil })
	start := time.Unix(1000, 0)
	for ms := 0; ms <= 10_000; ms += 7 {
		now := start.Add(time.Duration(ms) * time.Millisecond)
		d.extend(now)
		if left := deadline.Sub(now); left < timeout || left > timeout+time.Second {
			t.Fatalf("at +%d ms the deadline is %v ahead, want within [%v, %v]", ms, left, timeout, timeout+time.Second)
		}
	}
	if sets < 10 || sets > 12 {
		t.Errorf("the deadline was set %d times in 10 s of frames every 7 ms, want about 11 (once per second)", sets)
	}
	now := start.Add(10*time.Second + time.Millisecond)
	before := sets
	d.force(now)
	if sets != before+1 || deadline != now.Add(timeout+time.Second) {
		t.Errorf("force did not set the deadline from now: %d sets, deadline %v after now", sets-before, deadline.Sub(now))
	}
}
