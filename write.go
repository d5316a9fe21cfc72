package wssync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/wssync/wssync/internal/patch"
	"github.com/wssync/wssync/internal/proto"
)

// MaxPatchOps bounds the ops in one client `_PATCH` frame.
const MaxPatchOps = 1024

// wireOp is one RFC 6902 operation as a client sends it.
type wireOp struct {
	Op    string          `json:"op"`
	Path  *string         `json:"path"`
	From  *string         `json:"from"`
	Value json.RawMessage `json:"value"`
}

// handleGet answers `_GET:KEY` with a fresh `_SET:KEY`.
func handleGet(o *object) eventHandler {
	return func(c *conn, _ *inbound) error {
		c.requestResync(o)
		return nil
	}
}

// handleClientPatch applies a client `_PATCH:KEY`.
func handleClientPatch(o *object) eventHandler { return handleClientWrite(o, o.clientPatchFrom) }

// handleClientSet applies a client `_SET:KEY` (a whole-state write).
func handleClientSet(o *object) eventHandler { return handleClientWrite(o, o.clientSetFrom) }

// handleClientWrite runs a client write, bounded by the connection's frame limit, under
// the condition its "base" sets (writebase.go). On refusal the client is also sent the
// authoritative `_SET:KEY`, after the error, so it converges. A write with a request id
// is answered with exactly one `_RESULT`: the refusal, or its outcome (writeack.go).
func handleClientWrite(o *object, write func(*Session, json.RawMessage, int64, *writeEcho) error) eventHandler {
	return func(c *conn, in *inbound) error {
		w := newWriteEcho(c)
		err := w.request(in)
		if err == nil {
			err = write(c.sess, in.data, c.sess.cfg.readLimit, w)
		}
		if err != nil {
			c.refuse(in, err)
			c.requestResync(o)
			return nil
		}
		if w.ack != nil {
			c.reply(w.ack.frame(in.id))
		}
		return nil
	}
}

// fieldIndex finds the field with wire name name, or -1.
func (o *object) fieldIndex(name string) int {
	for i := range o.fields {
		if o.fields[i].wire == name {
			return i
		}
	}
	return -1
}

// opField checks the pointer p of an op and returns the index of the top-level field it
// names. mutating ops need a writable field.
func (o *object) opField(p string, mutating bool) (int, *Error) {
	tokens, err := parsePointer(p)
	if err != nil {
		return -1, errorf(CodeBadPatch, p, "invalid JSON Pointer %q: %v", p, err)
	}
	if len(tokens) == 0 {
		return -1, errorf(CodeBadPatch, p, "ops on the whole state are not accepted; send _SET:%s", o.key)
	}
	i := o.fieldIndex(tokens[0])
	if i < 0 {
		return -1, errorf(CodeUnknownPath, p, "no field %q", tokens[0])
	}
	if mutating && !o.fields[i].writable {
		return -1, errorf(CodeReadOnly, p, "field %q is read-only", tokens[0])
	}
	return i, nil
}

// parseOps decodes and checks a client patch, returning it and the fields it touches
// (true = changed by a mutating op).
func (o *object) parseOps(data json.RawMessage) ([]wireOp, map[int]bool, *Error) {
	if len(data) == 0 || data[0] != '[' {
		return nil, nil, errorf(CodeBadData, "", "%s data must be an array of RFC 6902 ops", proto.Patch)
	}
	var ops []wireOp
	if err := json.Unmarshal(data, &ops); err != nil {
		return nil, nil, errorf(CodeBadPatch, "", "ops must be objects with string \"op\", \"path\" and \"from\": %v", err)
	}
	if len(ops) > MaxPatchOps {
		return nil, nil, errorf(CodeBadPatch, "", "%d ops in one patch; the limit is %d", len(ops), MaxPatchOps)
	}
	touched := make(map[int]bool)
	for _, op := range ops {
		if op.Path == nil {
			return nil, nil, errorf(CodeBadPatch, "", "op %q has no \"path\"", op.Op)
		}
		var needValue, needFrom, mutating bool
		switch op.Op {
		case "add", "replace":
			needValue, mutating = true, true
		case "test":
			needValue = true
		case "remove":
			mutating = true
		case "move", "copy":
			needFrom, mutating = true, true
		default:
			return nil, nil, errorf(CodeBadPatch, *op.Path, "unknown op %q", op.Op)
		}
		if needValue && op.Value == nil {
			return nil, nil, errorf(CodeBadPatch, *op.Path, "op %q needs a \"value\"", op.Op)
		}
		i, err := o.opField(*op.Path, mutating)
		if err != nil {
			return nil, nil, err
		}
		touched[i] = touched[i] || mutating
		if needFrom {
			if op.From == nil {
				return nil, nil, errorf(CodeBadPatch, *op.Path, "op %q needs a \"from\"", op.Op)
			}
			// move changes its source too; copy only reads it
			j, err := o.opField(*op.From, op.Op == "move")
			if err != nil {
				return nil, nil, err
			}
			touched[j] = touched[j] || op.Op == "move"
		}
	}
	return ops, touched, nil
}

