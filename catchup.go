package wssync

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/wssync/wssync/internal/patch"
)

// This file brings a shared object up to its backend's version: a remote patch applied in
// place, or a reload. Edits the struct holds but has not published (pending edits) are
// kept by rebasing them onto the new state, or dropped when the caller will redo them.

// errBackendUnreachable wraps a backend failure other than a version conflict.
var errBackendUnreachable = errors.New("wssync: backend unreachable")

// catchUp says how catchUpLocked treats the object. The zero value asks for the patches
// since the published version and keeps the struct's pending edits.
type catchUp struct {
	// dropPending drops the edits the struct holds but has not published, rather than
	// rebasing them onto the backend's state: the caller makes them again itself.
	dropPending bool

	// whole asks for the whole state: after an interruption the store may have restarted
	// empty and reused version numbers, so "since my version" cannot be trusted.
	whole bool
}

// catchUpLocked loads the backend's latest state of o and makes it the published one:
// local subscribers get the missing patches when the backend still has them, a _SET
// otherwise. A backend that holds nothing (a new key, or a store that lost its data) is
// seeded with the published state. The caller holds pub; an error wrapping
// errBackendUnreachable leaves the object as it was.
func (o *object) catchUpLocked(how catchUp) error {
	d := o.dist
	discard := how.dropPending
	since := o.version
	if how.whole {
		since = 0
	}
	for attempt := 1; ; attempt++ {
		ctx, cancel := d.opContext()
		snap, err := d.be.Load(ctx, o.key, since)
		cancel()
		if err != nil {
			return fmt.Errorf("%w: load %q: %v", errBackendUnreachable, o.key, err)
		}
		switch {
		case snap.Version == 0:
			err = o.seedLocked()
			if err != nil && !errors.Is(err, ErrVersionConflict) {
				return err
			}
			// Seeded, or another node seeded it first: either way, load it (the
			// backend chose the first version).
			since = 0
		case snap.Patches != nil && snap.Version > o.version && uint64(len(snap.Patches)) == snap.Version-o.version:
			for _, p := range snap.Patches {
				if err := o.applyRemoteLocked(p, o.version+1, discard); err != nil {
					d.log.Warn("wssync: a stored patch does not apply; reloading the whole state", "key", o.key, "err", err)
					since = 0 // asks for the whole state
					break
				}
			}
			if o.version == snap.Version {
				return nil
			}
		case snap.State != nil:
			if o.version > 0 && snap.Epoch > o.version {
				// The backend lost its data since o.version: its key starts again from
				// version Origin of the incarnation o knew.
				o.lostIncarnationLocked(snap.Origin)
			}
			if err := o.adoptLocked(snap.State, snap.Version, discard); err != nil {
				return err
			}
			o.adoptEpochLocked(snap.Epoch)
			return nil
		case snap.Version == o.version:
			return nil
		default:
			return fmt.Errorf("wssync: key %q: the backend returned version %d without a state", o.key, snap.Version)
		}
		if attempt >= maxCommitAttempts {
			return fmt.Errorf("wssync: key %q: could not catch up with the backend", o.key)
		}
	}
}

// seedLocked stores the published state as the first version of a key the backend does
// not hold. The caller holds pub and loads the key next to learn the version.
func (o *object) seedLocked() error {
	state := o.appendState(nil)
	p := append([]byte(`[{"op":"replace","path":"","value":`), state...)
	p = append(p, "}]"...)
	ctx, cancel := o.dist.opContext()
	defer cancel()
	// Origin: the version of the incarnation this node knew, when the backend lost its data.
	err := o.dist.be.Commit(ctx, o.key, Proposal{State: state, Patch: p, ID: rand.Text(), Origin: o.version})
	if err != nil {
		if errors.Is(err, ErrVersionConflict) {
			return err
		}
		return fmt.Errorf("%w: seed %q: %v", errBackendUnreachable, o.key, err)
	}
	o.dist.stats.commits.Add(1)
	return nil
}

// applyRemoteLocked applies patch p, which leads to version v = o.version+1, to the
// published state and the struct, and forwards it to local subscribers as it is. The
// caller holds pub. On error nothing changed.
func (o *object) applyRemoteLocked(p []byte, v uint64, discard bool) error {
	next, err := o.patched(o.last, p)
	if err != nil {
		return err
	}
	err = o.moveTo(next, v, func(cur [][]byte) ([][]byte, error) { return o.patched(cur, p) }, discard)
	if err != nil {
		return err
	}
	o.dist.stats.applied.Add(1)
	f := &frame{data: appendPatchFrame(nil, o.patchHd, p, v), shared: len(o.subs) > 1}
	o.recordLocked(f)
	o.deliverLocked(f)
	return nil
}

