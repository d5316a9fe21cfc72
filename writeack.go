package wssync

import (
	"reflect"
	"strconv"
)

// This file answers a client write that carries a request id with exactly one `_RESULT`
// (docs/protocol.md, "Acknowledged and conditional writes"): a refusal is answered by the
// refusal path (conn.refuse), an applied write here, with the version it produced.

// writeAck is the outcome of an applied client write with a request id. It is filled in
// under the object's pub lock while the write is applied and published, and read by the
// handler once applyWrite has returned; a write made again later (offline replay) no
// longer touches it.
type writeAck struct {
	changes int    // fields the write changed, in its last run (after a conflict, the run that landed)
	version uint64 // the key's version once the write was published
	pending bool   // published while the backend was unreachable: local only, not yet committed
}

// request takes the write's request id and base from its frame.
func (w *writeEcho) request(in *inbound) error {
	base, ok, err := parseBase(in.base)
	if err != nil {
		return err
	}
	if ok {
		w.cond = &writeCond{base: base}
	}
	if in.id != "" {
		w.id, w.ack = in.id, &writeAck{}
	}
	return nil
}

// condition returns the write's condition while it is being applied: nil without one,
// and nil once the write was published, so that an edit made again on reconnect is not
// checked against versions it was never made against. The caller holds pub.
func (w *writeEcho) condition() *writeCond {
	if w == nil || w.done {
		return nil
	}
	return w.cond
}

// requestID returns the write's request id, "" without one (nil-safe).
func (w *writeEcho) requestID() string {
	if w == nil {
		return ""
	}
	return w.id
}

// counted wraps a write's change computation so the acknowledgement learns how many
// fields the run that is published changed.
func (w *writeEcho) counted(changesOf func() (map[int]reflect.Value, error)) func() (map[int]reflect.Value, error) {
	if w == nil || w.ack == nil {
		return changesOf
	}
	return func() (map[int]reflect.Value, error) {
		changes, err := changesOf()
		if !w.done {
			w.ack.changes = len(changes)
		}
		return changes, err
	}
}

// published records that the write was published: the version the key is at and whether
// the object's backend holds it. The caller holds pub.
func (w *writeEcho) published(o *object) {
	if w == nil {
		return
	}
	w.done = true
	if w.ack != nil {
		w.ack.version = o.version
		w.ack.pending = w.ack.changes > 0 && o.dist.attached() && o.dist.offline
	}
}

// frame encodes the `_RESULT` of request id: {"v":N}, with "unchanged" for a write that
// changed nothing and "pending" for one the backend does not hold yet.
func (a *writeAck) frame(id string) *frame {
	buf := appendResultHead(make([]byte, 0, 64+len(id)), id, "data")
	buf = append(buf, `{"v":`...)
	buf = strconv.AppendUint(buf, a.version, 10)
	switch {
	case a.changes == 0:
		buf = append(buf, `,"unchanged":true`...)
	case a.pending:
		buf = append(buf, `,"pending":true`...)
	}
	return &frame{data: append(buf, "}}"...)}
}