// clientPatch applies a client patch atomically: all of it, or nothing. growth is the
// most the write may add to the encoded state (the frame limit).
func (o *object) clientPatch(from *Session, data json.RawMessage, growth int64) error {
	return o.clientPatchFrom(from, data, growth, nil)
}

// clientPatchFrom is clientPatch for a write whose writer gets the echo w (nil: none).
func (o *object) clientPatchFrom(from *Session, data json.RawMessage, growth int64, w *writeEcho) error {
	ops, touched, perr := o.parseOps(data)
	if perr != nil {
		return perr
	}
	var targets []target
	for _, op := range ops {
		if op.Path != nil {
			targets = append(targets, target{op.Op, *op.Path})
			w.touch(*op.Path)
		}
		if op.From != nil {
			w.touch(*op.From)
			if op.Op == "move" {
				targets = append(targets, target{"remove", *op.From})
			}
		}
	}
	if w != nil {
		w.patch = data
	}
	check := func(v *objView) error { return o.checkViewWrite(v, ops, nil) }
	fields := func() ([]int, error) { return slices.Collect(maps.Keys(touched)), nil }
	return o.applyWrite(from, targets, w, check, func() (map[int]reflect.Value, error) {
		if err := o.checkBaseLocked(w.condition(), fields); err != nil {
			return nil, err
		}
		return o.patchChanges(data, ops, touched, o.newTally(growth), w)
	})
}

// applyWrite computes a write's changes with the object locked, vetoes or assigns them,
// and publishes the result, all under pub so no Sync interleaves. from is the writer's
// session, told should the write be lost, and targets are where its ops write (see edit).
// The writer, when w is not nil, gets the residual of the publish rather than the patch
// (see writeEcho). On an object with views, check refuses what the writer's view may not
// write before anything is computed, and a refusal does not point into what it hides.
func (o *object) applyWrite(from *Session, targets []target, w *writeEcho, check func(*objView) error, changesOf func() (map[int]reflect.Value, error)) error {
	o.pub.Lock()
	defer o.pub.Unlock()
	if o.gone.Load() {
		return ErrUnregistered
	}
	var view *objView
	if o.views != nil && from != nil {
		if view = o.viewOfLocked(from); view != nil {
			if err := check(view); err != nil {
				return err
			}
		}
	}
	changesOf = w.counted(changesOf)
	if err := o.writeLocked(from, changesOf); err != nil {
		return viewError(view, err)
	}
	o.echo = w
	defer func() { o.echo = nil }()
	if err := o.publishLocked(o.dist.clientWrite(o, from, targets, changesOf, w.requestID())); err != nil {
		return err
	}
	w.published(o)
	return nil
}

// writeLocked computes and assigns a write's changes, made by the session from, under the
// state lock, which it releases also when a decoder or validator panics (the panic goes on
// to the handler's recover), so a hostile value cannot leave the object locked. The caller
// holds pub.
func (o *object) writeLocked(from *Session, changesOf func() (map[int]reflect.Value, error)) error {
	o.state.Lock()
	defer o.state.Unlock()
	changes, err := changesOf()
	if err != nil {
		return err
	}
	return o.assignChanges(from, changes)
}

