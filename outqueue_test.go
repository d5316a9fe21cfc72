package wssync

import (
	"testing"
	"time"
)

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
	q.resync(o)                                     // while the writer waits for o.pub
	q.markBased(o)                                  // the writer sent the first _SET
	q.pushPatch(o, &frame{data: []byte("p")}, true) // published after it: the second _SET holds it
	if got := kinds(q); len(got) != 1 || got[0] != outResync {
		t.Fatalf("queue %v, want the second resync marker only", got)
	}
	q.markBased(o)
	q.pushPatch(o, &frame{data: []byte("p2")}, true)
	if got := kinds(q); len(got) != 1 || got[0] != outPatch {
		t.Fatalf("queue %v after the second _SET, want the next patch", got)
	}
}

func TestOutQueueCoalescesPatchesWhenFull(t *testing.T) {
	q := newOutQueue(4, 1<<20, newMetrics())
	a, b := &object{}, &object{}
	q.based[a], q.based[b] = true, true
	q.pushPatch(b, &frame{data: []byte("b1")}, true)
	for range 10 {
		q.pushPatch(a, &frame{data: []byte("a")}, true)
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

// A resync queued while an earlier _SET is being sent: that _SET must not mark the object
// based, or the patches published meanwhile would follow the newer _SET, out of order.
func TestOutQueueResyncDuringSetKeepsPatchesDropped(t *testing.T) {
	q := newOutQueue(8, 1<<20, newMetrics())
	o := &object{}
	q.resync(o)
	if it, _ := q.pop(); it.kind != outResync {
		t.Fatalf("popped %v", it.kind)
	}
	q.resync(o)    // a _GET or a refusal, before the first _SET is written
	q.markBased(o) // the first _SET was written
	q.pushPatch(o, &frame{data: []byte("p")}, true)
	if got := kinds(q); len(got) != 1 || got[0] != outResync {
		t.Fatalf("queued %v, want only the second resync", got)
	}
}

// The echo of a write sends whole the fields where the write overlaps a patch queued for
// (or recently sent to) the writer, and the residual elsewhere.
func TestOutQueueEchoOverlap(t *testing.T) {
	q := newOutQueue(16, 1<<20, newMetrics())
	o := &object{writes: true, patchHd: []byte(`{"type":"_PATCH:K","data":[`), fields: []boundField{
		{wire: "tags", pointer: "/tags"}, {wire: "seen", pointer: "/seen"}, {wire: "count", pointer: "/count"},
	}}
	q.based[o] = true
	plan := func() *echoPlan {
		return &echoPlan{o: o, v: 2, cur: [][]byte{[]byte(`["s","a","m"]`), []byte(`{"u1":1,"u2":2}`), []byte(`3`)},
			ops: [][]byte{nil, nil, []byte(`{"op":"replace","path":"/count","value":3}`)}}
	}
	q.pushPatch(o, &frame{data: []byte(`{"type":"_PATCH:K","data":[{"op":"add","path":"/tags/0","value":"s"},{"op":"add","path":"/seen/u2","value":2}],"v":1}`)}, true)
	q.pushEcho(o, plan(), [][]string{footprint("/tags/1"), footprint("/seen/u1")})
	q.pop()
	it, _ := q.pop()
	want := `{"type":"_PATCH:K","data":[{"op":"replace","path":"/tags","value":["s","a","m"]},{"op":"replace","path":"/count","value":3}],"v":2}`
	if string(it.f.data) != want {
		t.Fatalf("echo %s\nwant %s", it.f.data, want)
	}
	// The patch was sent, but recently: a write to tags still gets the field whole; a write
	// to another member of seen does not.
	q.pushEcho(o, plan(), [][]string{footprint("/tags/-")})
	if it, _ := q.pop(); string(it.f.data) != want {
		t.Fatalf("echo %s", it.f.data)
	}
	q.pushEcho(o, plan(), [][]string{footprint("/seen/u3")})
	if it, _ := q.pop(); !jsonEqual(it.f.data, []byte(`{"type":"_PATCH:K","data":[{"op":"replace","path":"/count","value":3}],"v":2}`)) {
		t.Fatalf("echo %s", it.f.data)
	}
}

// TestOutQueueWriterLifecycle: a push that wakes starts one writer, further pushes while
// it runs start none, a push without waking starts none, and once the writer has ended on
// an empty queue the next push starts a new one.
func TestOutQueueWriterLifecycle(t *testing.T) {
	q := newOutQueue(8, 1<<20, newMetrics())
	starts := 0
	q.start = func() bool { starts++; return true }
	f := &frame{data: []byte(`{"type":"x"}`)}
	q.push(f, nil)
	q.push(f, nil)
	if starts != 1 {
		t.Fatalf("two pushes started %d writers, want 1", starts)
	}
	for range 2 {
		if q.endIfEmpty() {
			t.Fatal("the writer ended with frames queued")
		}
		q.pop()
	}
	if !q.endIfEmpty() {
		t.Fatal("the writer did not end on an empty queue")
	}
	q.pushWaking(f, nil, false)
	if starts != 1 {
		t.Fatal("a push that does not wake started a writer")
	}
	q.signal()
	if starts != 2 {
		t.Fatalf("signal with a frame queued and no writer started %d writers in all, want 2", starts)
	}
	q.signal()
	if starts != 2 {
		t.Fatal("signal while a writer runs started another")
	}
	q.pop()
	q.endIfEmpty()
	q.signal()
	if starts != 2 {
		t.Fatal("signal on an empty queue started a writer")
	}
	q.start = func() bool { starts++; return false } // the connection has ended
	q.push(f, nil)
	q.push(f, nil)
	if starts != 4 || q.writing {
		t.Errorf("after a refused start: %d starts, writing %v; want each push to try, writing false", starts, q.writing)
	}
}

// The recently sent patches older than echoWindow are forgotten, and the list let go of
// once none is left, so a connection gone quiet does not keep its last patches' frames.
func TestOutQueueForgetsOldSentPatches(t *testing.T) {
	q := newOutQueue(8, 1<<20, newMetrics())
	o := &object{writes: true}
	q.markBased(o)
	for range 5 {
		q.pushPatch(o, &frame{data: []byte(`[{"op":"add","path":"/a","value":1}]`)}, false)
	}
	kinds(q)
	if len(q.recent) != 5 {
		t.Fatalf("%d patches remembered, want 5", len(q.recent))
	}
	now := q.recent[4].at
	q.recent[0].at = now.Add(-echoWindow - time.Second)
	q.recent[1].at = now.Add(-echoWindow)
	q.forgetOldSent(now)
	if len(q.recent) != 3 || !q.recent[0].at.After(now.Add(-echoWindow)) {
		t.Fatalf("%d remembered after forgetting two, want the 3 within echoWindow", len(q.recent))
	}
	q.forgetOldSent(now.Add(echoWindow + time.Second))
	if q.recent != nil {
		t.Fatalf("%d remembered long after the last, want the list let go of", len(q.recent))
	}
}

// TestOutQueueRemembersNoPatchOfReadOnlyObject: the patches of an object no client may
// write are not kept for echoes (there will be none), so a broadcast to many read-only
// connections holds no list of them on each; those of a writable object are.
func TestOutQueueRemembersNoPatchOfReadOnlyObject(t *testing.T) {
	q := newOutQueue(8, 1<<20, newMetrics())
	ro, rw := &object{}, &object{writes: true}
	for _, o := range []*object{ro, rw} {
		q.setSent[o] = true // a later _SET counts as a patch of any path
		q.markBased(o)
		q.pushPatch(o, &frame{data: []byte(`[{"op":"add","path":"/a","value":1}]`)}, false)
		kinds(q)
		q.resync(o) // after the patch was sent: a resync drops the patches still queued
		kinds(q)
	}
	if len(q.recent) != 2 || q.recent[0].obj != rw || q.recent[0].f == nil || q.recent[1].obj != rw {
		t.Fatalf("remembered %d sent items (%v), want the patch and the _SET of the writable object only", len(q.recent), q.recent)
	}
}

// TestObjectWritesFollowsItsFields: a registration marks an object as taking writes
// exactly when one of its fields is writable, which decides whether its sent patches are
// kept for echoes.
func TestObjectWritesFollowsItsFields(t *testing.T) {
	type readOnly struct {
		N int    `sync:"n"`
		S string `sync:"s"`
	}
	type oneWritable struct {
		N int    `sync:"n"`
		S string `sync:"s,write"`
	}
	ro, err := NewShared("ro", &readOnly{})
	if err != nil {
		t.Fatal(err)
	}
	rw, err := NewShared("rw", &oneWritable{})
	if err != nil {
		t.Fatal(err)
	}
	if ro.o.writes || !rw.o.writes {
		t.Fatalf("writes: read-only %v, one writable field %v; want false, true", ro.o.writes, rw.o.writes)
	}
}
