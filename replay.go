package wssync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/wssync/wssync/internal/proto"
)

// This file keeps the edits an object with a backend published, so that they can be made
// again, as the edits they were, on a state the backend holds: the edits published while
// the backend was unreachable, and this node's latest commits when the backend lost its
// data. Making an edit again is never a whole-state rebase: an Update runs its function
// again; a client write applies its ops again; any other change applies its published
// patch again. What cannot be kept is counted (BackendStatus.Lost), logged and reported
// to the writer.

// maxRecentCommits bounds the commits of its own an object keeps for a backend that loses its
// data.
const maxRecentCommits = 64

// edit is one change this node published, as it can be made again.
type edit struct {
	redo    func()       // Update's fn, run under the state lock it takes itself; nil otherwise
	write   func() error // a client write made again; the caller holds the state lock; nil otherwise
	writer  *Session     // the session whose client made the write; nil for the server's own
	reqID   string       // the request id of the client write, told should it be lost; "" when none
	targets []target     // a client write's ops that replace or remove values; nil: those of patch
	patch   []byte       // the patch published for it, from the state before it
	guard   []byte       // RFC 6902 test ops: the values it replaced or removed, as they were
	id      string       // the ID of a commit of it whose outcome is unknown; "" when none
	version uint64       // for a commit of recent: the version it made
}

// made returns the record of a change published as patch p from the published state,
// made by ch (nil for a plain Sync). guarded computes its guard, which reads the published
// state: for an edit made offline, not for one committed (made again only if the backend
// loses its data, without a guard). The caller holds pub, before the state moves on.
func (o *object) made(ch *edit, p []byte, id string, guarded bool) *edit {
	e := &edit{patch: bytes.Clone(p), id: id}
	if ch != nil {
		e.redo, e.write, e.writer, e.targets, e.reqID = ch.redo, ch.write, ch.writer, ch.targets, ch.reqID
	}
	if guarded && e.redo == nil {
		e.guard = o.guardOf(e.targetsOr(p))
	}
	return e
}

// target is where an op writes: a replace, remove, add, move or copy at path (for move,
// also a remove at from).
type target struct{ op, path string }

// targetsOr returns e's targets, or those of the published patch p.
func (e *edit) targetsOr(p []byte) []target {
	if e.targets != nil {
		return e.targets
	}
	if !bytes.Contains(p, []byte(`"replace"`)) && !bytes.Contains(p, []byte(`"remove"`)) {
		return nil
	}
	var ops []struct {
		Op   string `json:"op"`
		Path string `json:"path"`
	}
	if json.Unmarshal(p, &ops) != nil {
		return nil
	}
	var ts []target
	for _, op := range ops {
		ts = append(ts, target{op.Op, op.Path})
	}
	return ts
}

// rememberLocked records e as this node's commit that made version v. The caller holds pub.
func (d *distLink) rememberLocked(e *edit, v uint64) {
	e.version, e.id = v, ""
	d.recent = append(d.recent, e)
	if n := len(d.recent) - maxRecentCommits; n > 0 {
		d.forgot = max(d.forgot, d.recent[n-1].version)
		d.recent = append(d.recent[:0:0], d.recent[n:]...)
	}
}

// lostIncarnationLocked handles a backend that lost its data: its key now starts again
// from the state of version origin of the earlier incarnation, so this node's commits
// after origin are gone and are made again (runReplaysLocked). The caller holds pub.
func (o *object) lostIncarnationLocked(origin uint64) {
	d := o.dist
	var again []*edit
	for _, e := range d.recent {
		if e.version > origin {
			again = append(again, e)
		}
	}
	if d.forgot > origin {
		d.stats.lost.Add(1)
		d.log.Error("wssync: the backend lost its data, and commits of this node older than it remembers may be gone with it",
			"key", o.key, "origin", origin, "forgotten", d.forgot)
	}
	d.recent, d.forgot = nil, 0
	if len(again) > 0 {
		d.log.Warn("wssync: the backend lost its data; making this node's latest commits again", "key", o.key, "commits", len(again))
		d.replays = append(again, d.replays...)
		d.signal()
	}
}

// runReplaysLocked makes the edits of replays again, in order, each committed on its own.
// If the backend becomes unreachable meanwhile, the rest are published locally, and kept
// for the next reconnect. The caller holds pub.
func (o *object) runReplaysLocked() {
	d := o.dist
	if d.replaying {
		return
	}
	d.replaying = true
	defer func() { d.replaying = false }()
	for len(d.replays) > 0 && !o.gone.Load() {
		e := d.replays[0]
		d.replays = d.replays[1:]
		if !o.replayLocked(e) {
			d.replays = append([]*edit{e}, d.replays...)
			return
		}
	}
}