// patchChanges applies the ops to the touched fields' current encodings and decodes what
// they changed. The caller holds pub and the state lock.
func (o *object) patchChanges(data json.RawMessage, ops []wireOp, touched map[int]bool, tally *sizeTally, w *writeEcho) (map[int]reflect.Value, error) {
	before := make(map[int][]byte, len(touched))
	doc := []byte{'{'}
	for i := range touched {
		b, err := o.encodeField(&o.fields[i])
		if err != nil {
			return nil, err
		}
		before[i] = bytes.Clone(b)
		if len(doc) > 1 {
			doc = append(doc, ',')
		}
		doc = append(append(doc, o.fields[i].member...), b...)
	}
	doc = append(doc, '}')
	if err := o.checkShifts(ops, before, tally.growthLimit); err != nil {
		return nil, err
	}
	p, err := jsonpatch.DecodePatch(data)
	if err != nil {
		return nil, errorf(CodeBadPatch, "", "%v", err)
	}
	opts := clientApplyOptions(int64(len(data)))
	after, err := applyPatchSafely(p, doc, opts)
	if err != nil {
		return nil, patchError(err, failedOp(p, doc, opts, ops))
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(after, &members); err != nil {
		return nil, errorf(CodeBadPatch, "", "the patched state is not an object")
	}
	changes := make(map[int]reflect.Value)
	for i, mutated := range touched {
		if !mutated {
			continue
		}
		f := &o.fields[i]
		raw, ok := members[f.wire]
		if !ok {
			return nil, errorf(CodeBadPatch, f.pointer, "field %q cannot be removed", f.wire)
		}
		w.set(i, raw)
		v, changed, err := o.decodeField(f, raw, before[i], tally)
		if err != nil {
			return nil, err
		}
		if changed {
			changes[i] = v
		}
	}
	return changes, tally.check()
}

// clientSet applies a whole-state write. Read-only fields may be present but must equal
// the current state; fields left out keep their value. growth is as for clientPatch.
func (o *object) clientSet(from *Session, data json.RawMessage, growth int64) error {
	return o.clientSetFrom(from, data, growth, nil)
}

// clientSetFrom is clientSet for a write whose writer gets the echo w (nil: none).
func (o *object) clientSetFrom(from *Session, data json.RawMessage, growth int64, w *writeEcho) error {
	if len(data) == 0 || data[0] != '{' {
		return errorf(CodeBadData, "", "%s data must be the state as a JSON object", proto.Set)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return errorf(CodeBadData, "", "%s data must be the state as a JSON object: %v", proto.Set, err)
	}
	targets := []target{}
	for name := range members {
		if i := o.fieldIndex(name); i >= 0 {
			targets = append(targets, target{"replace", o.fields[i].pointer})
		}
	}
	check := func(v *objView) error { return o.checkViewWrite(v, nil, members) }
	fields := func() ([]int, error) { return o.setTouched(members) }
	return o.applyWrite(from, targets, w, check, func() (map[int]reflect.Value, error) {
		if err := o.checkBaseLocked(w.condition(), fields); err != nil {
			return nil, err
		}
		return o.setChanges(members, o.newTally(growth), w)
	})
}

func (o *object) setChanges(members map[string]json.RawMessage, tally *sizeTally, w *writeEcho) (map[int]reflect.Value, error) {
	changes := make(map[int]reflect.Value)
	for name, raw := range members {
		i := o.fieldIndex(name)
		if i < 0 {
			return nil, errorf(CodeUnknownPath, "/"+patch.EscapeToken(name), "no field %q", name)
		}
		f := &o.fields[i]
		cur, err := o.encodeField(f)
		if err != nil {
			return nil, err
		}
		cur = bytes.Clone(cur)
		if f.compute != nil {
			if !jsonEqual(cur, raw) {
				return nil, errorf(CodeReadOnly, f.pointer, "field %q is read-only", f.wire)
			}
			continue
		}
		w.set(i, raw)
		w.touch(f.pointer)
		v, changed, err := o.decodeField(f, raw, cur, tally)
		if err != nil {
			return nil, err
		}
		if !changed {
			continue
		}
		if !f.writable {
			return nil, errorf(CodeReadOnly, f.pointer, "field %q is read-only", f.wire)
		}
		changes[i] = v
	}
	return changes, tally.check()
}

// decodeField decodes raw into a fresh value of f's type with type checks, and reports
// whether it differs from the field's current encoding cur. Before decoding, raw is walked
// against the type: a null the type cannot hold at any depth is refused, and so is a value
// whose left-out members the decoder would fill with more zero bytes than the write may
// add. A changed field's new size is added to tally.
func (o *object) decodeField(f *boundField, raw json.RawMessage, cur []byte, tally *sizeTally) (reflect.Value, bool, error) {
	if f.compute != nil {
		return reflect.Value{}, false, errorf(CodeReadOnly, f.pointer, "field %q is read-only", f.wire)
	}
	t := f.spec.typ
	res, err := walkShape(raw, shapeOf(t))
	if err != nil {
		return reflect.Value{}, false, errorf(CodeBadData, f.pointer, "field %q: %v", f.wire, err)
	}
	if res.hasNull {
		return reflect.Value{}, false, errorf(CodeTypeMismatch, f.pointer+res.nullAt, "%s cannot be null", f.pointer+res.nullAt)
	}
	if res.filled > tally.growthLimit {
		return reflect.Value{}, false, tooLarge(f.pointer, "the members field %q leaves out would be filled with %d bytes of zero values; one write may add at most %d bytes", f.wire, res.filled, tally.growthLimit)
	}
	v := reflect.New(t)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v.Interface()); err != nil {
		return reflect.Value{}, false, decodeError(f.pointer, err)
	}
	enc, err := json.Marshal(v.Interface())
	if err != nil {
		return reflect.Value{}, false, errorf(CodeTypeMismatch, f.pointer, "field %q: %v", f.wire, err)
	}
	changed := !bytes.Equal(enc, cur)
	if changed {
		tally.add(len(enc), len(cur))
	}
	return v.Elem(), changed, nil
}

