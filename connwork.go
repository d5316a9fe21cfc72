package wssync

import "sync"

// connWork counts a connection's goroutines other than its reader: the dispatcher and the
// writer, which run only while there is work for them, the farewell, and the callbacks of
// its timers (keepalive pings, resync grants, the end of a resume hold). The reader waits for all of them before it returns from ServeWS, so
// none outlives the connection; once it has stopped, nothing new starts.
//
// Its mutex is a leaf: nothing else is locked while it is held.
type connWork struct {
	mu      sync.Mutex
	n       int
	stopped bool
	idle    chan struct{} // closed by the leave that brings n to 0 after stop
}

// enter counts the calling goroutine in, and reports false (counting nothing) once the
// work has stopped. A true enter must be followed by a leave.
func (w *connWork) enter() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return false
	}
	w.n++
	return true
}

func (w *connWork) leave() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n--
	if w.n == 0 && w.stopped && w.idle != nil {
		close(w.idle)
		w.idle = nil
	}
}

// start runs f on a new goroutine counted in, and reports false, not running f, once the
// work has stopped.
func (w *connWork) start(f func()) bool {
	if !w.enter() {
		return false
	}
	go func() {
		defer w.leave()
		f()
	}()
	return true
}

// starter returns a func that starts f as start does, for a goroutine started often (the
// writer after each idle spell, on every fan-out): the goroutine's function is built once
// here, so that a start allocates nothing.
func (w *connWork) starter(f func()) func() bool {
	run := func() {
		defer w.leave()
		f()
	}
	return func() bool {
		if !w.enter() {
			return false
		}
		go run()
		return true
	}
}

// wait stops the work (later starts and enters fail) and waits until every goroutine
// counted in has left.
func (w *connWork) wait() {
	w.mu.Lock()
	w.stopped = true
	if w.n == 0 {
		w.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	w.idle = idle
	w.mu.Unlock()
	<-idle
}
