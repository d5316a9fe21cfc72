package wssync_test

import (
	"sync"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

// TestSyncedRead: Read sees the struct under the object's lock, here a client's write
// over a real socket and Updates running at the same time (go test -race checks the lock).
func TestSyncedRead(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	s, err := wssync.Register(sess, "NOTES", &Notes{Title: "a"})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:NOTES")
	if err := c.Patch("NOTES", wssynctest.Replace("/title", "from the client")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		var title string
		s.Read(func(n *Notes) { title = n.Title })
		return title == "from the client"
	})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				_ = s.Update(func(n *Notes) { n.Notes = append(n.Notes, "x") })
				return
			}
			s.Read(func(n *Notes) { _ = len(n.Notes) })
		}()
	}
	wg.Wait()
	var n int
	s.Read(func(v *Notes) { n = len(v.Notes) })
	if n != 2 {
		t.Errorf("items after two Updates: %d, want 2", n)
	}
}
