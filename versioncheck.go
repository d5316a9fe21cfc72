package wssync

import (
	"errors"
	mrand "math/rand/v2"
	"time"
)

// VersionChecker is implemented by a Backend whose deliveries can go missing with no sign:
// no Change with Lost, and no later change to reveal the gap when the missed one was the
// last for a while. A Redis Cluster relays a PUBLISH to its other nodes over the cluster
// bus, which drops it while the link between two nodes is down (see wsredis,
// Options.CheckInterval).
//
// An object on such a backend that has had no delivery for CheckInterval asks the backend
// for the key's version (a Load since its own, which costs one round trip and carries no
// state when nothing changed) and catches up when the backend is ahead. A quiet object so
// converges within about CheckInterval of a delivery lost this way; a busy one learns of
// the loss from the next change's version, as before. A check that finds the backend
// ahead counts in BackendStatus.Missed, also when the change's message was merely still on
// its way (it then changes nothing when it arrives); on a quiet object that is rare. Zero
// or less: no checks.
type VersionChecker interface {
	Backend
	CheckInterval() time.Duration
}

// checkInterval is how long o's link waits without a delivery before it checks the
// backend's version, or 0 for never.
func (d *distLink) checkInterval() time.Duration {
	if c, ok := d.be.(VersionChecker); ok {
		return max(c.CheckInterval(), 0)
	}
	return 0
}

// armCheck starts the wait for the next check, with up to a quarter of it added at random
// so that the objects of a node, and the nodes, do not all ask at once.
func (d *distLink) armCheck(t *time.Timer, every time.Duration) {
	if every <= 0 {
		return
	}
	t.Reset(every + mrand.N(every/4+1))
}

// checkVersion asks the backend for o's key's version, without holding o (a slow backend
// never holds up local publishing), and catches up when the backend is ahead of o: a
// delivery went missing with no sign. An unreachable backend is left to the next commit
// or check. It reports whether o was behind.
func (d *distLink) checkVersion(o *object) bool {
	o.pub.Lock()
	v, offline := o.version, d.offline
	o.pub.Unlock()
	if offline || o.gone.Load() {
		return false
	}
	d.stats.checks.Add(1)
	ctx, cancel := d.opContext()
	snap, err := d.be.Load(ctx, o.key, v)
	cancel()
	if err != nil || snap.Version == v {
		return false
	}
	o.pub.Lock()
	defer o.pub.Unlock()
	if o.gone.Load() || d.offline || o.version != v {
		return false // something arrived or happened meanwhile, and was handled
	}
	d.stats.missed.Add(1)
	d.log.Warn("wssync: the backend is ahead of the last change delivered; catching up",
		"key", o.key, "version", v, "backend", snap.Version)
	o.settleFollowLocked(o.catchUpLocked(catchUp{}))
	return true
}

// settleFollowLocked ends a catch-up made while following the backend: on success it
// makes again what is waiting to be made; an unreachable backend takes o offline; any
// other error is logged. The caller holds pub.
func (o *object) settleFollowLocked(err error) {
	d := o.dist
	if err == nil {
		o.runReplaysLocked()
		return
	}
	if errors.Is(err, errBackendUnreachable) {
		d.goOffline(o, err)
		return
	}
	d.log.Error("wssync: cannot follow the backend", "key", o.key, "err", err)
}
