package wsclient_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsclient"
)

// Calls, writes, reads and server changes at once, while the connection is cut a few
// times: race-free, and the binding ends in the server's state.
func TestConcurrentUseAcrossCuts(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	p := newProxy(t, s.url)
	c := dial(t, p.url)
	b := bindBoard(t, c)
	waitBoard(t, b, "first state", nil)
	ctx := wstest.Context(t)

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 3 {
		wg.Go(func() {
			for i := range 15 {
				var err error
				switch g {
				case 0:
					_, err = wsclient.Call[int](ctx, c, "BOARD", "add", map[string]int{"n": 1})
				case 1:
					err = b.Update(ctx, func(v *board) { v.Title = fmt.Sprintf("t%d", i) })
				default:
					_ = b.Get()
					b.Read(func(v *board) { _ = len(v.Items) })
					_, err = c.Ping(ctx)
				}
				if err != nil && !errors.Is(err, wsclient.ErrConnectionLost) {
					errs <- err
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 10 {
			_ = s.share.Update(func(x *Board) { x.Items = append(x.Items, fmt.Sprint(i)) })
			if i%3 == 0 {
				p.cut()
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s.share.RLock()
	want := board{Title: s.obj.Title, Count: s.obj.Count, Items: append([]string(nil), s.obj.Items...)}
	s.share.RUnlock()
	got := waitBoard(t, b, "the server's state", func(v board) bool {
		return v.Title == want.Title && v.Count == want.Count && len(v.Items) == len(want.Items)
	})
	if fmt.Sprint(got.Items) != fmt.Sprint(want.Items) {
		t.Fatalf("items %v, server %v", got.Items, want.Items)
	}
}

// A write made while disconnected waits for the key's `_SET` on the next connection, then
// goes out on top of it.
func TestWriteWaitsForTheNextConnection(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	p := newProxy(t, s.url)
	c := dial(t, p.url)
	b := bindBoard(t, c)
	waitBoard(t, b, "first state", nil)
	p.setDown(true)
	p.cut()
	wstest.Eventually(t, "disconnected", func() bool { return !b.Live() })
	must(t, s.share.Update(func(x *Board) { x.Count = 4 })) // while away
	done := make(chan error, 1)
	go func() { done <- b.Update(wstest.Context(t), func(v *board) { v.Title = "offline edit" }) }()
	p.setDown(false)
	if err := wstest.Receive(t, done, "the write's return"); err != nil {
		t.Fatalf("Update: %v", err)
	}
	wstest.Eventually(t, "the server has the write", func() bool {
		s.share.RLock()
		defer s.share.RUnlock()
		return s.obj.Title == "offline edit"
	})
	got := waitBoard(t, b, "both changes", func(v board) bool { return v.Title == "offline edit" && v.Count == 4 })
	if got.Count != 4 {
		t.Fatalf("state = %+v", got)
	}
}
