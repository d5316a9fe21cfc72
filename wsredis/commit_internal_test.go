package wsredis

import (
	"context"
	"testing"
	"time"

	"github.com/wssync/wssync/internal/redistest"
)

// TestCommitScriptRetry runs the commit script twice with one token, as go-redis does when
// a connection fails after the command was written: the second run reports the commit
// that happened as a success, and publishes nothing more. Another token is a conflict.
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
	run := func(token string) []any {
		t.Helper()
		res, err := commitScript.Run(ctx, client, []string{b.stateKey("K"), b.logKey("K")},
			"0", "1", `{"n":1}`, `[]`, 64, b.changesChannel("K"), token).Slice()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := run("token-1"); res[0] != int64(1) || res[1] != "1" {
		t.Fatalf("first run: %v", res)
	}
	if res := run("token-1"); res[0] != int64(1) || res[1] != "1" {
		t.Errorf("the same commit again: %v, want success at version 1", res)
	}
	if res := run("token-2"); res[0] != int64(0) || res[1] != "1" {
		t.Errorf("another commit from version 0: %v, want a conflict at version 1", res)
	}
	if n, err := client.LLen(ctx, b.logKey("K")).Result(); err != nil || n != 1 {
		t.Errorf("log length %d, %v; want 1", n, err)
	}
	msg, err := ps.ReceiveMessage(ctx)
	if err != nil || msg.Payload != "1 []" {
		t.Fatalf("message %v, %v", msg, err)
	}
	if msg, err := ps.ReceiveTimeout(ctx, 200*time.Millisecond); err == nil {
		t.Errorf("a second message: %v", msg)
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
