package wsredis

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/wssync/wssync/internal/redistest"
)

// TestCommitScriptRetry runs the commit script twice with one token, as go-redis does when
// a connection fails after the command was written: the second run reports the commit
// that happened as a success, and publishes nothing more. Another token is a conflict. It
// does so for the commit that creates the object (whose version is Redis's time in
// microseconds) and for the next one.
func TestCommitScriptRetry(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	b := New(client, Options{})
	defer b.Close()

	ps := client.Subscribe(ctx, b.changesChannel("K"))
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	run := func(base, next uint64, token string) (bool, uint64) {
		t.Helper()
		res, err := commitScript.Run(ctx, client, []string{b.stateKey("K"), b.logKey("K"), b.idsKey("K")},
			strconv.FormatUint(base, 10), strconv.FormatUint(next, 10), `{"n":1}`, `[]`, 64, b.changesChannel("K"), token, 0, 1024, "PUBLISH").Slice()
		if err != nil {
			t.Fatal(err)
		}
		v, err := parseVersion(res[1])
		if len(res) != 2 || err != nil {
			t.Fatalf("reply %v: %v", res, err)
		}
		return res[0] == int64(1), v
	}
	micros := func() uint64 {
		t.Helper()
		now, err := client.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		return uint64(now.UnixMicro())
	}

	before := micros()
	ok, first := run(0, 1, "token-1")
	after := micros()
	if !ok || first < before || first > after {
		t.Fatalf("first run: %v at version %d; want a success at a version in [%d, %d], Redis's time in µs", ok, first, before, after)
	}
	if ok, v := run(0, 1, "token-1"); !ok || v != first {
		t.Errorf("the same commit again: %v at version %d, want success at version %d", ok, v, first)
	}
	if ok, v := run(0, 1, "token-2"); ok || v != first {
		t.Errorf("another commit from version 0: %v at version %d, want a conflict at version %d", ok, v, first)
	}
	if ok, v := run(first, first+1, "token-3"); !ok || v != first+1 {
		t.Errorf("commit from version %d: %v at version %d, want success at version %d", first, ok, v, first+1)
	}
	if ok, v := run(first, first+1, "token-3"); !ok || v != first+1 {
		t.Errorf("the same commit again: %v at version %d, want success at version %d", ok, v, first+1)
	}
	if ok, v := run(first, first+1, "token-4"); ok || v != first+1 {
		t.Errorf("another commit from version %d: %v at version %d, want a conflict at version %d", first, ok, v, first+1)
	}
	// The log holds the patches after the first version only.
	if log, err := client.LRange(ctx, b.logKey("K"), 0, -1).Result(); err != nil || len(log) != 1 || log[0] != fmt.Sprint(first+1, " []") {
		t.Errorf("log %q, %v; want version %d only", log, err, first+1)
	}
	for _, v := range []uint64{first, first + 1} {
		msg, err := ps.ReceiveMessage(ctx)
		if want := fmt.Sprint(v, " []"); err != nil || msg.Payload != want {
			t.Fatalf("message %v, %v; want %q", msg, err, want)
		}
	}
	if msg, err := ps.ReceiveTimeout(ctx, 200*time.Millisecond); err == nil {
		t.Errorf("a third message: %v", msg)
	}
}

// TestTimeVersion evaluates the expression of the first version for replies of TIME that
// a test cannot wait for: microseconds with leading zeros, 0, and times near 2^53 µs.
func TestTimeVersion(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct{ sec, usec, want string }{
		{"1800000000", "0", "1800000000000000"},
		{"1800000000", "7", "1800000000000007"},
		{"1800000000", "42017", "1800000000042017"},
		{"1800000000", "999999", "1800000000999999"},
		{"9007199254", "740993", "9007199254740993"}, // 2^53 + 1: no double holds it
		{"99999999999", "123456", "99999999999123456"},
	} {
		got, err := client.Eval(ctx, "local t = {ARGV[1], ARGV[2]}\nreturn "+timeVersion, nil, tc.sec, tc.usec).Text()
		if err != nil || got != tc.want {
			t.Errorf("TIME %s %s: %q, %v; want %q", tc.sec, tc.usec, got, err, tc.want)
		}
	}
}

func TestTag(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":     `\`,
		"}":    `\}`,
		"}a":   `\}a`,
		`\`:    `\\`,
		`\a`:   `\\a`,
		"a":    "a",
		"a}":   "a}",
		"{":    "{",
		"ROOM": "ROOM",
	} {
		if got := tag(in); got != want {
			t.Errorf("tag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	h := &hub{opts: Options{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	for n := 1; n < 100; n++ {
		limit := min(time.Second, 100*time.Millisecond<<min(n-1, 20))
		for range 20 {
			if d := h.backoff(n); d <= 0 || d > limit {
				t.Fatalf("backoff(%d) = %v, want in (0, %v]", n, d, limit)
			}
		}
	}
}
