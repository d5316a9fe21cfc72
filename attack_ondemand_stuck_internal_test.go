package wssync

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

// TestAttackOnDemandRoomNoStuckQueue is TestSharedRoomConvergence from inside: fifty
// sessions share a room and write to it at once through writes and actions while the
// server updates it. A client that does not reach the published version within a minute
// is reported with its connection's outbound queue: frames queued with no writer running
// is a lost wake-up.
func TestAttackOnDemandRoomNoStuckQueue(t *testing.T) {
	t.Parallel()
	roomHammer(t, Limits{RatePerSecond: -1})
}

// TestAttackRoomWithTinyQueues is the same room with outbound queues of sixteen frames (room for the results, not for the patches): every
// client overflows again and again, so its patches are replaced by _SETs throughout, and
// each must still end at the published version with no version out of order.
func TestAttackRoomWithTinyQueues(t *testing.T) {
	t.Parallel()
	roomHammer(t, Limits{RatePerSecond: -1, MaxQueuedFrames: 16})
}

// roomHammer runs the room of TestAttackOnDemandRoomNoStuckQueue with the given limits.
func roomHammer(t *testing.T, lim Limits) {
	type room struct {
		Topic string            `sync:"topic,write"`
		Votes map[string]int    `sync:"votes"`
		Lines []string          `sync:"lines"`
		Seen  map[string]string `sync:"seen,write"`
	}
	r := &room{Votes: map[string]int{}, Seen: map[string]string{}}
	shared, err := NewShared("ROOM", r)
	if err != nil {
		t.Fatal(err)
	}
	if err := Action(shared, "say", func(ctx context.Context, p struct {
		Text string `json:"text"`
	}) error {
		return shared.Update(func(r *room) { r.Lines = append(r.Lines, p.Text) })
	}); err != nil {
		t.Fatal(err)
	}
	const clients, writes = 50, 20
	sess := make([]*Session, clients)
	cs := make([]*wssynctest.Client, clients)
	for i := range clients {
		sess[i] = NewSession(WithLimits(lim))
		if err := shared.Join(sess[i]); err != nil {
			t.Fatal(err)
		}
		url := wstest.Serve(t, http.HandlerFunc(sess[i].ServeWS))
		t.Cleanup(sess[i].Close)
		cs[i] = wstest.Dial(t, url)
		wstest.WaitType(t, cs[i], "_SET:ROOM")
	}
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			me := fmt.Sprint("user", i)
			for w := range writes {
				switch w % 3 {
				case 0:
					_ = c.Patch("ROOM", wssynctest.Op{Op: "add", Path: "/seen/" + me, Value: fmt.Sprint(w)})
				case 1:
					_ = c.SendFrame(map[string]any{"type": "_ACTION:ROOM", "id": fmt.Sprint(w), "data": map[string]any{"type": "say", "text": fmt.Sprintf("%s-%d", me, w)}})
				case 2:
					_ = c.Patch("ROOM", wssynctest.Replace("/topic", me))
				}
			}
		}()
	}
	for i := range 50 {
		_ = shared.Update(func(r *room) { r.Votes[fmt.Sprint("server", i%5)]++ })
	}
	wg.Wait()
	said := (writes + 1) / 3
	deadline := time.Now().Add(60 * time.Second)
	for i, c := range cs {
		for n := 0; n < said; {
			n = 0
			for _, f := range c.Frames() {
				if f.Type == "_RESULT" {
					n++
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("client %d: %d of %d results after a minute; %s", i, n, said, queueReport(sess, cs))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	_, v := shared.Published()
	for i, c := range cs {
		for {
			_, cv, _ := c.State("ROOM")
			if cv >= v {
				break
			}
			if time.Now().After(deadline) {
				head := ""
				for k, f := range c.Frames() {
					if k == 12 {
						break
					}
					vv := uint64(0)
					if f.V != nil {
						vv = *f.V
					}
					head += fmt.Sprintf(" %s(v%d,%d bytes)", f.Type, vv, len(f.Data))
				}
				t.Fatalf("client %d at v%d of v%d after a minute; its first frames:%s; stats %+v; %s", i, cv, v, head, sess[i].Stats(), queueReport(sess, cs))
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := c.Errs(); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
}

// queueReport describes every connection whose client is behind: its queue and whether
// a writer or dispatcher runs.
func queueReport(sess []*Session, cs []*wssynctest.Client) string {
	out := ""
	for i, s := range sess {
		c := s.live.Load()
		_, cv, _ := cs[i].State("ROOM")
		if c == nil {
			out += fmt.Sprintf("\n  %d: no live connection (client v%d, close %v)", i, cv, cs[i].CloseError())
			continue
		}
		c.q.mu.Lock()
		queued, writing, closed := len(c.q.items)-c.q.head, c.q.writing, c.q.closed
		kinds := ""
		for _, it := range c.q.items[c.q.head:] {
			kinds += fmt.Sprint(it.kind)
		}
		c.q.mu.Unlock()
		c.work.mu.Lock()
		n := c.work.n
		c.work.mu.Unlock()
		c.in.mu.Lock()
		inq, running := len(c.in.frames), c.in.running
		c.in.mu.Unlock()
		locked := !c.writeMu.TryLock()
		if !locked {
			c.writeMu.Unlock()
		}
		out += fmt.Sprintf("\n  %d: client v%d; out queue %d items [%s] writing=%v closed=%v writeMu held=%v; in queue %d running=%v; work %d",
			i, cv, queued, kinds, writing, closed, locked, inq, running, n)
	}
	return out
}
