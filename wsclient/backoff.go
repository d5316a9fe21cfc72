package wsclient

import (
	"math/rand/v2"
	"time"
)

// Backoff bounds the delay between reconnect attempts. The zero value selects the
// defaults.
type Backoff struct {
	// Min is the ceiling of the first delay (default 250ms).
	Min time.Duration
	// Max is the largest ceiling (default 30s).
	Max time.Duration
}

const (
	defaultBackoffMin = 250 * time.Millisecond
	defaultBackoffMax = 30 * time.Second
)

func (b Backoff) withDefaults() Backoff {
	if b.Min <= 0 {
		b.Min = defaultBackoffMin
	}
	if b.Max <= 0 {
		b.Max = defaultBackoffMax
	}
	b.Max = max(b.Max, b.Min)
	return b
}

// ceiling is the upper bound of the delay before attempt (0 for the first retry):
// Min·2^attempt, capped at Max.
func (b Backoff) ceiling(attempt int) time.Duration {
	c := b.Min
	for range attempt {
		if c >= b.Max/2 {
			return b.Max
		}
		c *= 2
	}
	return min(c, b.Max)
}

// delay draws the wait before attempt with full jitter (uniform in [0, ceiling]): clients
// that lost their server at the same moment spread their reconnects instead of arriving
// together, which a fixed or equal-jitter backoff does not do.
func (b Backoff) delay(attempt int, r *rand.Rand) time.Duration {
	return time.Duration(r.Int64N(int64(b.ceiling(attempt)) + 1))
}
