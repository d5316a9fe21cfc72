package wssync

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// maxCommitAttempts bounds how often one Sync retries after losing a race to other nodes.
const maxCommitAttempts = 32

// Backoff of the retries that bring an offline object back to its backend.
const (
	reconnectMin = 50 * time.Millisecond
	reconnectMax = 5 * time.Second
	opTimeout    = 5 * time.Second // bounds each backend call
)

// BackendStatus describes a shared object's link to its backend, for tests and metrics.
type BackendStatus struct {
	Attached  bool   // the object has a backend
	Offline   bool   // the backend is unreachable: changes are published locally only
	Commits   uint64 // changes this process committed
	Conflicts uint64 // commits lost to another node, then retried
	Applied   uint64 // changes of other nodes applied as patches
	Reloads   uint64 // whole-state loads (late join, gap, interruption, reconnect)
	Dropped   uint64 // local edits that did not apply to a newer state and were dropped
	Outages   uint64 // times the object went offline
	Landed    uint64 // commits that timed out, found on reconnect to have landed (not applied again)
	Replayed  uint64 // edits made again on the backend's state: made while offline, or lost with the backend's data
	Lost      uint64 // published edits that could not be kept (see docs/scale-out.md, "Faults"): logged and reported to their writer
	Checks    uint64 // version checks made after a quiet spell (VersionChecker)
	Missed    uint64 // checks that found the backend ahead: a delivery went missing with no sign, and the object caught up
}

// distLink is an object's connection to its backend: the subscription, the goroutine
// that applies what it delivers, and the object's offline state.
type distLink struct {
	be         Backend
	log        *slog.Logger
	stop       func() // ends the subscription
	detachOnce sync.Once
	stats      struct {
		commits, conflicts, applied, reloads, dropped, outages atomic.Uint64
		landed, replayed, lost, checks, missed                 atomic.Uint64
	}

	// mu guards the inbox the subscription fills.
	mu    sync.Mutex
	inbox []Change
	lost  bool // an interruption or overflow: reload
	wake  chan struct{}
	quit  chan struct{}
	done  chan struct{}
	ctx   context.Context // cancelled by detach, so no backend call outlives the object
	abort context.CancelFunc

	// reported mirrors offline for BackendStatus, which must answer while a backend call
	// holds pub; it changes only when the object goes offline or is back for good.
	reported atomic.Bool

	// Guarded by the object's pub lock.
	offline   bool
	base      uint64   // while offline: the backend version the local state derives from
	baseState [][]byte // while offline: the published state at base
	edits     []*edit  // while offline: the edits published locally since base, in order
	recent    []*edit  // this node's latest commits to the backend, oldest first (maxRecentCommits)
	forgot    uint64   // the highest version of a commit dropped from recent
	replays   []*edit  // this node's commits lost with the backend's data, to make again
	replaying bool     // runReplaysLocked is running
}

// maxInbox bounds the deliveries waiting for the object; beyond it the object reloads.
const maxInbox = 4096

// attachBackend subscribes o to b, brings it to b's state (or seeds b with it), and
// starts the goroutine that follows b. An unreachable backend is not an error: the
// object starts offline and retries.
func (o *object) attachBackend(b Backend) {
	d := &distLink{be: b, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	d.ctx, d.abort = context.WithCancel(context.Background())
	d.log = slog.New(slog.DiscardHandler)
	if lb, ok := b.(interface{ Logger() *slog.Logger }); ok && lb.Logger() != nil {
		d.log = lb.Logger()
	}
	o.dist = d
	d.stop = b.Subscribe(o.key, d.enqueue)
	o.pub.Lock()
	if err := o.catchUpLocked(catchUp{}); err != nil {
		d.goOffline(o, err)
	}
	o.pub.Unlock()
	go d.run(o)
}

// detach ends the subscription and the following goroutine, and waits for both.
func (d *distLink) detach() {
	d.stop()
	d.abort()
	close(d.quit)
	<-d.done
}

// opContext bounds one backend call.
func (d *distLink) opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(d.ctx, opTimeout)
}

// enqueue is the subscription's callback: it never blocks.
func (d *distLink) enqueue(c Change) {
	d.mu.Lock()
	if c.Lost || len(d.inbox) >= maxInbox {
		d.lost = true
		d.inbox = d.inbox[:0] // a reload covers them
	} else {
		d.inbox = append(d.inbox, c)
	}
	d.mu.Unlock()
	d.signal()
}

