package wssync

import (
	"testing"
	"time"
)

func TestInQueueOrderAndFinish(t *testing.T) {
	q := newInQueue(4, 100)
	done := make(chan struct{})
	for _, s := range []string{"a", "b", "c"} {
		if waited, ok := q.push(inFrame{data: []byte(s)}, done); waited || !ok {
			t.Fatalf("push %s: waited %v, ok %v", s, waited, ok)
		}
	}
	q.finish()
	for _, want := range []string{"a", "b", "c"} {
		f, ok := q.pop(done)
		if !ok || string(f.data) != want {
			t.Fatalf("pop = %q, %v; want %q: the dispatcher takes what was queued before the reader ended", f.data, ok, want)
		}
	}
	if _, ok := q.pop(done); ok {
		t.Fatal("pop on a finished, empty queue reported a frame")
	}
	if q.bytes != 0 || q.frames != nil {
		t.Errorf("an emptied queue holds %d bytes, %d frames", q.bytes, len(q.frames))
	}
}

// TestInQueueFirstFrameAlwaysFits: a frame larger than the byte bound is queued when the
// queue is empty, so a frame within the read limit never blocks the reader forever.
func TestInQueueFirstFrameAlwaysFits(t *testing.T) {
	q := newInQueue(4, 10)
	if waited, ok := q.push(inFrame{data: make([]byte, 50)}, nil); waited || !ok {
		t.Fatalf("an oversized first frame: waited %v, ok %v", waited, ok)
	}
}

// TestInQueueFullWaitsForRoom: a push over either bound waits until the dispatcher pops.
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
				waited, ok := q.push(inFrame{data: []byte("x")}, nil)
				pushed <- waited && ok
			}()
			select {
			case <-pushed:
				t.Fatal("a push into a full queue returned without waiting")
			case <-time.After(20 * time.Millisecond):
			}
			if _, ok := q.pop(nil); !ok {
				t.Fatal("pop failed")
			}
			select {
			case ok := <-pushed:
				if !ok {
					t.Error("the waiting push did not report that it waited and succeeded")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the waiting push did not go through after a pop")
			}
		})
	}
}

func TestInQueueDoneEndsWaits(t *testing.T) {
	q := newInQueue(1, 100)
	done := make(chan struct{})
	close(done)
	if _, ok := q.pop(done); ok {
		t.Error("pop with done closed reported a frame")
	}
	q.push(inFrame{data: []byte("a")}, nil)
	if waited, ok := q.push(inFrame{data: []byte("b")}, done); !waited || ok {
		t.Errorf("push into a full queue with done closed: waited %v, ok %v; want true, false", waited, ok)
	}
	if _, ok := q.pop(done); ok {
		t.Error("pop with done closed took a frame: a closed connection dispatches nothing more")
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

// A frame pushed onto an empty queue and popped again costs no allocation: the common case
// of a client that waits for each answer.
func TestInQueueOneFrameDoesNotAllocate(t *testing.T) {
	q := newInQueue(4, 100)
	done := make(chan struct{})
	f := inFrame{data: []byte("x")}
	allocs := testing.AllocsPerRun(100, func() {
		q.push(f, done)
		if _, ok := q.pop(done); !ok {
			t.Fatal("pop found nothing")
		}
	})
	if allocs != 0 {
		t.Errorf("push and pop of one frame allocate %v times, want 0", allocs)
	}
}