// assignChanges checks, vetoes or assigns the decoded changes of a write by the session
// from (nil: a write with no session, which has no identity). It applies, in order, the
// fields' role and owner rules (writerules.go), the `validate` tags, and the validation
// hooks. The caller holds the state lock, so the struct changes all at once or not at all.
func (o *object) assignChanges(from *Session, changes map[int]reflect.Value) error {
	if len(changes) == 0 {
		return nil
	}
	ctx := context.Background()
	var id Identity
	if from != nil {
		ctx, id = from.ctx, from.Identity()
	}
	if o.rules {
		if err := o.checkWriteRules(id, changes); err != nil {
			return err
		}
	}
	tags := hasValidateTags(o.val.Type())
	if o.veto != nil || tags {
		next := reflect.New(o.val.Type())
		next.Elem().Set(o.val)
		only := make([][]int, 0, len(changes))
		for i, v := range changes {
			next.Elem().FieldByIndex(o.fields[i].spec.index).Set(v)
			only = append(only, o.fields[i].spec.index)
		}
		if tags {
			if path, msg, ok := checkTags(next, only, o.wireAt); !ok {
				return errorf(CodeRejected, path, "%s", msg)
			}
		}
		if err := o.vetoWrite(ctx, next); err != nil {
			return err
		}
	}
	for i, v := range changes {
		f := o.val.FieldByIndex(o.fields[i].spec.index)
		f.Set(v)
		claimDecoded(f)
	}
	return nil
}

// wireAt names the synced field at Go index path index.
func (o *object) wireAt(index []int) string {
	for i := range o.fields {
		if f := &o.fields[i]; f.spec != nil && slices.Equal(f.spec.index, index) {
			return f.wire
		}
	}
	return ""
}