func (d *distLink) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *distLink) take() ([]Change, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	in, lost := d.inbox, d.lost
	d.inbox, d.lost = nil, false
	return in, lost
}

// commitResult is what became of one commit.
type commitResult int

const (
	committed  commitResult = iota // the backend holds it
	conflicted                     // another node committed first: catch up and retry
	offlined                       // the backend is unreachable (now or already): publish locally
)

// propose stores a local change (state cur, patch p from the published state) in the
// backend, with a fresh commit ID, which it returns. conflicted reports a version
// conflict: the caller catches up and retries. An unreachable backend takes the object
// offline (offlined) and the change is published locally; the ID is "" when no commit was
// attempted (the object was offline already). The caller holds pub.
func (d *distLink) propose(o *object, cur [][]byte, p []byte) (res commitResult, id string, err error) {
	if d.offline {
		return offlined, "", nil
	}
	id = rand.Text()
	ctx, cancel := d.opContext()
	err = d.be.Commit(ctx, o.key, Proposal{Base: o.version, State: o.appendDoc(nil, cur), Patch: p, ID: id})
	cancel()
	switch {
	case err == nil:
		d.stats.commits.Add(1)
		return committed, id, nil
	case errors.Is(err, ErrVersionConflict):
		d.stats.conflicts.Add(1)
		return conflicted, "", nil
	case o.gone.Load():
		return committed, "", ErrUnregistered
	default:
		d.goOffline(o, err)
		return offlined, id, nil
	}
}

// goOffline records that the backend is unreachable: from now on o publishes locally,
// and its following goroutine retries. The caller holds pub.
func (d *distLink) goOffline(o *object, err error) {
	if d.offline {
		return
	}
	d.offline, d.base, d.baseState, d.edits = true, o.version, o.last, nil
	d.reported.Store(true)
	d.stats.outages.Add(1)
	d.log.Warn("wssync: backend unreachable; serving local subscribers until it returns", "key", o.key, "err", err)
	d.signal()
}

// run applies what the subscription delivers, and while offline retries the backend
// with exponential backoff and full jitter.
func (d *distLink) run(o *object) {
	defer close(d.done)
	backoff := reconnectMin
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	every := d.checkInterval()
	check := time.NewTimer(time.Hour)
	check.Stop()
	defer check.Stop()
	d.armCheck(check, every)
	retrying := false
	for {
		timedOut := false
		select {
		case <-d.quit:
			return
		case <-d.wake:
			check.Stop()
			d.armCheck(check, every) // a delivery: the feed is alive
		case <-retry.C:
			retrying, timedOut = false, true
		case <-check.C:
			d.checkVersion(o)
			d.armCheck(check, every)
			continue
		}
		changes, lost := d.take()
		if timedOut && !lost && d.isOffline(o) && !d.reachable() {
			// still down: probed without holding the object, so local publishing never
			// waits for a backend that hangs
			backoff = d.scheduleRetry(retry, backoff)
			retrying = true
			continue
		}
		o.pub.Lock()
		if o.gone.Load() {
			o.pub.Unlock()
			continue // detach follows
		}
		if d.offline {
			if lost || timedOut {
				o.reconnectLocked()
			}
		} else {
			o.followLocked(changes, lost)
		}
		offline := d.offline
		o.pub.Unlock()
		switch {
		case !offline:
			backoff = reconnectMin
		case !retrying:
			backoff = d.scheduleRetry(retry, backoff)
			retrying = true
		}
	}
}

// scheduleRetry arms retry after a random delay up to backoff (full jitter) and returns
// the next backoff.
func (d *distLink) scheduleRetry(retry *time.Timer, backoff time.Duration) time.Duration {
	retry.Reset(mrand.N(backoff) + time.Millisecond)
	return min(backoff*2, reconnectMax)
}

func (d *distLink) isOffline(o *object) bool {
	o.pub.Lock()
	defer o.pub.Unlock()
	return d.offline
}

// reachable probes the backend with a load of a key nobody uses.
func (d *distLink) reachable() bool {
	ctx, cancel := d.opContext()
	defer cancel()
	_, err := d.be.Load(ctx, "wssync/probe", 0)
	return err == nil
}

