package wssync

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
)

// queueSubscriber is a subscriber whose deliveries go straight to one outbound queue, as
// a Session's go to its live connection's.
type queueSubscriber struct{ q *outQueue }

func (s queueSubscriber) deliver(o *object, f *frame) { s.q.pushPatch(o, f, false) }
func (s queueSubscriber) resync(o *object)            { s.q.resync(o) }

// TestOutQueueHistoryUnderInterleavings drives one object's publishes, resync requests,
// queue overflows and the writer's steps in random orders, the writer's pop and its _SET
// apart (another publish may come between them, as on a real connection), and checks the
// frames written: after each _SET at version v, the patches v+1, v+2, ... in order, with no
// gap and no duplicate, and at the end, once drained, the client at the published version.
func TestOutQueueHistoryUnderInterleavings(t *testing.T) {
	type counter struct {
		N int `sync:"n,write"`
		M int `sync:"m,write"`
	}
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		val := &counter{}
		s, err := NewShared("K", val)
		if err != nil {
			t.Fatal(err)
		}
		o := s.o
		q := newOutQueue(1+rng.IntN(6), 1<<20, newMetrics())
		sess := NewSession()
		c := &conn{q: q, sess: sess}
		sess.live.Store(c)
		if err := s.Join(sess); err != nil {
			t.Fatal(err)
		}
		o.subscribe(queueSubscriber{newOutQueue(8, 1<<20, newMetrics())}) // a second one: frames are shared
		q.resync(o)                                                       // attach

		var have uint64
		based := false
		var popped *outItem // popped by the writer, not yet written
		write := func(it outItem) {
			f := it.f
			if it.kind == outResync {
				if f = c.resyncFrame(it.obj); f == nil {
					return
				}
			}
			var m struct {
				Type string  `json:"type"`
				V    *uint64 `json:"v"`
			}
			if err := json.Unmarshal(f.data, &m); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			switch m.Type {
			case "_SET:K":
				have, based = *m.V, true
			case "_PATCH:K":
				if !based || *m.V != have+1 {
					t.Fatalf("seed %d: patch v%d after v%d (based %v)", seed, *m.V, have, based)
				}
				have = *m.V
			}
		}
		for range 400 {
			switch r := rng.IntN(10); {
			case r < 4:
				_ = s.Update(func(v *counter) { v.N++ })
			case r == 4:
				q.resync(o) // a _GET, a refused write
			case r == 5:
				q.push(eventFrame("_TOAST", []byte(`{}`)), nil) // may overflow: compacts
			case r == 6:
				q.moveResync(o)
			case r == 7:
				path := [...]string{"/n", "/m"}[rng.IntN(2)]
				op := fmt.Sprintf(`[{"op":"replace","path":%q,"value":%d}]`, path, rng.IntN(3))
				_ = o.clientPatchFrom(sess, json.RawMessage(op), 1<<10, newWriteEcho(c))
			case popped == nil:
				if it, ok := q.pop(); ok {
					popped = &it
				}
			default:
				write(*popped)
				popped = nil
			}
		}
		if popped != nil {
			write(*popped)
		}
		for {
			it, ok := q.pop()
			if !ok {
				break
			}
			write(it)
		}
		if _, v := s.Published(); !based || have != v {
			t.Fatalf("seed %d: client at v%d (based %v), published v%d", seed, have, based, v)
		}
	}
}
