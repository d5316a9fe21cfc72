package wssync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/wssync/wssync/internal/patch"
)

// This file holds the views of a shared object: per view, the parts of the state its
// subscribers never receive. The object snapshots its state once per change, as without
// views; each view then filters the fields that changed, diffs its filtered encodings and
// builds one frame, which every subscriber of that view is handed. Nothing a view hides
// is in any frame built for it, since every such frame is built from its filtered state.

// View is one way a shared object may be seen (see WithViews): its Name, which the view
// function returns, and the parts of the state it does not see.
//
// Hide holds JSON Pointers (RFC 6901) in wire names, in which the token "*" matches any
// object member or array index: "/audit" hides the field audit, "/members/*/email" the
// email of every member of the list members. A hidden object member is left out; a hidden
// array element is sent as null, so that an index means the same element in every view.
// A view with no Hide sees everything.
type View struct {
	Name string
	Hide []string
}

// WithViews gives a shared object (NewShared; also Register) views: choose maps the
// identity of each session that joins to the name of one of views, and that session then
// receives the object's state with what its view hides left out, in every frame: its
// _SET, its patches, the echo of its own writes, a resync after a catch-up. Each view is
// filtered, diffed and encoded once per change, whatever its number of subscribers.
//
// The view is chosen when the session joins and again whenever its identity changes (a
// reconnect, or a refreshed token): a session whose view changes is sent a fresh _SET of
// the new one. Fail-closed: a name that is not one of views, or a choose that panics,
// gives the session a view that hides every field (its _SET is {}), and the error is
// logged with the session's logger.
//
// A client write that touches a hidden part, or an ancestor of one (a replace or remove
// that would erase hidden members, a copy or move from it, a test of it), is refused with
// CodeReadOnly and the op's path, and the Go value is left as it was. An add that appends
// to an array ("/list/-") is allowed when its value holds nothing the view hides. A whole
// _SET may carry a partly hidden field only as the view holds it (it is then left alone).
//
// Views hide parts of the object's state, nothing else: an action's result, a toast, an
// event or an error message the application writes is its own to filter. NewShared and
// Register fail on a view without a name, two views of one name, no views, a nil choose,
// or a Hide pointer that is invalid or whose first token names no field (nor "*").
func WithViews(choose func(Identity) string, views ...View) RegisterOption {
	return func(r *registration) {
		r.views = &viewConfig{choose: choose, views: views}
	}
}

// viewConfig is WithViews' arguments, compiled by newViewSet once the fields are bound.
type viewConfig struct {
	choose func(Identity) string
	views  []View
}

// errBadView is the error of a WithViews that cannot be compiled.
var errBadView = errors.New("wssync: invalid view")

// viewSet is an object's compiled views. Everything but choose and the compiled
// patterns is guarded by the object's pub lock.
type viewSet struct {
	choose func(Identity) string
	byName map[string]*objView // nil for a view that hides nothing
	deny   *objView            // the fail-closed view: every field hidden
	frames uint64              // view frames built (patches and _SETs), for tests
}

// objView is one view of an object: what it hides and its published, filtered state.
type objView struct {
	name  string
	hide  [][]string   // the Hide pointers, unescaped tokens
	tails [][][]string // per field: the rest of each pointer that matches it; an empty rest hides the field whole
	whole []bool       // per field: hidden whole

	// guarded by the object's pub lock
	subs     int      // subscribers of this view
	src      [][]byte // the object's encodings that last was filtered from
	last     [][]byte // the filtered encodings, nil for a field hidden whole
	version  uint64   // the object's version last was filtered at
	setCache *frame
	setEpoch string // the object's epoch when setCache was built

	// the last publish, for its delivery and the writer's echo
	out           *frame // nil: its patch could not be built
	before, after [][]byte
}

// newViewSet compiles cfg against the object's fields.
func newViewSet(cfg *viewConfig, fields []boundField) (*viewSet, error) {
	if cfg.choose == nil {
		return nil, fmt.Errorf("%w: WithViews needs a function choosing the view", errBadView)
	}
	if len(cfg.views) == 0 {
		return nil, fmt.Errorf("%w: WithViews needs at least one view", errBadView)
	}
	vs := &viewSet{choose: cfg.choose, byName: make(map[string]*objView)}
	for _, v := range cfg.views {
		if v.Name == "" {
			return nil, fmt.Errorf("%w: a view needs a name", errBadView)
		}
		if _, dup := vs.byName[v.Name]; dup {
			return nil, fmt.Errorf("%w: two views are named %q", errBadView, v.Name)
		}
		ov, err := compileView(v.Name, v.Hide, fields)
		if err != nil {
			return nil, err
		}
		vs.byName[v.Name] = ov
	}
	vs.deny, _ = compileView("", []string{"/*"}, fields)
	return vs, nil
}

