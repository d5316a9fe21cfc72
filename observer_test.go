package wssync_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu      sync.Mutex
	syncs   []string // keys of SyncDone, in order
	written []string // keys of PatchWritten
	bad     []time.Duration
}

func (r *recorder) observer() wssync.Observer {
	return wssync.Observer{
		SyncDone: func(key string, took time.Duration, err error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.syncs = append(r.syncs, key)
			if took < 0 || err != nil {
				r.bad = append(r.bad, took)
			}
		},
		PatchWritten: func(key string, latency time.Duration) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.written = append(r.written, key)
			if latency < 0 {
				r.bad = append(r.bad, latency)
			}
		},
	}
}

func (r *recorder) counts(key string) (syncs, written int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range r.syncs {
		if k == key {
			syncs++
		}
	}
	for _, k := range r.written {
		if k == key {
			written++
		}
	}
	return syncs, written
}

// TestObserverReportsSyncsAndFanOut: a Manager's observer hears every Sync and Update of
// its sessions' objects, those of a shared object they joined, and every published patch
// each connection writes (a shared patch once per subscriber); the session's own _SETs
// are not patches.
func TestObserverReportsSyncsAndFanOut(t *testing.T) {
	t.Parallel()
	var rec recorder
	room, err := wssync.NewShared("ROOM", &Notes{Title: "room"})
	if err != nil {
		t.Fatal(err)
	}
	own := make(chan *wssync.Synced[Notes], 2)
	mgr := wssync.NewManager(func(_ context.Context, sess *wssync.Session) error {
		s, err := wssync.Register(sess, "OWN", &Notes{})
		if err != nil {
			return err
		}
		own <- s
		return room.Join(sess)
	}, wssync.WithObserver(rec.observer()))
	url := serveManager(t, mgr)
	a := wstest.Dial(t, url, wssynctest.WithIdentity("u", "a"))
	b := wstest.Dial(t, url, wssynctest.WithIdentity("u", "b"))
	for _, c := range []*wssynctest.Client{a, b} {
		waitType(t, c, "_SET:ROOM")
	}
	_ = room.Update(func(n *Notes) { n.Title = "changed" })
	for _, c := range []*wssynctest.Client{a, b} {
		waitType(t, c, "_PATCH:ROOM")
	}
	s := <-own
	_ = s.Update(func(n *Notes) { n.Title = "mine" })
	_ = s.Sync() // nothing to publish: reported all the same
	waitUntil(t, func() bool {
		syncs, written := rec.counts("ROOM")
		ownSyncs, ownWritten := rec.counts("OWN")
		return syncs == 1 && written == 2 && ownSyncs == 2 && ownWritten == 1
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.bad) > 0 {
		t.Errorf("negative durations or errors: %v", rec.bad)
	}
}

// TestClosesByCode: Stats counts closes by code: a client's own close as 1000, a second
// connection of a lone session replacing the first as 4000, and a connection a Manager
// refuses after the upgrade (a failed handshake) as 1008.
func TestClosesByCode(t *testing.T) {
	t.Parallel()
	sess, _, url := newNotes(t)
	first := dial(t, url)
	waitType(t, first, "_SET:NOTES")
	second := dial(t, url)
	waitType(t, second, "_SET:NOTES")
	_ = second.Close()
	waitUntil(t, func() bool {
		st := sess.Stats()
		return st.ClosesByCode[wssync.CloseReplaced] == 1 && st.ClosesByCode[wssync.CloseNormal] == 1
	})

	var built atomic.Int32
	m := wssync.NewManager(notesFactory(&built))
	ws := handshakeClient(t, serveManager(t, m), nil)
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"_USER_SESSION","data":{"user":"u","session":""}}`))
	if code, _ := outcome(t, ws, "_SET:NOTES"); code != wssync.ClosePolicyViolation {
		t.Fatalf("close %d, want %d", code, wssync.ClosePolicyViolation)
	}
	if got := m.Stats().ClosesByCode; got[wssync.ClosePolicyViolation] != 1 {
		t.Errorf("ClosesByCode %v, want one %d", got, wssync.ClosePolicyViolation)
	}
	codes := make([]int, 0)
	for c := range sess.Stats().ClosesByCode {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	if !slices.Equal(codes, []int{wssync.CloseNormal, wssync.CloseReplaced}) {
		t.Errorf("lone session's close codes %v", codes)
	}
}

// TestQueuedWithoutConnection: Queued is zero for a session with no live connection.
func TestQueuedWithoutConnection(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	defer sess.Close()
	if f, b := sess.Queued(); f != 0 || b != 0 {
		t.Errorf("Queued() = %d, %d; want 0, 0", f, b)
	}
}
