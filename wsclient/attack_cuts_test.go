package wsclient_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsclient"
)

// Ledger is a shared object whose "append" action adds one entry: an acknowledged write
// the client can count. Ticks moves on its own (server pushes) so resumes have patches
// to carry.
type Ledger struct {
	Entries []string `sync:"entries"`
	Ticks   int      `sync:"ticks"`
}

type ledger struct {
	Entries []string `json:"entries"`
	Ticks   int      `json:"ticks"`
}

// Every acknowledged action appears exactly once in the server's state and in the bound
// value, whatever the cuts; an action that failed with ErrConnectionLost appears at most
// once; the binding ends equal to the server (docs/go-client.md: "On every connection the
// binding converges").
func TestAttackAcknowledgedWritesAcrossCuts(t *testing.T) {
	t.Parallel()
	obj := &Ledger{}
	share, err := wssync.NewShared("LEDGER", obj)
	must(t, err)
	must(t, wssync.ActionResult(share, "append", func(_ context.Context, p struct {
		ID string `json:"id"`
	}) (int, error) {
		var n int
		err := share.Update(func(l *Ledger) { l.Entries = append(l.Entries, p.ID); n = len(l.Entries) })
		return n, err
	}))
	mgr := wssync.NewManager(func(_ context.Context, sess *wssync.Session) error { return share.Join(sess) },
		wssync.WithLogger(slog.New(slog.DiscardHandler)))
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", mgr.ServeWS)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = mgr.Shutdown(ctx)
		share.Unregister()
		srv.Close()
	})
	p := newProxy(t, wstest.WSURL(srv.URL)+"/ws")
	c := dial(t, p.url)
	b, err := wsclient.Bind[ledger](c, "LEDGER")
	must(t, err)
	if _, err := b.Wait(wstest.Context(t), nil); err != nil {
		t.Fatal(err)
	}
	ctx := wstest.Context(t)

	var mu sync.Mutex
	acked, lost := map[string]bool{}, map[string]bool{}
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			for i := range 40 {
				id := fmt.Sprintf("g%d-%d", g, i)
				_, err := wsclient.Call[int](ctx, c, "LEDGER", "append", map[string]string{"id": id})
				mu.Lock()
				switch {
				case err == nil:
					acked[id] = true
				case errors.Is(err, wsclient.ErrConnectionLost):
					lost[id] = true
				default:
					t.Errorf("%s: %v", id, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for i := range 60 {
			_ = share.Update(func(l *Ledger) { l.Ticks++ })
			if i%12 == 5 {
				p.cut()
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	wg.Wait()

	var want ledger
	share.Read(func(l *Ledger) { want = ledger{Entries: append([]string(nil), l.Entries...), Ticks: l.Ticks} })
	seen := map[string]int{}
	for _, e := range want.Entries {
		seen[e]++
	}
	for id := range acked {
		if seen[id] != 1 {
			t.Errorf("acknowledged %s appears %d times on the server", id, seen[id])
		}
	}
	for id, n := range seen {
		if n != 1 || (!acked[id] && !lost[id]) {
			t.Errorf("%s appears %d times (acked %v, lost %v)", id, n, acked[id], lost[id])
		}
	}
	got, err := b.Wait(ctx, func(v ledger) bool {
		return v.Ticks == want.Ticks && fmt.Sprint(v.Entries) == fmt.Sprint(want.Entries)
	})
	if err != nil {
		t.Fatalf("binding %+v never equal to the server %+v: %v", got, want, err)
	}
	t.Logf("%d acknowledged, %d lost, %d entries, %d resyncs", len(acked), len(lost), len(want.Entries), b.Resyncs())
}

// Repeated outages, the server publishing during each: every reconnect resumes with the
// missed patches only (no _SET of the key, go-client.md's table), the binding reaches the
// server's count each time, and no repair (_GET) is needed.
func TestAttackRepeatedResumes(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	p := newProxy(t, s.url)
	fc := countFrames(p)
	c := dial(t, p.url)
	b := bindBoard(t, c)
	waitBoard(t, b, "first state", nil)
	waitResumes(t, c, 1)
	want := 0
	for round := range 5 {
		outage(t, p, fc, func() { bump(t, s, round+1) })
		want += round + 1
		r := waitResumes(t, c, round+2)
		if len(r.Set) != 0 {
			t.Fatalf("round %d: resume answered with a _SET of %v", round, r.Set)
		}
		waitBoard(t, b, "resumed count", func(v board) bool { return v.Count == want })
		if n := fc.get("_SET:BOARD"); n != 0 {
			t.Fatalf("round %d: %d _SET:BOARD on a resumed connection", round, n)
		}
	}
	if n := b.Resyncs(); n != 0 {
		t.Fatalf("%d repairs across resumes", n)
	}
}
