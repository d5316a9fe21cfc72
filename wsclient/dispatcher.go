package wsclient

import "sync"

// dispatcher runs callbacks one at a time, in the order they were queued, on a goroutine
// of its own: the reader never waits for an application's callback, and a callback may
// call the client's blocking methods (Call, Update) without deadlocking the reader that
// must deliver their answers. The queue is unbounded: a callback that never returns
// stalls the callbacks, not the connection.
type dispatcher struct {
	mu   sync.Mutex
	q    []func()
	wake chan struct{}
}

func (d *dispatcher) init() { d.wake = make(chan struct{}, 1) }

// enqueue queues fn. It never blocks.
func (d *dispatcher) enqueue(fn func()) {
	d.mu.Lock()
	d.q = append(d.q, fn)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// run runs queued callbacks until stop is closed and the queue is empty.
func (d *dispatcher) run(stop <-chan struct{}) {
	for {
		d.mu.Lock()
		q := d.q
		d.q = nil
		d.mu.Unlock()
		for _, fn := range q {
			fn()
		}
		if len(q) > 0 {
			continue
		}
		select {
		case <-d.wake:
		case <-stop:
			d.mu.Lock()
			empty := len(d.q) == 0
			d.mu.Unlock()
			if empty {
				return
			}
		}
	}
}

// flush waits until every callback queued before it has run. It reports false when stop
// closed first.
func (d *dispatcher) flush(stop <-chan struct{}) bool {
	ran := make(chan struct{})
	d.enqueue(func() { close(ran) })
	select {
	case <-ran:
		return true
	case <-stop:
		return false
	}
}