// followLocked applies delivered changes in version order: the next version as a patch,
// an old one not at all, and anything after a gap or an interruption by catching up.
// The caller holds pub.
func (o *object) followLocked(changes []Change, lost bool) {
	var err error
	if lost {
		err = o.catchUpLocked(catchUp{whole: true})
	}
	for _, c := range changes {
		if err != nil {
			break
		}
		switch {
		case c.Version <= o.version:
			// ours, or already loaded
		case c.Version == o.version+1:
			if o.applyRemoteLocked(c.Patch, c.Version, false) != nil {
				err = o.catchUpLocked(catchUp{whole: true})
			}
		default:
			err = o.catchUpLocked(catchUp{}) // a gap: some delivery was lost
		}
	}
	o.settleFollowLocked(err)
}

// reconnectLocked brings an offline object back. It first asks the backend whether the
// commit that failed when the object went offline landed after all (a stalled Redis runs
// it when it resumes): if so, that edit is not made again. It then returns to the backend
// version it left from, loads the backend's state (the struct drops every edit made
// meanwhile), and makes each edit published while offline again, in order, as the edit it
// was (see edit), committing each. Every local subscriber gets a _SET, since the versions
// they saw offline were local. The caller holds pub.
func (o *object) reconnectLocked() {
	d := o.dist
	edits := d.edits
	var landed uint64
	if len(edits) > 0 && edits[0].id != "" {
		ctx, cancel := d.opContext()
		v, err := d.be.Outcome(ctx, o.key, edits[0].id, d.base)
		cancel()
		switch {
		case err == nil:
			landed = v
		case errors.Is(err, ErrOutcomeUnknown):
			o.loseLocked(edits[0], err)
			edits = edits[1:]
			d.edits = edits
		default:
			d.log.Debug("wssync: backend still unreachable", "key", o.key, "err", err)
			return
		}
	}
	offLast, offVersion := o.last, o.version
	o.last, o.version, o.setCache = d.baseState, d.base, nil
	o.hist.reset() // the versions published offline were this node's only
	d.offline = false
	o.resyncAllLocked() // first, so no patch of the catch-up reaches a client on a local version
	if err := o.catchUpLocked(catchUp{dropPending: true, whole: true}); err != nil {
		o.last, o.version, o.setCache = offLast, offVersion, nil
		d.offline = true
		d.log.Debug("wssync: backend still unreachable", "key", o.key, "err", err)
		return
	}
	d.reported.Store(false)
	if o.version == d.base {
		// The backend is where the object left it, so the catch-up kept the struct: drop
		// the edits made offline, which are made again below.
		o.state.Lock()
		err := o.moveStructLocked(o.last, nil, true)
		o.state.Unlock()
		if err != nil {
			d.log.Error("wssync: cannot return to the backend's state", "key", o.key, "err", err)
		}
	}
	d.baseState, d.edits = nil, nil
	if landed > 0 {
		d.stats.landed.Add(1)
		d.rememberLocked(edits[0], landed)
		edits = edits[1:]
	} else if len(edits) > 0 {
		edits[0].id = ""
	}
	d.replays = append(d.replays, edits...)
	o.runReplaysLocked()
	// The versions published offline were this node's own, and the catch-up may have
	// found the backend where it was: no base from before now can be answered for.
	o.record.reset(o.version)
	if !d.offline {
		d.log.Info("wssync: backend reachable again; resynchronised", "key", o.key, "version", o.version)
	}
}

// status reports the link's counters; the zero BackendStatus for a nil link.
func (d *distLink) status() BackendStatus {
	if d == nil {
		return BackendStatus{}
	}
	return BackendStatus{
		Attached:  true,
		Offline:   d.reported.Load(),
		Commits:   d.stats.commits.Load(),
		Conflicts: d.stats.conflicts.Load(),
		Applied:   d.stats.applied.Load(),
		Reloads:   d.stats.reloads.Load(),
		Dropped:   d.stats.dropped.Load(),
		Outages:   d.stats.outages.Load(),
		Landed:    d.stats.landed.Load(),
		Replayed:  d.stats.replayed.Load(),
		Lost:      d.stats.lost.Load(),
		Checks:    d.stats.checks.Load(),
		Missed:    d.stats.missed.Load(),
	}
}

// errSessionBackend refuses WithBackend on an object of one session.
var errSessionBackend = errors.New("wssync: WithBackend is for shared objects (NewShared); Register takes none")
