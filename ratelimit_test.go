package wssync

import (
	"testing"
	"time"
)

func TestTokenBucketAllowsBurstThenRate(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newTokenBucket(10, 3) // 10 per second, bursts of 3
	for i := range 3 {
		if !b.allow(now) {
			t.Fatalf("token %d of the burst refused", i+1)
		}
	}
	if b.allow(now) {
		t.Fatal("a fourth token at the same instant was granted over a burst of 3")
	}
	if b.allow(now.Add(50 * time.Millisecond)) {
		t.Fatal("granted after 50 ms: half a token at 10/s")
	}
	if !b.allow(now.Add(100 * time.Millisecond)) {
		t.Fatal("refused after 100 ms: one token at 10/s")
	}
	// Refill never goes above the burst, however long the pause.
	later := now.Add(time.Hour)
	for i := range 3 {
		if !b.allow(later) {
			t.Fatalf("after an hour, token %d refused", i+1)
		}
	}
	if b.allow(later) {
		t.Fatal("after an hour the bucket held more than its burst")
	}
}

func TestTokenBucketZeroRateIsUnlimited(t *testing.T) {
	b := newTokenBucket(0, 0)
	now := time.Now()
	for range 1000 {
		if !b.take(now, 1<<20) {
			t.Fatal("a bucket of rate 0 refused")
		}
	}
	if !b.full() || b.wait(1<<20) != 0 {
		t.Error("a bucket of rate 0 is always full and never waits")
	}
}

// TestTokenBucketLargeRequest: a request over the burst is granted on a full bucket and
// leaves it in debt, so that the next waits for the debt to be repaid.
func TestTokenBucketLargeRequest(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newTokenBucket(100, 10)
	if !b.take(now, 50) {
		t.Fatal("a request of 50 over a burst of 10 refused on a full bucket")
	}
	if b.full() {
		t.Error("full after going into debt")
	}
	if w := b.wait(1); w != 410*time.Millisecond {
		t.Errorf("wait(1) = %v in a debt of 40 at 100/s, want 410ms", w)
	}
	if b.take(now.Add(400*time.Millisecond), 1) {
		t.Error("granted before the debt was repaid")
	}
	if !b.take(now.Add(420*time.Millisecond), 1) {
		t.Error("refused once the debt was repaid")
	}
}

func TestTokenBucketWait(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newTokenBucket(4, 2)
	if w := b.wait(2); w != 0 {
		t.Errorf("wait on a full bucket = %v, want 0", w)
	}
	b.take(now, 2)
	if w := b.wait(1); w != 250*time.Millisecond {
		t.Errorf("wait(1) on an empty bucket at 4/s = %v, want 250ms", w)
	}
	if w := b.wait(5); w != 500*time.Millisecond {
		t.Errorf("wait(5) is capped at the burst of 2: %v, want 500ms", w)
	}
}