// adoptLocked makes state, at version v, the published state and the struct's, and sends
// every local subscriber a _SET. The caller holds pub.
func (o *object) adoptLocked(state []byte, v uint64, discard bool) error {
	if v == o.version && bytes.Equal(state, o.appendState(nil)) {
		return nil // a full reload that found what the clients already hold
	}
	next, err := o.splitDoc(state)
	if err != nil {
		return err
	}
	err = o.moveTo(next, v, func(cur [][]byte) ([][]byte, error) {
		// the pending edits, as a patch from the published state, onto the new one
		local, _, err := o.appendPatch([]byte{'['}, cur)
		if err != nil {
			return nil, err
		}
		return o.patched(next, append(local, ']'))
	}, discard)
	if err != nil {
		return err
	}
	o.dist.stats.reloads.Add(1)
	o.hist.reset() // the state jumped: no recorded patch leads to it
	o.resyncAllLocked()
	return nil
}

// moveTo makes next, at version v, the published state and moves the struct to it (see
// moveStructLocked). The caller holds pub. On error nothing changed.
func (o *object) moveTo(next [][]byte, v uint64, rebase func(cur [][]byte) ([][]byte, error), discard bool) error {
	o.state.Lock()
	err := o.moveStructLocked(next, rebase, discard)
	o.state.Unlock()
	if err != nil {
		return err
	}
	o.recordMoveLocked(next, v)
	o.last, o.version, o.setCache = next, v, nil
	return nil
}

// dropPendingLocked sets the struct back to the published state, dropping the edits it
// holds but has not published. The caller holds pub.
func (o *object) dropPendingLocked() {
	o.state.Lock()
	defer o.state.Unlock()
	if err := o.moveStructLocked(o.last, nil, true); err != nil {
		o.dist.log.Error("wssync: cannot return to the published state", "key", o.key, "err", err)
	}
}

// patched applies the RFC 6902 patch p to the state of the field encodings enc and splits
// the result into field encodings.
func (o *object) patched(enc [][]byte, p []byte) ([][]byte, error) {
	doc, err := o.applyPatch(o.appendDoc(nil, enc), p)
	if err != nil {
		return nil, err
	}
	return o.splitDoc(doc)
}

// moveStructLocked sets the struct to the encodings next, keeping its pending edits by
// rebase(cur) unless discard is set or the rebase fails (then they are dropped and
// counted; only an object with a backend has edits to rebase). The caller holds pub and
// the state lock.
func (o *object) moveStructLocked(next [][]byte, rebase func(cur [][]byte) ([][]byte, error), discard bool) error {
	cur, pending, err := o.snapshotLocked()
	if err != nil {
		return err
	}
	target := next
	if pending && !discard {
		if rebased, err := rebase(cur); err == nil {
			target = rebased
		} else {
			o.dist.stats.dropped.Add(1)
			o.dist.log.Warn("wssync: local edits do not apply to the newer state and were dropped", "key", o.key, "err", err)
		}
	}
	err = o.decodeInto(target, cur)
	if err == nil || sameSlices(target, next) {
		return err
	}
	o.dist.stats.dropped.Add(1)
	o.dist.log.Warn("wssync: rebased local edits do not decode and were dropped", "key", o.key, "err", err)
	return o.decodeInto(next, cur)
}

// decodeInto sets the struct's synced fields to the encodings enc, decoding only those
// that differ from cur (the struct's current encodings); computed values are skipped. All
// fields decode before any is set. The caller holds the state lock.
func (o *object) decodeInto(enc, cur [][]byte) error {
	vals := make([]reflect.Value, len(o.fields))
	for i := range o.fields {
		f := &o.fields[i]
		if f.compute != nil || bytes.Equal(enc[i], cur[i]) {
			continue
		}
		v := reflect.New(f.spec.typ)
		if err := json.Unmarshal(enc[i], v.Interface()); err != nil {
			return fmt.Errorf("wssync: key %q field %q: %w", o.key, f.wire, bare(err))
		}
		vals[i] = v.Elem()
	}
	for i, v := range vals {
		if v.IsValid() {
			f := o.val.FieldByIndex(o.fields[i].spec.index)
			f.Set(v)
			claimDecoded(f)
		}
	}
	return nil
}

// splitDoc splits a state document into o's field encodings, in field order. Members o
// does not know are ignored, and a field the document lacks keeps its published encoding:
// during a rolling deploy, nodes of two versions of a type share one key.
func (o *object) splitDoc(doc []byte) ([][]byte, error) {
	out := make([][]byte, len(o.fields))
	err := patch.ObjectMembers(doc, func(k string, v []byte) error {
		if i := o.fieldIndex(k); i >= 0 {
			out[i] = bytes.Clone(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("wssync: key %q: the backend's state is not an object: %w", o.key, bare(err))
	}
	for i := range out {
		if out[i] == nil {
			if o.last == nil {
				return nil, fmt.Errorf("wssync: key %q: the backend's state has no field %q", o.key, o.fields[i].wire)
			}
			out[i] = o.last[i]
		}
	}
	return out, nil
}

// applyPatch applies the RFC 6902 patch p to doc.
func (o *object) applyPatch(doc, p []byte) ([]byte, error) {
	dp, err := jsonpatch.DecodePatch(p)
	if err != nil {
		return nil, err
	}
	return applyPatchSafely(dp, doc, o.applyOptions())
}

// sameSlices reports whether a and b hold the same slices.
func sameSlices(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reused(a[i], b[i]) {
			return false
		}
	}
	return true
}
