package wssync_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

type Board struct {
	Counters []int    `sync:"counters"`
	Log      []string `sync:"log"`
	Draft    string   `sync:"draft,write"`
	Meta     map[string]int
}

// Eight goroutines mutate one object while a client writes to it and reconnects again and
// again. Under -race this must be clean, nothing may deadlock, and at the end the client's
// state must equal the server's.
func TestConcurrentMutationsWritesAndReconnects(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	board := &Board{Counters: make([]int, 8), Meta: map[string]int{}}
	s, err := wssync.Register(sess, "BOARD", board)
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, sess)

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				err := s.Update(func(b *Board) {
					b.Counters[g]++
					b.Log = append(b.Log, fmt.Sprintf("g%d-%d", g, i))
					if len(b.Log) > 40 {
						b.Log = b.Log[len(b.Log)-40:]
					}
					b.Meta[fmt.Sprint(g)] = i
				})
				if err != nil {
					t.Error(err)
					return
				}
				if i%7 == 0 {
					_ = s.Sync() // extra syncs from many goroutines are fine
				}
			}
		}()
	}

	var last *wssynctest.Client
	var all []*wssynctest.Client
	for round := range 20 {
		c, err := wssynctest.Dial(ctxT(t), url)
		if err != nil {
			t.Fatal(err)
		}
		for w := range 5 {
			_ = c.Patch("BOARD", wssynctest.Replace("/draft", fmt.Sprintf("r%d-w%d", round, w)))
		}
		time.Sleep(5 * time.Millisecond)
		if last != nil {
			_ = last.Close()
		}
		last = c
		all = append(all, c)
	}
	defer last.Close()
	stop()
	wg.Wait()
	_ = last.Patch("BOARD", wssynctest.Replace("/draft", "final"))

	// Wait until the server has the final draft (the client shows it at once: it applies
	// its own writes), then compare against the published state.
	waitUntil(t, func() bool {
		s.RLock()
		defer s.RUnlock()
		return board.Draft == "final"
	})
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	want, v := s.Published()
	got, err := last.WaitVersion(ctxT(t), "BOARD", v)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(got, want) {
		t.Fatalf("client state differs from server:\n got %s\nwant %s", got, want)
	}
	for i, c := range all {
		if err := c.Errs(); err != nil {
			t.Fatalf("client %d saw a protocol violation: %v", i, err)
		}
	}
	s.RLock()
	total := 0
	for _, n := range board.Counters {
		total += n
	}
	s.RUnlock()
	t.Logf("%d mutations, version %d", total, v)
}
