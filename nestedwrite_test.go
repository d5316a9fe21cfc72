package wssync_test

import (
	"context"
	"reflect"
	"sync"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

// ItemList is a shared list whose elements clients edit in place with nested paths, as the
// React client's draft updates send them (`replace /items/3/qty`, `add /tags/-`).
type ItemList struct {
	Items []Item   `sync:"items,write"`
	Tags  []string `sync:"tags,write"`
}

// Two writers editing different elements of one shared list at the same moment, each with
// a nested op, both keep their edit: neither write carries the other's element, so the
// server applies both and every client ends in the same state.
func TestConcurrentNestedWritesToDifferentElementsBothSurvive(t *testing.T) {
	t.Parallel()
	board := &ItemList{Items: []Item{{"a", 0}, {"b", 0}, {"c", 0}}, Tags: []string{"x"}}
	s, err := wssync.NewShared("LIST", board)
	if err != nil {
		t.Fatal(err)
	}
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error { return s.Join(sess) }, wssync.WithLimits(wssync.Limits{RatePerSecond: -1}))
	url := serveManager(t, m)
	a := dialAs(t, url, "ann", "a")
	b := dialAs(t, url, "bob", "b")
	waitType(t, a, "_SET:LIST")
	waitType(t, b, "_SET:LIST")

	var wg sync.WaitGroup
	send := func(c *wssynctest.Client, ops ...wssynctest.Op) {
		defer wg.Done()
		if err := c.Patch("LIST", ops...); err != nil {
			t.Error(err)
		}
	}
	wg.Add(2)
	go send(a, wssynctest.Replace("/items/0/qty", 1), wssynctest.Op{Op: "add", Path: "/tags/-", Value: "from-a"})
	go send(b, wssynctest.Replace("/items/2/qty", 2), wssynctest.Replace("/items/2/name", "C"))
	wg.Wait()

	want := ItemList{Items: []Item{{"a", 1}, {"b", 0}, {"C", 2}}}
	done := func(c *wssynctest.Client) func() bool {
		return func() bool {
			var got ItemList
			_ = c.Decode("LIST", &got)
			return reflect.DeepEqual(got.Items, want.Items) && len(got.Tags) == 2
		}
	}
	for _, c := range []*wssynctest.Client{a, b} {
		if err := c.WaitFor(ctxT(t), done(c)); err != nil {
			var got ItemList
			_ = c.Decode("LIST", &got)
			t.Fatalf("client state %+v: %v", got, err)
		}
	}
	s.RLock()
	got := *board
	s.RUnlock()
	if !reflect.DeepEqual(got.Items, want.Items) || !reflect.DeepEqual(got.Tags, []string{"x", "from-a"}) {
		t.Fatalf("server state %+v", got)
	}
}