// replayLocked makes e again on the published state and publishes it (publishLocked). An
// edit other than an Update that replaced or removed a value another node changed
// meanwhile is not made again: it is lost. It reports false when e is to be made again
// later: its commit lost every race to other nodes (which may be making their own edits
// again), or the backend became unreachable. The caller holds pub; the struct holds no
// pending edits, and holds none when replayLocked returns.
func (o *object) replayLocked(e *edit) bool {
	if e.guard != nil {
		if _, err := o.applyPatch(o.appendState(nil), e.guard); err != nil {
			o.loseLocked(e, errors.New("another node changed a value it replaced"))
			return true
		}
	}
	if err := o.remake(e); err != nil {
		o.dropPendingLocked()
		o.loseLocked(e, err)
		return true
	}
	err := o.publishLocked(&edit{redo: e.redo, write: e.write, writer: e.writer, reqID: e.reqID})
	switch {
	case err == nil:
		o.dist.stats.replayed.Add(1)
		return true
	case o.gone.Load():
		return true
	}
	// The edit was acknowledged: never drop it silently. Its try stays in the struct as
	// pending edits, which the next try would make a second time.
	o.dropPendingLocked()
	switch {
	case errors.Is(err, ErrVersionConflict):
		o.dist.signal() // the follower applies what the winners committed, then tries again
		return false
	case errors.Is(err, errBackendUnreachable):
		o.dist.goOffline(o, err) // made again on reconnect, before the edits made offline
		return false
	}
	o.loseLocked(e, err)
	return true
}

// remake makes e on the struct. The caller holds pub.
func (o *object) remake(e *edit) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	switch {
	case e.redo != nil:
		e.redo()
		return nil
	case e.write != nil:
		o.state.Lock()
		defer o.state.Unlock()
		return e.write()
	}
	next, err := o.patched(o.last, e.patch)
	if err != nil {
		return err
	}
	o.state.Lock()
	defer o.state.Unlock()
	cur, _, err := o.snapshotLocked()
	if err != nil {
		return err
	}
	return o.decodeInto(next, cur)
}

// loseLocked counts, logs and reports to its writer an edit that could not be kept. The
// caller holds pub.
func (o *object) loseLocked(e *edit, why error) {
	d := o.dist
	d.stats.lost.Add(1)
	d.log.Warn("wssync: a published edit could not be kept", "key", o.key, "why", why, "patch", string(e.patch))
	if e.writer == nil {
		return
	}
	e.writer.metrics.countError(CodeWriteLost)
	if c := e.writer.live.Load(); c != nil {
		c.send(lostFrame(&Error{Code: CodeWriteLost, Event: proto.Keyed(proto.Patch, o.key),
			Message: fmt.Sprintf("a write to %q, acknowledged while the backend was unreachable, could not be kept: %v", o.key, why)}, e.reqID))
		c.q.resync(o)
	}
}

// guardOf returns test ops that hold while every value that targets replace or remove in
// the published state is as it is now; nil when they only add (to an array, or a member
// that does not exist yet). The caller holds pub.
func (o *object) guardOf(targets []target) []byte {
	fields := make(map[int]any) // the decoded published value of each field a path is in
	guard := []byte{'['}
	for _, tg := range targets {
		tokens, err := parsePointer(tg.path)
		if err != nil || len(tokens) == 0 {
			continue
		}
		i := o.fieldIndex(tokens[0])
		if i < 0 {
			continue
		}
		root, ok := fields[i]
		if !ok {
			dec := json.NewDecoder(bytes.NewReader(o.last[i]))
			dec.UseNumber()
			if dec.Decode(&root) != nil {
				continue
			}
			fields[i] = root
		}
		switch tg.op {
		case "replace", "remove":
		case "add", "copy", "move":
			// replaces a value only as a member of an object
			if parent, ok := lookup(root, tokens[1:len(tokens)-1]); len(tokens) > 1 && (!ok || !isObject(parent)) {
				continue
			}
		default:
			continue
		}
		v, ok := lookup(root, tokens[1:])
		if !ok {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		if len(guard) > 1 {
			guard = append(guard, ',')
		}
		guard = append(guard, `{"op":"test","path":`...)
		guard = appendJSONString(guard, tg.path)
		guard = append(guard, `,"value":`...)
		guard = append(guard, b...)
		guard = append(guard, '}')
	}
	if len(guard) == 1 {
		return nil
	}
	return append(guard, ']')
}

func isObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

// lookup returns the value at the unescaped JSON Pointer tokens in v, a document decoded
// into any.
func lookup(v any, tokens []string) (any, bool) {
	for _, t := range tokens {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[t]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}
