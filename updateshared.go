package wssync

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/wssync/wssync/internal/patch"
)

// ErrNotStored is the error of UpdateShared for a key its backend holds no state of.
var ErrNotStored = errors.New("wssync: the backend holds no state for the key")

// Bounds of UpdateShared's questions to Backend.Outcome after a commit whose reply it did
// not get.
const (
	outcomeAttempts   = 8
	outcomeBackoffMin = 50 * time.Millisecond
	outcomeBackoffMax = 2 * time.Second
)

// UpdateShared changes the state of the shared object key in the backend b from a
// process that holds no such object and serves no WebSocket (a worker, a cron job, an
// HTTP handler of another service): it loads the stored state, decodes it into a T as a
// node does (by the wire names of T's fields under opts), calls fn, and commits the
// difference as one RFC 6902 patch. Every node whose shared object key is attached to b
// (WithBackend) applies it and sends it to its subscribers, as it does with another
// node's commit. It returns the version the change made, or the stored version when fn
// changed nothing (then it commits nothing).
//
// opts are the RegisterOptions the nodes give NewShared for key that fix wire names and
// patches (WithNaming, WithMaxArrayEdits); the others are ignored: WithBackend (b is the
// backend), and WithComputed and WithRunningTasks, whose values UpdateShared leaves as
// they are stored (each node publishes its own at its next Sync). Members of the stored
// state that T does not have are kept as they are, so an older T does not erase a newer
// node's fields during a rolling deploy.
//
// fn runs on a T of UpdateShared's own, never on a node's struct; it may run more than
// once (after another node committed first, UpdateShared loads again and calls fn on the
// newer state, at most 32 times), so it should change only the T. An error of fn is
// returned as it is, and nothing is committed.
//
// Each commit has a fresh Proposal.ID. When Commit fails without telling whether it
// landed (a timeout, a Redis that was paused, a lost reply), UpdateShared asks
// Backend.Outcome, which fences the commit if it did not land: a change is never made
// twice. If the backend cannot answer in time (ctx ends, or a few attempts over some
// seconds fail), the error wraps ErrOutcomeUnknown: the change may or may not have been
// made, and calling UpdateShared again may make it a second time unless fn sets rather
// than adds. The key must exist in b (a node's NewShared with WithBackend stores it);
// otherwise the error is ErrNotStored: creating it here, after the backend lost its data,
// would replace the state the nodes still hold. It blocks for the backend's round trips,
// bounded by ctx.
func UpdateShared[T any](ctx context.Context, b Backend, key string, fn func(*T) error, opts ...RegisterOption) (version uint64, err error) {
	reg := newRegistration(opts)
	reg.backend, reg.computed, reg.runningTasks, reg.views = nil, nil, "", nil
	for attempt := 1; ; attempt++ {
		var obj T
		s, err := newShared(key, &obj, reg)
		if err != nil {
			return 0, err
		}
		v, done, err := updateStored(ctx, b, s.o, func() error { return fn(&obj) })
		if err != nil || done {
			return v, err
		}
		if attempt >= maxCommitAttempts {
			return 0, fmt.Errorf("wssync: UpdateShared %q: %d commits lost to other nodes' in a row: %w", key, attempt, ErrVersionConflict)
		}
	}
}

