package wssync

import "testing"

func kinds(q *outQueue) []outKind {
	var ks []outKind
	for {
		it, ok := q.pop()
		if !ok {
			return ks
		}
		ks = append(ks, it.kind)
	}
}

func TestOutQueueResyncFollowsEarlierFrames(t *testing.T) {
	q := newOutQueue(8, 1<<20, newMetrics())
	o := &object{}
	q.resync(o)                              // connect-time _SET
	q.push(&frame{data: []byte("err")}, nil) // a refusal
	q.resync(o)                              // its _SET must come after it
	got := kinds(q)
	if len(got) != 2 || got[0] != outFrame || got[1] != outResync {
		t.Fatalf("order %v, want [frame resync]", got)
	}
}

// TestOutQueueResyncWhileSetInFlight: a resync that comes while the writer builds the _SET
// of an earlier one (it took the marker and waits for the object) keeps the object
// unbased, so no patch queues behind the new marker: that marker's _SET, built later,
// holds those patches already, and the client would get them twice.
func TestOutQueueResyncWhileSetInFlight(t *testing.T) {
	q := newOutQueue(8, 1<<20, newMetrics())
	o := &object{}
	q.resync(o)
	if it, ok := q.pop(); !ok || it.kind != outResync {
		t.Fatalf("first item %v, %v; want the resync marker", it.kind, ok)
	}
	q.resync(o)                               // while the writer waits for o.pub
	q.markBased(o)                            // the writer sent the first _SET
	q.pushPatch(o, &frame{data: []byte("p")}) // published after it: the second _SET holds it
	if got := kinds(q); len(got) != 1 || got[0] != outResync {
		t.Fatalf("queue %v, want the second resync marker only", got)
	}
	q.markBased(o)
	q.pushPatch(o, &frame{data: []byte("p2")})
	if got := kinds(q); len(got) != 1 || got[0] != outPatch {
		t.Fatalf("queue %v after the second _SET, want the next patch", got)
	}
}

func TestOutQueueCoalescesPatchesWhenFull(t *testing.T) {
	q := newOutQueue(4, 1<<20, newMetrics())
	a, b := &object{}, &object{}
	q.based[a], q.based[b] = true, true
	q.pushPatch(b, &frame{data: []byte("b1")})
	for range 10 {
		q.pushPatch(a, &frame{data: []byte("a")})
	}
	frames, _, _ := q.stats()
	if frames > 4 {
		t.Fatalf("%d frames queued over a bound of 4", frames)
	}
	// b's patch is kept, a's were replaced by one resync, and a gets no patch before it.
	var seq []string
	for {
		it, ok := q.pop()
		if !ok {
			break
		}
		switch {
		case it.kind == outResync && it.obj == a:
			seq = append(seq, "setA")
			q.markBased(a)
		case it.kind == outPatch && it.obj == a:
			seq = append(seq, "patchA")
		case it.kind == outPatch && it.obj == b:
			seq = append(seq, "patchB")
		}
	}
	if len(seq) != 2 || seq[0] != "patchB" || seq[1] != "setA" {
		t.Fatalf("sequence %v, want [patchB setA]", seq)
	}
}

func TestOutQueueOverflowOfOrdinaryFrames(t *testing.T) {
	q := newOutQueue(2, 1<<20, newMetrics())
	if !q.push(&frame{data: []byte("1")}, nil) || !q.push(&frame{data: []byte("2")}, nil) {
		t.Fatal("refused within bounds")
	}
	if q.push(&frame{data: []byte("3")}, nil) {
		t.Fatal("accepted over bounds")
	}
}
