package wssync

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/wssync/wssync/internal/patch"
)

// writeEcho is what publishing a client write needs to answer its writer. The writer has
// already applied its own ops (ws-sync-react does and ignores `v`; our hook does too), so
// it must not be sent them again: it gets the residual, the ops that turn its own view
// (the state it patched plus its ops) into the published state. Other subscribers get the
// ordinary patch.
type writeEcho struct {
	sess  *Session       // the writer's session, one of the object's subscribers
	c     *conn          // the connection the write arrived on
	view  map[int][]byte // each field the write changed, as the writer holds it after its write
	patch []byte         // the ops of a _PATCH write, for a writer of a view (see viewEcho)
	paths [][]string     // the footprints of the write's ops (see footprint)
	cond  *writeCond     // the write's base, nil without one (writebase.go)
	ack   *writeAck      // the outcome for the writer's `_RESULT`, nil without a request id (writeack.go)
	id    string         // the write's request id, "" without one
	done  bool           // published: the write is no longer checked or counted (guarded by the object's pub)
}

// newWriteEcho returns the echo of a write arriving on c, or nil when there is no
// connection to answer (a write made by a test through the object).
func newWriteEcho(c *conn) *writeEcho {
	if c == nil {
		return nil
	}
	return &writeEcho{sess: c.sess, c: c, view: make(map[int][]byte)}
}

// set records the writer's view of field i (nil-safe, so writes without an echo share
// the code).
func (w *writeEcho) set(i int, raw []byte) {
	if w != nil {
		w.view[i] = raw
	}
}

// touch records that the write read or changed the value at pointer p (nil-safe).
func (w *writeEcho) touch(p string) {
	if w != nil {
		w.paths = append(w.paths, footprint(p))
	}
}

// footprint is the part of JSON Pointer p (escaped tokens) that an op at p and an op of
// another patch must not share for the two to commute: its tokens up to the first that
// may index an array (digits or "-"), since an insertion or removal anywhere in an array
// moves every later element.
func footprint(p string) []string {
	if p == "" {
		return []string{}
	}
	ts := strings.Split(p[1:], "/")
	for i, t := range ts {
		if t == "-" || (t != "" && strings.Trim(t, "0123456789") == "") {
			return ts[:i]
		}
	}
	return ts
}

// overlap reports whether footprint x equals or contains y, or y contains x.
func overlap(x, y []string) bool {
	n := min(len(x), len(y))
	return slices.Equal(x[:n], y[:n])
}

// framePaths returns the footprints of the ops of a queued _PATCH frame. A frame it
// cannot read overlaps everything.
func framePaths(f *frame) [][]string {
	var p struct {
		Data []struct {
			Path string  `json:"path"`
			From *string `json:"from"`
		} `json:"data"`
	}
	if err := json.Unmarshal(f.data, &p); err != nil {
		return [][]string{{}}
	}
	out := make([][]string, 0, len(p.Data))
	for _, op := range p.Data {
		out = append(out, footprint(op.Path))
		if op.From != nil {
			out = append(out, footprint(*op.From))
		}
	}
	return out
}

// live reports whether the write's connection is still its session's connection. A newer
// connection has had its own _SET, before this write was published, and needs the
// ordinary patch.
func (w *writeEcho) live() bool { return w.sess.live.Load() == w.c }

// echoPlan is the writer's echo of one publish, before it is queued: per field, the ops
// of the residual, and the published encodings to fall back on.
type echoPlan struct {
	o   *object
	cur [][]byte // the published encodings
	ops [][]byte // per field: its residual ops, comma-separated; nil for none
	v   uint64
}

// residualPlan plans the writer's echo of the publish that turns o.last into cur, at
// version v: for the fields the write changed, the ops from the writer's view to cur,
// and for every other changed field the ordinary diff (the writer holds what the others
// hold there). The caller holds pub and has not committed cur yet.
func (o *object) residualPlan(w *writeEcho, cur [][]byte, v uint64) (*echoPlan, error) {
	p := &echoPlan{o: o, cur: cur, ops: make([][]byte, len(cur)), v: v}
	for i := range cur {
		var buf []byte
		var err error
		if view, ok := w.view[i]; ok {
			buf, _, err = appendResidual(nil, 0, o.fields[i].pointer, view, cur[i])
		} else if !reused(cur[i], o.last[i]) {
			buf, _, err = patch.AppendDiff(nil, 0, o.fields[i].pointer, o.last[i], cur[i], &o.diffOpt)
		}
		if err != nil {
			return nil, err
		}
		p.ops[i] = buf
	}
	return p, nil
}