// updateStored makes one attempt of UpdateShared with o, a fresh object of no process:
// done is false when the commit lost to another one (a conflict, or a commit that did
// not land), so the caller starts over on the newer state.
func updateStored(ctx context.Context, b Backend, o *object, fn func() error) (version uint64, done bool, err error) {
	snap, err := b.Load(ctx, o.key, 0)
	if err != nil {
		return 0, true, fmt.Errorf("wssync: UpdateShared %q: load: %w", o.key, err)
	}
	if snap.Version == 0 || snap.State == nil {
		return 0, true, fmt.Errorf("%w: %q", ErrNotStored, o.key)
	}
	stored, have, err := o.storedFields(snap.State)
	if err != nil {
		return 0, true, err
	}
	o.state.Lock()
	err = o.decodeInto(stored, o.last)
	o.state.Unlock()
	if err != nil {
		return 0, true, err
	}
	o.last = stored
	if err := fn(); err != nil {
		return 0, true, err
	}
	cur, changed, err := o.snapshotChanged()
	if err != nil {
		return 0, true, err
	}
	p, n, err := o.storedPatch(cur, have)
	if !changed || n == 0 || err != nil {
		return snap.Version, true, err
	}
	state, err := o.mergeStored(snap.State, cur, have)
	if err != nil {
		return 0, true, err
	}
	prop := Proposal{Base: snap.Version, State: state, Patch: p, ID: rand.Text()}
	err = b.Commit(ctx, o.key, prop)
	switch {
	case err == nil:
		return snap.Version + 1, true, nil
	case errors.Is(err, ErrVersionConflict):
		return 0, false, nil
	}
	v, oerr := settleOutcome(ctx, b, o.key, prop)
	switch {
	case oerr != nil:
		return 0, true, fmt.Errorf("wssync: UpdateShared %q: %w (commit: %v; outcome: %v)", o.key, ErrOutcomeUnknown, err, oerr)
	case v > 0:
		return v, true, nil // it landed: the reply was lost, not the commit
	}
	return 0, false, nil // it did not land, and now never will (fenced)
}

// settleOutcome asks b what became of the commit p, a few times with backoff while the
// backend does not answer. ErrOutcomeUnknown from the backend ends it at once.
func settleOutcome(ctx context.Context, b Backend, key string, p Proposal) (uint64, error) {
	wait := outcomeBackoffMin
	var err error
	for range outcomeAttempts {
		var v uint64
		if v, err = b.Outcome(ctx, key, p.ID, p.Base); err == nil || errors.Is(err, ErrOutcomeUnknown) {
			return v, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, errors.Join(err, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, outcomeBackoffMax)
	}
	return 0, err
}

// storedFields splits a stored state into o's field encodings, like splitDoc, and reports
// which fields the state has: a field it lacks keeps the encoding of o's zero struct.
func (o *object) storedFields(doc []byte) (enc [][]byte, have []bool, err error) {
	enc, have = make([][]byte, len(o.fields)), make([]bool, len(o.fields))
	err = patch.ObjectMembers(doc, func(k string, v []byte) error {
		if i := o.fieldIndex(k); i >= 0 {
			enc[i], have[i] = v, true
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("wssync: UpdateShared %q: the backend's state is not an object: %w", o.key, err)
	}
	for i := range enc {
		if !have[i] {
			enc[i] = o.last[i]
		}
	}
	return enc, have, nil
}

// storedPatch is the RFC 6902 patch from the stored state (o.last) to cur: the diff of
// each changed field, or an add of a field the stored state lacks.
func (o *object) storedPatch(cur [][]byte, have []bool) ([]byte, int, error) {
	buf, n := []byte{'['}, 0
	for i := range cur {
		f := &o.fields[i]
		switch {
		case reused(cur[i], o.last[i]):
		case !have[i]:
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"op":"add","path":`...)
			buf = appendJSONString(buf, f.pointer)
			buf = append(append(append(buf, `,"value":`...), cur[i]...), '}')
			n++
		default:
			var err error
			if buf, n, err = patch.AppendDiff(buf, n, f.pointer, o.last[i], cur[i], &o.diffOpt); err != nil {
				return nil, 0, fmt.Errorf("wssync: key %q field %q: diff: %w", o.key, f.wire, err)
			}
		}
	}
	return append(buf, ']'), n, nil
}

// mergeStored returns the stored state doc with o's fields set to cur: members o does
// not know keep their place and value, fields doc lacks come last.
func (o *object) mergeStored(doc []byte, cur [][]byte, have []bool) ([]byte, error) {
	out := make([]byte, 0, len(doc)+64)
	out = append(out, '{')
	err := patch.ObjectMembers(doc, func(k string, v []byte) error {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(appendJSONString(out, k), ':')
		if i := o.fieldIndex(k); i >= 0 {
			v = cur[i]
		}
		out = append(out, v...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range cur {
		if !have[i] {
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = append(append(out, o.fields[i].member...), cur[i]...)
		}
	}
	return append(out, '}'), nil
}