// compileView parses hide and indexes it by field; a view that hides nothing is nil.
func compileView(name string, hide []string, fields []boundField) (*objView, error) {
	if len(hide) == 0 {
		return nil, nil
	}
	v := &objView{name: name, tails: make([][][]string, len(fields)), whole: make([]bool, len(fields))}
	for _, p := range hide {
		tokens, err := parsePointer(p)
		if err != nil || len(tokens) == 0 {
			return nil, fmt.Errorf("%w: view %q hides %q: not a JSON Pointer to a part of the state", errBadView, name, p)
		}
		matched := false
		for i := range fields {
			if tokens[0] == "*" || tokens[0] == fields[i].wire {
				matched = true
				v.tails[i] = append(v.tails[i], tokens[1:])
				v.whole[i] = v.whole[i] || len(tokens) == 1
			}
		}
		if !matched {
			return nil, fmt.Errorf("%w: view %q hides %q: no field %q", errBadView, name, p, tokens[0])
		}
		v.hide = append(v.hide, tokens)
	}
	return v, nil
}

// chooseView returns the view of a session of identity id: nil for one that hides
// nothing, the fail-closed view when choose panics or names no declared view.
func (vs *viewSet) chooseView(id Identity, log *slog.Logger, key string) (v *objView) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("wssync: the view function panicked; the session sees no field", "key", key, "user", id.User, "panic", r)
			v = vs.deny
		}
	}()
	name := vs.choose(id)
	v, ok := vs.byName[name]
	if !ok {
		log.Error("wssync: the view function named no declared view; the session sees no field", "key", key, "user", id.User, "view", name)
		return vs.deny
	}
	return v
}

// filterField returns field i's encoding enc as the view sees it: enc itself when no
// pattern reaches into it, nil when it is hidden whole, and JSON null when enc is not
// valid JSON (fail-closed; the object's own encodings always are).
func (v *objView) filterField(i int, enc []byte) []byte {
	if v.whole[i] {
		return nil
	}
	if len(v.tails[i]) == 0 {
		return enc
	}
	out, err := filterJSON(nil, enc, v.tails[i])
	if err != nil {
		return []byte("null")
	}
	return out
}

// filterJSON appends the JSON value b with every part that a pattern of tails (token
// lists, "*" matching any token) points to left out of objects and nulled in arrays.
func filterJSON(dst, b []byte, tails [][]string) ([]byte, error) {
	r := patch.NewReader(b)
	dst, err := filterValue(dst, r, tails)
	if err != nil {
		return nil, err
	}
	if !r.AtEnd() {
		return nil, errors.New("wssync: data after the JSON value")
	}
	return dst, nil
}