// vetoWrite runs the validation hooks, if any, on the proposed state next. A hook's
// *Error with CodeReadOnly or CodeRejected reaches the client as it is; a *FieldError is
// CodeRejected with its path; any other error is CodeRejected.
func (o *object) vetoWrite(ctx context.Context, next reflect.Value) error {
	if o.veto == nil {
		return nil
	}
	if err := o.callVeto(ctx, next); err != nil {
		var fe *FieldError
		var e *Error
		switch {
		case errors.As(err, &e) && (e.Code == CodeReadOnly || e.Code == CodeRejected):
			return errorf(e.Code, e.Path, "%s", e.Message)
		case errors.As(err, &fe):
			return errorf(CodeRejected, fe.Path, "%s", fe.Message)
		}
		return errorf(CodeRejected, "", "%v", err)
	}
	return nil
}

// callVeto runs the validation hooks, turning a panic into a refusal.
func (o *object) callVeto(ctx context.Context, next reflect.Value) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the validation hook failed")
		}
	}()
	return o.veto(ctx, o.val.Addr(), next)
}

// applyOptions are the options of a backend's patch applied to the object's state: RFC
// 6902 (no negative indices), and copies bounded by sizeLimit.
func (o *object) applyOptions() *jsonpatch.ApplyOptions {
	opts := jsonpatch.NewApplyOptions()
	opts.AccumulatedCopySizeLimit = o.sizeLimit()
	opts.SupportNegativeIndices = false
	return opts
}

// sizeLimit bounds what copy ops of a backend's patch may build: a few times the state's
// size, at least 1 MiB. Client patches are bounded by clientApplyOptions instead.
func (o *object) sizeLimit() int64 {
	return max(int64(o.size())*4, 1<<20)
}

// clientApplyOptions are the options of a client patch: RFC 6902 (no negative indices),
// and the values its copy ops build, together, no larger than the patch's own bytes.
func clientApplyOptions(copies int64) *jsonpatch.ApplyOptions {
	opts := jsonpatch.NewApplyOptions()
	opts.AccumulatedCopySizeLimit = max(copies, 1)
	opts.SupportNegativeIndices = false
	return opts
}

// nullable reports whether encoding/json maps null onto t meaningfully.
func nullable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return true
	}
	return t.Implements(jsonUnmarshalerType) || reflect.PointerTo(t).Implements(jsonUnmarshalerType)
}

var jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// decodeError turns an encoding/json decode error into a client error whose path is the
// JSON Pointer base plus the failing member.
func decodeError(base string, err error) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		p := base
		if te.Field != "" {
			for _, tok := range strings.Split(te.Field, ".") {
				p += "/" + patch.EscapeToken(tok)
			}
		}
		return errorf(CodeTypeMismatch, p, "expected %s, got JSON %s", te.Type, te.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return errorf(CodeUnknownPath, base, "unknown member %s", name)
	}
	return errorf(CodeTypeMismatch, base, "%v", err)
}

// failedOp finds the path of the op that failed by replaying the ops one at a time. Only
// short patches are replayed, so a hostile patch cannot make the server parse the state
// once per op.
func failedOp(p jsonpatch.Patch, doc []byte, opts *jsonpatch.ApplyOptions, ops []wireOp) string {
	const maxReplay, maxReplayBytes = 32, 1 << 20
	if len(p) > maxReplay || len(p) != len(ops) || len(doc)*len(p) > maxReplayBytes {
		return ""
	}
	for i := range p {
		next, err := applyPatchSafely(p[i:i+1], doc, opts)
		if err != nil {
			return *ops[i].Path
		}
		doc = next
	}
	return ""
}

// patchError maps an evanphx/json-patch failure onto a client error code.
func patchError(err error, path string) *Error {
	var ce *jsonpatch.AccumulatedCopySizeError
	switch {
	case errors.As(err, &ce):
		return tooLarge(path, "the copy ops of one patch may build at most as many bytes as the patch itself has")
	case errors.Is(err, jsonpatch.ErrTestFailed):
		return errorf(CodeTestFailed, path, "test op did not match")
	case errors.Is(err, jsonpatch.ErrMissing), errors.Is(err, jsonpatch.ErrInvalidIndex):
		return errorf(CodePathNotFound, path, "path does not exist")
	default:
		return errorf(CodeBadPatch, path, "%v", err)
	}
}

// jsonEqual compares two JSON texts by value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
