package wssync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// This file makes client writes conditional: a `_SET:KEY` or `_PATCH:KEY` may carry
// "base", the version of KEY it was made against, and the object's StalePolicy says what a
// base older than the key's version means (docs/protocol.md, "Acknowledged and conditional
// writes").

// StalePolicy says what an object does with a client write whose "base" version is older
// than the key's current version (a stale write). Writes without a base are not affected.
type StalePolicy int

const (
	// StaleRebase, the default, applies a stale write when none of the top-level fields it
	// touches changed after its base, and refuses it with CodeStaleWrite (the error's Path
	// naming the first such field) otherwise. It never overwrites a value the writer had
	// not seen, and it does not refuse a write because another field changed meanwhile.
	StaleRebase StalePolicy = iota
	// StaleRefuse refuses every stale write with CodeStaleWrite: for an object whose
	// fields must be written together, against one version.
	StaleRefuse
)

// WithStaleWrites sets what a client write whose base version is older than the key's
// means (default StaleRebase). Either way, a base newer than the key's version is refused
// with CodeBadBase, and a refused writer is sent the current state.
func WithStaleWrites(p StalePolicy) RegisterOption {
	return func(r *registration) { r.stale = p }
}

// maxBase bounds a write's base: versions stay below 2^53, exact in JavaScript numbers.
const maxBase = 1<<53 - 1

// parseBase decodes a frame's "base" member strictly: a JSON integer in digits only (no
// sign, fraction, exponent or leading zero), at most maxBase. raw nil or null: no base.
// It never panics, and reads at most the 16 digits a valid base can have.
func parseBase(raw []byte) (base uint64, ok bool, err *Error) {
	if raw == nil || bytes.Equal(raw, []byte("null")) {
		return 0, false, nil
	}
	bad := func() (uint64, bool, *Error) {
		return 0, false, errorf(CodeBadEnvelope, "", "\"base\" must be a version: an integer from 0 to %d, in digits", uint64(maxBase))
	}
	if len(raw) == 0 || len(raw) > 16 || (raw[0] == '0' && len(raw) > 1) {
		return bad()
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return bad()
		}
		base = base*10 + uint64(c-'0')
	}
	if base > maxBase {
		return bad()
	}
	return base, true, nil
}

// fieldRecord is an object's record of when each top-level field last changed, which a
// stale write under StaleRebase is checked against. It is bounded by the number of fields.
// Guarded by the object's pub lock.
type fieldRecord struct {
	since   uint64   // the oldest base the record answers for: it knows every change after it
	changed []uint64 // per field of the object: the version that last changed it
}

// step records the publish of version v, which turned the field encodings prev into cur.
func (r *fieldRecord) step(prev, cur [][]byte, v uint64) {
	if len(r.changed) != len(cur) || len(prev) != len(cur) {
		r.reset(v)
		return
	}
	for i := range cur {
		if !reused(prev[i], cur[i]) && !bytes.Equal(prev[i], cur[i]) {
			r.changed[i] = v
		}
	}
}

// reset starts the record again at version v: the object jumped there (a reload from its
// backend, a restore from a session store, a return from offline), and what changed
// between its previous version and v is unknown, so no older base can be answered for.
func (r *fieldRecord) reset(v uint64) {
	r.since = v
	for i := range r.changed {
		r.changed[i] = v
	}
}

// recordMoveLocked records that the published state moves from o.last to next at version
// v: a step when v follows the published version, a reset otherwise. The caller holds pub,
// before it assigns o.last and o.version.
func (o *object) recordMoveLocked(next [][]byte, v uint64) {
	if v == o.version+1 && o.last != nil {
		o.record.step(o.last, next, v)
		return
	}
	o.record.reset(v)
}

// writeCond is the condition a client write carries: its base version.
type writeCond struct {
	base uint64
}

// checkBaseLocked checks the write condition c (nil: none) against the published version.
// touched lists the top-level fields the write touches; it is called only when a stale
// write is to be rebased. The caller holds pub and the state lock, so nothing changes
// between the check and the write, also when the write is made again after a conflict.
func (o *object) checkBaseLocked(c *writeCond, touched func() ([]int, error)) error {
	if c == nil || c.base == o.version {
		return nil
	}
	if c.base > o.version {
		return errorf(CodeBadBase, "", "the write was made at version %d, but %q is at version %d: not a version of its present state", c.base, o.key, o.version)
	}
	if o.stale == StaleRefuse {
		return errorf(CodeStaleWrite, "", "the write was made at version %d; %q is at version %d", c.base, o.key, o.version)
	}
	if c.base < o.record.since {
		return errorf(CodeStaleWrite, "", "the write was made at version %d; %q is at version %d and was reloaded at version %d", c.base, o.key, o.version, o.record.since)
	}
	fields, err := touched()
	if err != nil {
		return err
	}
	slices.Sort(fields)
	for _, i := range fields {
		if v := o.record.changed[i]; v > c.base {
			f := &o.fields[i]
			return errorf(CodeStaleWrite, f.pointer, "field %q changed at version %d, after the write's base %d", f.wire, v, c.base)
		}
	}
	return nil
}

// setTouched returns the fields a whole-state write sets to a value other than their
// current one: those it would overwrite. Unknown members are left to setChanges to
// refuse. The caller holds the state lock.
func (o *object) setTouched(members map[string]json.RawMessage) ([]int, error) {
	var out []int
	for name, raw := range members {
		i := o.fieldIndex(name)
		if i < 0 {
			continue
		}
		cur, err := o.encodeField(&o.fields[i])
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(cur, raw) && !jsonEqual(cur, raw) {
			out = append(out, i)
		}
	}
	return out, nil
}

// String returns the policy's name.
func (p StalePolicy) String() string {
	switch p {
	case StaleRebase:
		return "rebase"
	case StaleRefuse:
		return "refuse"
	}
	return fmt.Sprintf("StalePolicy(%d)", int(p))
}
