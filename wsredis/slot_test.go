package wsredis

import (
	"context"
	"testing"
	"time"

	"github.com/wssync/wssync/internal/redistest"
)

// TestSlot checks slot against Redis's own CLUSTER KEYSLOT, for names with no tag, empty
// tags, tags that end early and open again, and the names the backend makes of odd keys.
func TestSlot(t *testing.T) {
	t.Parallel()
	srv := redistest.StartCluster(t)
	admin := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := New(admin, Options{})
	defer b.Close()
	names := []string{"", "a", "123456789", "{", "}", "{}", "{}x", "x{}", "{a}", "x{a}y", "{a}{b}", "{{a}}", "a{b", "a}b{c}", "é☃", "{é☃}x"}
	for _, k := range []string{"", "}", "}x", `\`, `\}`, "{", "{}", "a{b}c/d:é☃}", "x}:log", "日本語 ✓"} {
		names = append(names, b.changesChannel(k), b.presenceChannel(k))
	}
	for _, n := range names {
		want, err := admin.ClusterKeySlot(ctx, n).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := slot(n); int64(got) != want {
			t.Errorf("slot(%q) = %d, CLUSTER KEYSLOT says %d", n, got, want)
		}
	}
}
