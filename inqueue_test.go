package wssync

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestInQueueOrderAndFinish(t *testing.T) {
	q := newInQueue(4, 100)
	done := make(chan struct{})
	for i, s := range []string{"a", "b", "c"} {
		start, waited, ok := q.push(inFrame{data: []byte(s)}, done)
		if waited || !ok || start != (i == 0) {
			t.Fatalf("push %s: start %v, waited %v, ok %v; want a start for the first push only", s, start, waited, ok)
		}
	}
	drained := q.finish()
	if isClosed(drained) {
		t.Fatal("finish reported the dispatcher ended while it still had frames to handle")
	}
	for _, want := range []string{"a", "b", "c"} {
		f, ok := q.next(done)
		if !ok || string(f.data) != want {
			t.Fatalf("next = %q, %v; want %q: the dispatcher takes what was queued before the reader ended", f.data, ok, want)
		}
	}
	if _, ok := q.next(done); ok {
		t.Fatal("next on an empty queue reported a frame")
	}
	if !isClosed(drained) {
		t.Error("the dispatcher ended, but finish's channel is still open")
	}
	if q.bytes != 0 || q.frames != nil || q.running {
		t.Errorf("an emptied queue holds %d bytes, %d frames, running %v", q.bytes, len(q.frames), q.running)
	}
	if !isClosed(q.finish()) {
		t.Error("finish with no dispatcher running returned an open channel")
	}
}

// TestInQueueDispatcherRestarts: once the dispatcher has ended on an empty queue, the next
// push asks for a new one, and only that push.
func TestInQueueDispatcherRestarts(t *testing.T) {
	q := newInQueue(4, 100)
	for round := 0; round < 3; round++ {
		if start, _, _ := q.push(inFrame{data: []byte("a")}, nil); !start {
			t.Fatalf("round %d: a push onto a queue with no dispatcher did not ask for one", round)
		}
		if start, _, _ := q.push(inFrame{data: []byte("b")}, nil); start {
			t.Fatalf("round %d: a push while a dispatcher runs asked for a second", round)
		}
		for range 2 {
			if _, ok := q.next(nil); !ok {
				t.Fatalf("round %d: next found nothing", round)
			}
		}
		if _, ok := q.next(nil); ok {
			t.Fatalf("round %d: next on an empty queue reported a frame", round)
		}
	}
}

// TestInQueueBeginCountsAsRunning: frames pushed while the first dispatcher runs the
// connect hooks are left to it.
func TestInQueueBeginCountsAsRunning(t *testing.T) {
	q := newInQueue(4, 100)
	q.begin()
	if start, _, _ := q.push(inFrame{data: []byte("a")}, nil); start {
		t.Fatal("a push during the connect hooks asked for a second dispatcher")
	}
	if f, ok := q.next(nil); !ok || string(f.data) != "a" {
		t.Fatalf("next = %q, %v", f.data, ok)
	}
}

// TestInQueueOneDispatcherAtATime drives the queue the way a connection does, a reader
// pushing and starting dispatchers when told to, and checks that every frame is handled
// exactly once, in order, by one dispatcher at a time, and that finish waits for the last.
func TestInQueueOneDispatcherAtATime(t *testing.T) {
	const n = 20000
	q := newInQueue(8, 1<<20)
	var (
		wg      sync.WaitGroup
		active  atomic.Int32
		overlap atomic.Bool
		mu      sync.Mutex
		got     []int
	)
	dispatch := func() {
		defer wg.Done()
		for {
			f, ok := q.next(nil)
			if !ok {
				return
			}
			if active.Add(1) != 1 { // between a frame taken and the next call: handling it
				overlap.Store(true)
			}
			mu.Lock()
			got = append(got, int(f.data[0])|int(f.data[1])<<8|int(f.data[2])<<16)
			mu.Unlock()
			active.Add(-1)
		}
	}
	for i := range n {
		start, _, _ := q.push(inFrame{data: []byte{byte(i), byte(i >> 8), byte(i >> 16)}}, nil)
		if start {
			wg.Add(1)
			go dispatch()
		}
	}
	<-q.finish()
	wg.Wait()
	if len(got) != n {
		t.Fatalf("handled %d frames of %d", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("frame %d handled as the %dth: out of order or twice", v, i)
		}
	}
	if overlap.Load() {
		t.Error("two dispatchers handled frames at the same time")
	}
}

// TestInQueueFirstFrameAlwaysFits: a frame larger than the byte bound is queued when the
// queue is empty, so a frame within the read limit never blocks the reader forever.
func TestInQueueFirstFrameAlwaysFits(t *testing.T) {
	q := newInQueue(4, 10)
	if _, waited, ok := q.push(inFrame{data: make([]byte, 50)}, nil); waited || !ok {
		t.Fatalf("an oversized first frame: waited %v, ok %v", waited, ok)
	}
}

// TestInQueueFullWaitsForRoom: a push over either bound waits until the dispatcher takes
// a frame.
func TestInQueueFullWaitsForRoom(t *testing.T) {
	for _, tc := range []struct {
		name          string
		frames, bytes int
		first         []int // sizes queued first, filling the queue
	}{
		{"frames", 2, 1000, []int{1, 1}},
		{"bytes", 10, 10, []int{6, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newInQueue(tc.frames, tc.bytes)
			for _, n := range tc.first {
				q.push(inFrame{data: make([]byte, n)}, nil)
			}
			pushed := make(chan bool, 1)
			go func() {
				start, waited, ok := q.push(inFrame{data: []byte("x")}, nil)
				pushed <- waited && ok && !start
			}()
			select {
			case <-pushed:
				t.Fatal("a push into a full queue returned without waiting")
			case <-time.After(20 * time.Millisecond):
			}
			if _, ok := q.next(nil); !ok {
				t.Fatal("next failed")
			}
			select {
			case ok := <-pushed:
				if !ok {
					t.Error("the waiting push did not report that it waited and succeeded (with the dispatcher still running)")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the waiting push did not go through after a frame was taken")
			}
		})
	}
}

func TestInQueueDoneEndsWaits(t *testing.T) {
	q := newInQueue(1, 100)
	done := make(chan struct{})
	close(done)
	q.push(inFrame{data: []byte("a")}, nil)
	if _, waited, ok := q.push(inFrame{data: []byte("b")}, done); !waited || ok {
		t.Errorf("push into a full queue with done closed: waited %v, ok %v; want true, false", waited, ok)
	}
	drained := q.finish()
	if _, ok := q.next(done); ok {
		t.Error("next with done closed took a frame: a closed connection dispatches nothing more")
	}
	if !isClosed(drained) || q.running {
		t.Error("a dispatcher that ended on a closed connection is still counted as running")
	}
}

func TestNotifyNeverBlocks(t *testing.T) {
	ch := make(chan struct{}, 1)
	notify(ch)
	notify(ch) // the channel is full: dropped, not blocked
	<-ch
	select {
	case <-ch:
		t.Error("two notifies left two signals in a channel of capacity 1")
	default:
	}
}

// A frame pushed onto an empty queue and taken again costs no allocation: the common case
// of a client that waits for each answer.
func TestInQueueOneFrameDoesNotAllocate(t *testing.T) {
	q := newInQueue(4, 100)
	done := make(chan struct{})
	f := inFrame{data: []byte("x")}
	allocs := testing.AllocsPerRun(100, func() {
		q.push(f, done)
		if _, ok := q.next(done); !ok {
			t.Fatal("next found nothing")
		}
		q.next(done) // the dispatcher ends
	})
	if allocs != 0 {
		t.Errorf("push and next of one frame allocate %v times, want 0", allocs)
	}
}