// frame builds the echo and counts its ops. Each field in whole is sent as one replace of
// its published value instead of its residual: the writer holds something else there (see
// pushEcho).
func (p *echoPlan) frame(whole map[int]bool) (*frame, int) {
	buf := append(make([]byte, 0, 128), p.o.patchHd...)
	n := 0
	for i, ops := range p.ops {
		switch {
		case whole[i] && p.cur[i] != nil: // nil: hidden from the writer's view
			buf, n = appendOp(buf, n, "replace", p.o.fields[i].pointer, p.cur[i]), n+1
		case len(ops) > 0:
			if n > 0 {
				buf = append(buf, ',')
			}
			buf, n = append(buf, ops...), n+1
		}
	}
	buf = append(buf, ']')
	return &frame{data: appendVersionTail(buf, p.v)}, n
}

// fieldOf returns the index of the field a footprint lies in, or -1.
func (o *object) fieldOf(fp []string) int {
	if len(fp) == 0 {
		return -1
	}
	for i := range o.fields {
		if o.fields[i].pointer[1:] == fp[0] {
			return i
		}
	}
	return -1
}

// viewDiffers reports whether the writer's view of a field differs from the published
// state, for a write that published nothing.
func (o *object) viewDiffers(w *writeEcho) bool {
	for i, view := range w.view {
		if !jsonEqual(view, o.last[i]) {
			return true
		}
	}
	return false
}

// appendResidual appends ops turning the JSON value view, at pointer, into pub, in a form
// that may be applied twice, or on top of a client's state that already equals pub,
// without duplicating or dropping anything: objects are compared member by member and
// every other value that differs (an array included) is replaced whole. Values equal as
// JSON produce no op, whatever their spelling.
func appendResidual(buf []byte, n int, pointer string, view, pub []byte) ([]byte, int, error) {
	if bytes.Equal(view, pub) {
		return buf, n, nil
	}
	vm, vok := members(view)
	pm, pok := members(pub)
	vk, pk := byKey(vm), byKey(pm)
	if !vok || !pok {
		if jsonEqual(view, pub) {
			return buf, n, nil
		}
		return appendOp(buf, n, "replace", pointer, pub), n + 1, nil
	}
	for _, m := range vm {
		if _, ok := pk[m.key]; !ok {
			buf, n = appendOp(buf, n, "remove", pointer+"/"+patch.EscapeToken(m.key), nil), n+1
		}
	}
	for i, m := range pm {
		if slices.ContainsFunc(pm[i+1:], func(x member) bool { return x.key == m.key }) {
			continue // a later duplicate wins
		}
		p := pointer + "/" + patch.EscapeToken(m.key)
		old, ok := vk[m.key]
		if !ok {
			buf, n = appendOp(buf, n, "add", p, m.value), n+1
			continue
		}
		var err error
		if buf, n, err = appendResidual(buf, n, p, old, m.value); err != nil {
			return nil, 0, err
		}
	}
	return buf, n, nil
}

type member struct {
	key   string
	value []byte
}

// members splits a JSON object into its members; ok is false for any other value.
func members(b []byte) (ms []member, ok bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	err := patch.ObjectMembers(b, func(k string, v []byte) error {
		ms = append(ms, member{key: k, value: v})
		return nil
	})
	return ms, err == nil
}

// byKey indexes members by key; the last duplicate wins, as in encoding/json.
func byKey(ms []member) map[string][]byte {
	m := make(map[string][]byte, len(ms))
	for _, x := range ms {
		m[x.key] = x.value
	}
	return m
}

// appendOp appends one op; value is nil for remove.
func appendOp(buf []byte, n int, op, pointer string, value []byte) []byte {
	if n > 0 {
		buf = append(buf, ',')
	}
	buf = append(buf, `{"op":"`...)
	buf = append(buf, op...)
	buf = append(buf, `","path":`...)
	p, _ := json.Marshal(pointer) // a string always marshals
	buf = append(buf, p...)
	if value != nil {
		buf = append(buf, `,"value":`...)
		buf = append(buf, value...)
	}
	return append(buf, '}')
}
