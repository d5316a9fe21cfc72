package wssync

import (
	"fmt"
	"reflect"
)

// The publish path (publishLocked in object.go, Synced in sync.go, applyWrite in write.go)
// is the local engine: it snapshots the struct, diffs it against the published state and
// delivers the patch to this process's subscribers. What an object attached to a Backend
// does besides goes through the methods of this file, on the object's *distLink. Each
// answers trivially for a nil link (an object of this process only), so the local path
// takes no backend branch of its own; the rest of the distributed behaviour (following
// the backend, going offline and back, making edits again) lives in distributed.go,
// catchup.go and replay.go.

// attached reports whether the object has a backend.
func (d *distLink) attached() bool { return d != nil }

// commitLocked offers a change to the backend before it is published: cur is the new
// snapshot, p the patch from the published one, ch the change as it can be made again (nil
// for a plain Sync), attempt the publish attempt (from 1). It records what became of the
// commit (see edit): committed, or published locally because the backend is unreachable.
// After a version conflict it catches up and, for an Update or a client write (remakeOf),
// drops the local edits and makes them again on the newer state, then reports retry: the
// caller snapshots and diffs again. A change made again that fails, or that runs out of
// attempts, leaves the struct as it was. The caller holds pub; with a nil link it returns
// false, nil.
func (d *distLink) commitLocked(o *object, ch *edit, cur [][]byte, p []byte, attempt int) (retry bool, err error) {
	if d == nil {
		return false, nil
	}
	res, id, err := d.propose(o, cur, p)
	if err != nil {
		return false, err
	}
	switch res {
	case committed:
		d.rememberLocked(o.made(ch, p, "", false), o.version+1)
	case offlined:
		d.edits = append(d.edits, o.made(ch, p, id, true))
	case conflicted:
		redo := remakeOf(o, ch)
		err := fmt.Errorf("wssync: key %q: %w after %d attempts", o.key, ErrVersionConflict, attempt)
		if attempt < maxCommitAttempts {
			err = o.catchUpLocked(catchUp{dropPending: redo != nil})
		}
		if err == nil && redo != nil {
			err = redo()
		}
		if err != nil {
			if redo != nil {
				// The change fails whole: its edits, not published, must not ride along
				// with the next change.
				o.dropPendingLocked()
			}
			return false, err
		}
		return true, nil
	}
	return false, nil
}

// remakeOf returns how the change ch is made again on a newer state after a lost race:
// an Update runs its function again, a client write its ops (not rebased as a patch: a
// remote patch that replaced the array the write appended to would wipe the append). Nil
// for a plain Sync, whose edits are rebased onto the newer state as a patch.
func remakeOf(o *object, ch *edit) func() error {
	switch {
	case ch == nil:
		return nil
	case ch.redo != nil:
		return func() error { ch.redo(); return nil }
	case ch.write != nil:
		return func() error {
			o.state.Lock()
			defer o.state.Unlock()
			return ch.write()
		}
	}
	return nil
}

// clientWrite returns the record of a client write (from is the writer's session, targets
// where its ops write, changesOf how its changes are computed, id its request id or "")
// that lets the object make
// it again on the backend's state; nil for a nil link, which never makes an edit again.
func (d *distLink) clientWrite(o *object, from *Session, targets []target, changesOf func() (map[int]reflect.Value, error), id string) *edit {
	if d == nil {
		return nil
	}
	return &edit{writer: from, targets: targets, reqID: id, write: func() error {
		changes, err := changesOf()
		if err == nil {
			err = o.assignChanges(from, changes)
		}
		return err
	}}
}

// close ends the link's subscription and goroutine, once, and waits for both; nothing for
// a nil link.
func (d *distLink) close() {
	if d != nil {
		d.detachOnce.Do(d.detach)
	}
}
