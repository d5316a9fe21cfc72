package wssync

import "time"

// Observer receives the timings that counters cannot carry, for a metrics package to turn
// into histograms (package wsprom does). Counts are in Stats; an Observer adds durations.
// Every field is optional. The functions run on the goroutine that did the work and must
// return quickly, without blocking and without calling back into the object or session:
// SyncDone on the caller of Sync or Update, after the object's locks are released;
// PatchWritten on the goroutine writing the connection (its writer, or its dispatcher
// flushing a reply), holding the connection's write lock.
//
// It is a struct of functions rather than an interface so that a field added later does
// not break an existing Observer.
type Observer struct {
	// SyncDone is called after each Sync, and each Update, of an object: the key, how long
	// the call took (snapshot, diff, and on an object with a backend the commit; with a
	// session store the save), and its error. A call that found nothing to publish counts too.
	SyncDone func(key string, took time.Duration, err error)

	// PatchWritten is called each time a connection's writer has written a published
	// `_PATCH` of key to its socket, with the time since the patch was published: the
	// fan-out latency, queueing included. With N subscribers a patch is reported N times.
	PatchWritten func(key string, latency time.Duration)
}

// WithObserver makes the session (or every session of a Manager) report to o. An object
// reports its Syncs to the observer of the session it was registered with; a shared object
// (NewShared) to that of the first session with an observer that joins it.
func WithObserver(o Observer) SessionOption {
	return func(c *config) { c.observer = &o }
}

// observesSync reports whether o has an observer of its Syncs, so that a Sync without one
// does not read the clock.
func (o *object) observesSync() bool {
	obs := o.observer.Load()
	return obs != nil && obs.SyncDone != nil
}

// observeSync reports a Sync of o that started at start, if o has an observer.
func (o *object) observeSync(start time.Time, err error) {
	if obs := o.observer.Load(); obs != nil && obs.SyncDone != nil {
		obs.SyncDone(o.key, time.Since(start), err)
	}
}

// observePatch reports that c wrote the published patch f of o.
func (c *conn) observePatch(o *object, f *frame) {
	if obs := c.sess.cfg.observer; obs != nil && obs.PatchWritten != nil && !f.published.IsZero() {
		obs.PatchWritten(o.key, time.Since(f.published))
	}
}
