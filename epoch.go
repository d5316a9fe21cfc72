package wssync

import (
	"crypto/rand"
	"strconv"
)

// This file names the incarnations of a key's history. A version alone does not name a
// state: a process that restarts, a session rebuilt on another node, a Redis restarted
// empty all count again from numbers a client may already hold. Every `_SET` carries the
// key's epoch, and a client that resumes (resume.go) names the epoch of the version it
// holds; a patch is sent only when the epochs match.

// newEpoch returns a fresh random epoch, for an object of this process: no other object,
// process or node ever has it.
func newEpoch() string { return rand.Text() }

// adoptEpochLocked makes the backend's incarnation e of the key (Snapshot.Epoch, the
// first version of the incarnation) the object's epoch, after a load of the whole state.
// Every node that loads the same incarnation derives the same epoch, so a client resumes
// on any of them. A backend that does not report its incarnation (e is 0) gives a fresh
// random epoch: resuming then works on this node only, until its next whole load. The
// caller holds pub.
func (o *object) adoptEpochLocked(e uint64) {
	epoch := "b" + strconv.FormatUint(e, 10)
	if e == 0 {
		epoch = newEpoch()
	}
	if o.epochBackend && epoch == o.epoch {
		return
	}
	o.epoch, o.epochBackend = epoch, true
	o.setCache = nil
	o.hist.reset()
}

// forkLocked reports whether the publish about to happen forks the key's history: the
// object is offline (its backend unreachable), so the versions it publishes now are this
// node's only, and the backend will hand out the same numbers for other states. It then
// gives the object a fresh epoch of its own, until a whole load of the backend's state
// adopts the backend's again. The caller holds pub.
func (o *object) forkLocked() bool {
	if o.dist == nil || !o.dist.offline || !o.epochBackend {
		return false
	}
	o.epoch, o.epochBackend = newEpoch(), false
	o.hist.reset()
	return true
}