// filterValue appends the value r stands at, filtered by tails (see filterJSON).
func filterValue(dst []byte, r *patch.Reader, tails [][]string) ([]byte, error) {
	var err error
	var scratch [4][]string
	switch r.Peek() {
	case '{':
		dst = append(dst, '{')
		n := 0
		err = r.Members(func(key, rawKey []byte) error {
			sub, hidden := descend(scratch[:0], tails, key)
			if hidden {
				_, err := r.Skip()
				return err
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = append(append(dst, rawKey...), ':')
			var err error
			dst, err = filterValue(dst, r, sub)
			return err
		})
		return append(dst, '}'), err
	case '[':
		dst = append(dst, '[')
		var index [20]byte
		err = r.Array(func(i int) error {
			if i > 0 {
				dst = append(dst, ',')
			}
			sub, hidden := descend(scratch[:0], tails, strconv.AppendInt(index[:0], int64(i), 10))
			if hidden {
				dst = append(dst, "null"...)
				_, err := r.Skip()
				return err
			}
			var err error
			dst, err = filterValue(dst, r, sub)
			return err
		})
		return append(dst, ']'), err
	default:
		raw, err := r.Skip()
		return append(dst, raw...), err
	}
}

// descend returns the rests of the patterns of tails whose first token matches token,
// and whether one of them ends there (the value at token is hidden).
// sub is appended to buf, the caller's scratch, so that a walk allocates nothing for a
// few patterns.
func descend(buf, tails [][]string, token []byte) (sub [][]string, hidden bool) {
	sub = buf[:0]
	for _, t := range tails {
		if len(t) == 0 || (t[0] != "*" && t[0] != string(token)) {
			continue
		}
		if len(t) == 1 {
			return nil, true
		}
		sub = append(sub, t[1:])
	}
	return sub, false
}

// refuses checks a client op of the view's writer: op at pointer path, with value for an
// add. It returns the refusal, or nil when the op touches nothing the view hides.
func (v *objView) refuses(op, path string, value []byte) *Error {
	tokens, err := parsePointer(path)
	if err != nil {
		return nil // parseOps refuses it
	}
	for _, h := range v.hide {
		n := min(len(tokens), len(h))
		if !tokensMatch(h[:n], tokens[:n]) {
			continue
		}
		if len(tokens) > 0 && len(tokens) < len(h) && op == "add" && tokens[len(tokens)-1] == "-" && value != nil {
			// An append erases nothing; what it adds must hold nothing hidden.
			// The decoder matches member names case-insensitively, so a member that
			// folds to a hidden one counts as hidden.
			if out, err := filterJSON(nil, value, [][]string{h[len(tokens):]}); err == nil && bytes.Equal(out, bytes.TrimSpace(value)) && !holdsFolded(value, h[len(tokens):]) {
				continue
			}
		}
		return errorf(CodeReadOnly, path, "%s is not writable in this view", path)
	}
	return nil
}

// tokensMatch reports whether the pattern tokens h match the pointer tokens p of a client
// op, one for one. Names match as the decoder matches struct members, case-insensitively
// (foldName): `/members/0/EMAIL` writes the Email a pattern `/members/*/email` hides. A
// map key folded alike is refused too, which errs on the side of the view.
func tokensMatch(h, p []string) bool {
	for i := range h {
		if h[i] != "*" && h[i] != p[i] && foldName(h[i]) != foldName(p[i]) {
			return false
		}
	}
	return true
}

// holdsFolded reports whether the JSON value holds a member at the pattern rest, names
// compared folded (see tokensMatch), as the decoder would find it.
func holdsFolded(value []byte, rest []string) bool {
	var v any
	if json.Unmarshal(value, &v) != nil {
		return true // not JSON: refused either way
	}
	return foldedAt(v, rest)
}

func foldedAt(v any, rest []string) bool {
	if len(rest) == 0 {
		return true
	}
	switch x := v.(type) {
	case map[string]any:
		for k, m := range x {
			if (rest[0] == "*" || foldName(k) == foldName(rest[0])) && foldedAt(m, rest[1:]) {
				return true
			}
		}
	case []any:
		for i, m := range x {
			if (rest[0] == "*" || rest[0] == strconv.Itoa(i)) && foldedAt(m, rest[1:]) {
				return true
			}
		}
	}
	return false
}

// hides reports whether the pointer path lies at or under a part the view hides.
func (v *objView) hides(path string) bool {
	tokens, err := parsePointer(path)
	if err != nil {
		return true
	}
	for _, h := range v.hide {
		if len(tokens) >= len(h) && tokensMatch(h, tokens[:len(h)]) {
			return true
		}
	}
	return false
}

// refreshLocked brings the view's filtered state to the object's published one, without
// a patch (a _SET follows). The caller holds pub.
func (v *objView) refreshLocked(o *object) {
	if v.src != nil && v.version == o.version && sameSlices(v.src, o.last) {
		return
	}
	next := make([][]byte, len(o.fields))
	for i := range o.fields {
		if v.src != nil && reused(v.src[i], o.last[i]) {
			next[i] = v.last[i]
		} else {
			next[i] = v.filterField(i, o.last[i])
		}
	}
	v.src, v.last, v.version, v.setCache = o.last, next, o.version, nil
}

// advanceLocked moves the view to the object's published state and returns the view's
// patch frame for it, with the filtered encodings before and after. ok is false when the
// patch cannot be built; the view's subscribers then need a _SET. The caller holds pub.
func (v *objView) advanceLocked(o *object, vs *viewSet) (f *frame, before, after [][]byte, ok bool) {
	if v.src == nil {
		v.refreshLocked(o)
		return nil, nil, nil, false
	}
	before = v.last
	after = make([][]byte, len(o.fields))
	buf := append(make([]byte, 0, 128), o.patchHd...)
	n := 0
	ok = true
	for i := range o.fields {
		if reused(v.src[i], o.last[i]) {
			after[i] = v.last[i]
			continue
		}
		after[i] = v.filterField(i, o.last[i])
		if after[i] == nil || bytes.Equal(after[i], before[i]) {
			continue
		}
		var err error
		if buf, n, err = patch.AppendDiff(buf, n, o.fields[i].pointer, before[i], after[i], &o.diffOpt); err != nil {
			ok = false
		}
	}
	v.src, v.last, v.version, v.setCache = o.last, after, o.version, nil
	if !ok {
		return nil, before, after, false
	}
	vs.frames++
	return &frame{data: appendVersionTail(append(buf, ']'), o.version), shared: v.subs > 1, published: time.Now()}, before, after, true
}

// setFrameLocked returns the view's _SET frame of the published state. The caller holds pub.
func (v *objView) setFrameLocked(o *object, vs *viewSet) *frame {
	v.refreshLocked(o)
	if v.setCache == nil || v.setEpoch != o.epoch {
		buf := appendSetHead(make([]byte, 0, 64+o.size()), o.key)
		buf = v.appendDoc(buf, o, v.last)
		v.setCache = &frame{data: appendSetTail(buf, o.version, o.epoch), shared: v.subs > 1}
		v.setEpoch = o.epoch
		vs.frames++
	}
	return v.setCache
}

// appendDoc appends the filtered encodings enc as one JSON object, fields hidden whole
// left out.
func (v *objView) appendDoc(buf []byte, o *object, enc [][]byte) []byte {
	buf = append(buf, '{')
	n := 0
	for i := range o.fields {
		if enc[i] == nil {
			continue
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		n++
		buf = append(buf, o.fields[i].member...)
		buf = append(buf, enc[i]...)
	}
	return append(buf, '}')
}

// viewOfLocked returns the view s is subscribed with: nil for the object's own, the
// fail-closed view for a session that is not subscribed to an object with views. The
// caller holds pub.
func (o *object) viewOfLocked(s subscriber) *objView {
	v, ok := o.subs[s]
	if !ok && o.views != nil {
		return o.views.deny
	}
	return v
}

// subscribeView sets the view of subscriber s, keeping the views' counts; a view that
// gains its first subscriber is brought to the published state. The caller holds pub.
func (o *object) subscribeViewLocked(s subscriber, v *objView) {
	if old, ok := o.subs[s]; ok && old != nil {
		old.subs--
	}
	o.setSubLocked(s, v)
	if v != nil {
		if v.subs == 0 {
			v.src = nil // filtered afresh: it was not kept up while nobody held it
		}
		v.subs++
		v.refreshLocked(o)
	}
}

// deliverViewsLocked hands the published frame f, or the frame of their view, to every
// subscriber but skip (nil: none): each view with subscribers is advanced once, then
// every subscriber is handed its view's frame (a _SET when the view's patch could not be
// built). The caller holds pub.
func (o *object) deliverViewsLocked(f *frame, skip subscriber) {
	vs := o.views
	for _, v := range vs.byName {
		vs.advanceView(o, v)
	}
	vs.advanceView(o, vs.deny)
	for s, v := range o.subs {
		switch {
		case s == skip:
		case v == nil:
			s.deliver(o, f)
		case v.out == nil:
			s.resync(o)
		default:
			s.deliver(o, v.out)
		}
	}
}

// advanceView advances v, when it has subscribers, keeping its frame and its change in
// out, before and after for the delivery. The caller holds pub.
func (vs *viewSet) advanceView(o *object, v *objView) {
	if v == nil || v.subs == 0 {
		return
	}
	var ok bool
	v.out, v.before, v.after, ok = v.advanceLocked(o, vs)
	if !ok {
		v.out = nil
	}
}

// viewEcho plans the echo of a write by writer w, whose view v went from before to after
// in this publish at version ver: for each field the write changed, the ops from what the
// writer holds after its write to after; for every other field, the view's own diff. nil
// when the writer's state cannot be worked out (it then gets a _SET).
func (o *object) viewEcho(w *writeEcho, v *objView, before, after [][]byte, ver uint64) *echoPlan {
	held := before
	if w.patch != nil {
		doc, err := o.applyPatch(v.appendDoc(nil, o, before), w.patch)
		if err != nil {
			return nil
		}
		held = make([][]byte, len(o.fields))
		err = patch.ObjectMembers(doc, func(k string, val []byte) error {
			if i := o.fieldIndex(k); i >= 0 {
				held[i] = val
			}
			return nil
		})
		if err != nil {
			return nil
		}
	}
	p := &echoPlan{o: o, cur: after, ops: make([][]byte, len(after)), v: ver}
	for i := range after {
		var buf []byte
		var err error
		_, wrote := w.view[i]
		switch {
		case after[i] == nil:
		case wrote && w.patch == nil:
			buf, _, err = appendResidual(nil, 0, o.fields[i].pointer, w.view[i], after[i])
		case wrote:
			buf, _, err = appendResidual(nil, 0, o.fields[i].pointer, held[i], after[i])
		case !bytes.Equal(before[i], after[i]):
			buf, _, err = patch.AppendDiff(nil, 0, o.fields[i].pointer, before[i], after[i], &o.diffOpt)
		}
		if err != nil {
			return nil
		}
		p.ops[i] = buf
	}
	return p
}

// checkViewWrite refuses a write by a writer of view v that touches what v hides: ops
// for a _PATCH, members for a _SET (a partly hidden field the writer sends as its view
// holds it is dropped from members, so the write leaves it alone). The caller holds pub.
func (o *object) checkViewWrite(v *objView, ops []wireOp, members map[string]json.RawMessage) error {
	for _, op := range ops {
		if op.Path != nil {
			var value []byte
			if op.Op == "add" {
				value = op.Value
			}
			if err := v.refuses(op.Op, *op.Path, value); err != nil {
				return err
			}
		}
		if op.From != nil {
			if err := v.refuses(op.Op, *op.From, nil); err != nil {
				return err
			}
		}
	}
	v.refreshLocked(o)
	for name, raw := range members {
		i := o.fieldIndex(name)
		if i < 0 || len(v.tails[i]) == 0 {
			continue
		}
		if v.whole[i] || !jsonEqual(raw, v.last[i]) {
			return errorf(CodeReadOnly, o.fields[i].pointer, "%s is not writable in this view", o.fields[i].pointer)
		}
		delete(members, name)
	}
	return nil
}

// viewError keeps a refusal sent to a writer of view v from pointing into what v hides.
func viewError(v *objView, err error) error {
	var e *Error
	if v == nil || !errors.As(err, &e) || e.Path == "" || !v.hides(e.Path) {
		return err
	}
	return &Error{Code: e.Code, Message: "the write was refused"}
}

// reviewViews chooses again the view of every object with views the session is in, for
// its current identity, and sends a fresh _SET of each object whose view changed.
func (s *Session) reviewViews() {
	s.mu.Lock()
	objs := make([]*object, 0, len(s.objects))
	for _, o := range s.objects {
		if o.views != nil {
			objs = append(objs, o)
		}
	}
	s.mu.Unlock()
	for _, o := range objs {
		o.reviewView(s)
	}
}

// reviewView chooses s's view of o again. choose runs under pub, so a session that
// joins concurrently is subscribed with the identity current when it does.
func (o *object) reviewView(s *Session) {
	o.pub.Lock()
	defer o.pub.Unlock()
	cur, ok := o.subs[s]
	if !ok {
		return
	}
	if v := o.views.chooseView(s.Identity(), s.cfg.logger, o.key); v != cur {
		o.subscribeViewLocked(s, v)
		s.resync(o)
	}
}

// hiding names the views that hide field i whole, and those that hide parts of it, sorted;
// both are empty for an object without views.
func (vs *viewSet) hiding(i int) (whole, parts []string) {
	if vs == nil {
		return nil, nil
	}
	for _, name := range slices.Sorted(maps.Keys(vs.byName)) {
		switch v := vs.byName[name]; {
		case v == nil:
		case v.whole[i]:
			whole = append(whole, name)
		case len(v.tails[i]) > 0:
			parts = append(parts, name)
		}
	}
	return whole, parts
}
