package wssync

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

type attachDoc struct {
	N int `sync:"n"`
}

// A change published while a connection is being attached reaches its client: the _SET
// queued for it is written only once the connection is live, so it holds the change, or
// the change follows it as a patch. Before, the writer could write a _SET built at v0
// while the connection was not yet live; the patch of v1, published then, found no live
// connection and was dropped, and the client stayed at v0 with no gap to notice (seen in CI
// as TestSyncThrottled waiting for its first patch, and in the nodes suite as a client one
// version behind its node).
func TestChangeDuringAttachReachesTheClient(t *testing.T) {
	t.Parallel()
	sess := NewSession()
	doc := &attachDoc{}
	s, err := Register(sess, "DOC", doc)
	if err != nil {
		t.Fatal(err)
	}
	url := wstest.Serve(t, http.HandlerFunc(sess.ServeWS))
	t.Cleanup(sess.Close)

	setSent := make(chan *wssynctest.Client, 1)
	var client *wssynctest.Client
	dialed := make(chan struct{})
	sess.attaching = func() {
		// The _SET is queued and c is not live yet: give a writer started too early the
		// time to write it, then change the object.
		<-dialed
		if client == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if _, err := client.WaitFrame(ctx, func(f wssynctest.Frame) bool { return f.Type == "_SET:DOC" }); err == nil {
			setSent <- client
		}
		s.Lock()
		doc.N = 1
		s.Unlock()
		if err := s.Sync(); err != nil {
			t.Error(err)
		}
	}
	var dialErr error
	go func() {
		defer close(dialed)
		client, dialErr = wssynctest.Dial(wstest.Context(t), url)
	}()
	<-dialed
	if dialErr != nil {
		t.Fatal(dialErr)
	}
	t.Cleanup(func() { _ = client.Close() })
	got, err := wssynctest.WaitState(wstest.Context(t), client, "DOC", func(d attachDoc) bool { return d.N == 1 })
	if err != nil {
		t.Fatalf("the change made during the attach did not reach the client: %+v, %v (frames %s)", got, err, wstest.FrameTypes(client.Frames()))
	}
	select {
	case <-setSent: // the hook has run: the change it made has arrived
		t.Error("the _SET was written before the connection was live (its change reached the client all the same)")
	default:
	}
}
