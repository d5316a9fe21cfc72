package wssync

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"unicode"

	"github.com/wssync/wssync/internal/patch"
)

// Registry is where objects are registered: a *Session, or a Scope of one.
type Registry interface {
	// registry returns the session and the key prefix ("" or ending in "/").
	registry() (*Session, string)
}

func (s *Session) registry() (*Session, string) { return s, "" }

// Scope is a Registry that prefixes every key registered through it, as ws-sync's
// sync_key_scope does: s.Scope("room-7").Scope("chat") registers "NOTES" as
// "room-7/chat/NOTES". Empty prefixes are skipped.
type Scope struct {
	sess   *Session
	prefix string
}

// Scope returns a Registry that prefixes keys with prefix + "/".
func (s *Session) Scope(prefix string) Scope { return Scope{sess: s}.Scope(prefix) }

// Scope nests a further prefix.
func (sc Scope) Scope(prefix string) Scope {
	if prefix != "" {
		sc.prefix += prefix + "/"
	}
	return sc
}

// Key returns the full key that key gets in this scope.
func (sc Scope) Key(key string) string { return sc.prefix + key }

func (sc Scope) registry() (*Session, string) { return sc.sess, sc.prefix }

// WriteValidator is implemented by a registered struct that wants to veto client writes.
// It runs after the `validate` tags of the changed fields (github.com/go-playground/
// validator/v10, nested structs included), which refuse with CodeRejected and the member's
// JSON Pointer.
// ValidateWrite receives a shallow copy of the object with the write applied; returning an
// error refuses the whole write (the client gets CodeRejected, with the path of a
// *FieldError). It runs with the object locked: it must not call Update or Lock.
type WriteValidator[T any] interface {
	ValidateWrite(next *T) error
}

// WriteContextValidator is implemented by a registered struct whose veto of client writes
// depends on who writes, or on what the value was: ValidateWriteContext receives the
// writer's ctx (IdentityFrom and SessionFrom give the session that sent the write — for a
// shared object, that one among its subscribers), prev, the object as it is, and next, a
// shallow copy of it with the write applied. Both share with the live object the slices,
// maps and pointers the write left alone: read them, never modify them. It is called on
// next, so use its arguments rather than the receiver.
//
// It runs after the fields' `sync` tag rules (write=roles, owner=member) and `validate`
// tags, and after ValidateWrite when the struct has both; returning an error refuses the
// whole write: a *FieldError is CodeRejected with its path, an *Error with CodeReadOnly or
// CodeRejected reaches the client as it is, anything else is CodeRejected. As
// ValidateWrite, it runs on the writer's dispatcher (or, on an object with a backend, on
// its backend goroutine when a write made while the backend was away is made again) with
// the object's publish lock and lock held: it must not call Update, Lock, Sync or
// anything else of the same object. The writer's ctx ends when its session closes.
type WriteContextValidator[T any] interface {
	ValidateWriteContext(ctx context.Context, prev, next *T) error
}

// Register syncs obj under key in r (a Session or a Scope), sending its state to the
// session's client now and on every connect. obj must be a non-nil pointer to a struct;
// from now on it may only be touched under the rule of Synced (Update, or Lock/Unlock).
//
// Register fails — before anything is sent — on a duplicate key, a bad `sync` tag, a field
// type JSON cannot carry, two fields with one wire name, or a first snapshot that does not
// marshal.
func Register[T any](r Registry, key string, obj *T, opts ...RegisterOption) (*Synced[T], error) {
	sess, prefix := r.registry()
	reg := newRegistration(opts)
	if reg.backend != nil {
		return nil, errSessionBackend
	}
	s, err := newShared(prefix+key, obj, reg)
	if err != nil {
		return nil, err
	}
	s.o.owner = sess
	s.o.scope = prefix
	if err := s.Join(sess); err != nil {
		return nil, err
	}
	s.sess = sess
	return s, nil
}

// NewShared prepares obj to be synced to any number of sessions at once (a room, a
// dashboard): each change is snapshotted, diffed and encoded once, and the same frame goes
// to every session that joined (Join). The key is used as it is in every session. Options
// and failure modes are those of Register. Client writes to writable fields are applied
// once and reach every subscriber; actions and tasks registered on it serve every session.
func NewShared[T any](key string, obj *T, opts ...RegisterOption) (*Synced[T], error) {
	return newShared(key, obj, newRegistration(opts))
}

// newShared is NewShared with its options applied.
func newShared[T any](key string, obj *T, reg registration) (*Synced[T], error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if obj == nil || reflect.TypeFor[T]().Kind() != reflect.Struct {
		return nil, fmt.Errorf("%w: got %T", ErrNotStructPointer, obj)
	}
	spec, err := typeSpecOf(reflect.TypeFor[T]())
	if err != nil {
		return nil, err
	}
	o := &object{key: key, val: reflect.ValueOf(obj).Elem(), replay: !reg.noReplay, diffOpt: reg.diff, naming: reg.naming, maxState: reg.maxState}
	o.runningWire = reg.runningTasks
	if reg.runningTasks != "" {
		reg.computed = append(reg.computed, boundField{wire: reg.runningTasks, compute: func() any { return o.runningTasks() }})
	}
	if o.fields, err = bindFields(spec, &reg); err != nil {
		return nil, fmt.Errorf("wssync: key %q: %w", key, bare(err))
	}
	o.stale, o.record.changed = reg.stale, make([]uint64, len(o.fields))
	o.lists = newListCaches(o.fields)
	o.logs = newLogCaches(o.fields)
	o.memos = newFieldMemos(o.val.Type(), o.fields)
	o.veto = writeHooks[T](obj)
	for i := range o.fields {
		if fs := o.fields[i].spec; fs != nil && (fs.roles != nil || fs.owner != nil) {
			o.rules = true
		}
		o.writes = o.writes || o.fields[i].writable
	}
	if reg.views != nil {
		if o.views, err = newViewSet(reg.views, o.fields); err != nil {
			return nil, fmt.Errorf("wssync: key %q: %w", key, bare(err))
		}
	}
	o.events = o.newHandlers()
	o.patchHd = patchHead(key)
	o.epoch = newEpoch()
	if o.views == nil { // an object with views keeps no history (see recordLocked)
		o.hist = newHistory(reg.historyPatches, reg.historyBytes)
	}
	o.pub.Lock()
	cur, _, err := o.snapshotChanged()
	if err == nil {
		o.last = cur
	}
	o.pub.Unlock()
	if err != nil {
		return nil, err
	}
	if reg.backend != nil {
		o.attachBackend(reg.backend)
	}
	return &Synced[T]{o: o, ptr: obj}, nil
}

// writeHooks returns the validation hooks obj's type implements, ValidateWrite first, as
// one function; nil when it implements neither.
func writeHooks[T any](obj *T) func(ctx context.Context, prev, next reflect.Value) error {
	_, plain := any(obj).(WriteValidator[T])
	_, withCtx := any(obj).(WriteContextValidator[T])
	if !plain && !withCtx {
		return nil
	}
	return func(ctx context.Context, prev, next reflect.Value) error {
		p := next.Interface().(*T)
		if v, ok := any(p).(WriteValidator[T]); ok {
			if err := v.ValidateWrite(p); err != nil {
				return err
			}
		}
		if v, ok := any(p).(WriteContextValidator[T]); ok {
			return v.ValidateWriteContext(ctx, prev.Interface().(*T), p)
		}
		return nil
	}
}

// Join subscribes sess to the object: it gets the object's events and, on its live
// connection, a _SET now and every patch from now on. A session joins a key once.
func (s *Synced[T]) Join(sess *Session) error {
	if s.o.gone.Load() {
		return ErrUnregistered
	}
	return sess.add(s.o)
}

// Leave unsubscribes sess: the object's events are removed from it and its client stops
// receiving the object's frames. Tasks the session started on the object keep running
// until they end or the session closes.
func (s *Synced[T]) Leave(sess *Session) { sess.remove(s.o) }

// bindFields fixes the wire names of a registration.
func bindFields(spec *typeSpec, reg *registration) ([]boundField, error) {
	fields := make([]boundField, 0, len(spec.fields)+len(reg.computed))
	seen := make(map[string]string)
	add := func(f boundField, what string) error {
		if !validWireName(f.wire) {
			return fmt.Errorf("%w: %s has an invalid wire name %q", ErrBadTag, what, f.wire)
		}
		if other, dup := seen[f.wire]; dup {
			return fmt.Errorf("%w: %q is used by %s and %s", ErrDuplicateName, f.wire, other, what)
		}
		seen[f.wire] = what
		f.member = append(appendJSONString(nil, f.wire), ':')
		f.pointer = "/" + patch.EscapeToken(f.wire)
		fields = append(fields, f)
		return nil
	}
	for i := range spec.fields {
		fs := &spec.fields[i]
		name := fs.tagName
		if name == "" {
			name = reg.naming(fs.goName)
		}
		if err := add(boundField{spec: fs, wire: name, writable: fs.writable}, "field "+fs.goName); err != nil {
			return nil, err
		}
	}
	for _, c := range reg.computed {
		if c.compute == nil {
			return nil, fmt.Errorf("wssync: computed value %q has no function", c.wire)
		}
		if err := add(c, "computed value "+c.wire); err != nil {
			return nil, err
		}
	}
	return fields, nil
}

// checkKey refuses keys the wire format cannot carry unambiguously.
func checkKey(key string) error {
	if key == "" || strings.HasSuffix(key, "/") {
		return fmt.Errorf("%w: %q: a key must be non-empty", ErrBadKey, key)
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %q: control characters are not allowed", ErrBadKey, key)
		}
	}
	return nil
}

// add registers o's events and subscribes the session to it.
func (s *Session) add(o *object) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.objects[o.key]; dup {
		return fmt.Errorf("%w: %q", ErrDuplicateKey, o.key)
	}
	if err := s.addHandlersLocked(o.events); err != nil {
		return err
	}
	s.objects[o.key] = o
	s.keys.Store(o.key, o)
	if s.cfg.observer != nil {
		o.observer.CompareAndSwap(nil, s.cfg.observer)
	}
	o.subscribeAs(s, s.Identity(), s.cfg.logger)
	if c := s.live.Load(); c != nil && o.replay {
		c.q.resync(o)
	}
	return nil
}

// remove unregisters o: its events go, its subscription ends, the live connection forgets it.
func (s *Session) remove(o *object) {
	s.mu.Lock()
	if s.objects[o.key] == o {
		delete(s.objects, o.key)
		s.keys.CompareAndDelete(o.key, o)
		for ev := range o.events {
			delete(s.events, ev)
		}
	}
	s.mu.Unlock()
	o.unsubscribe(s)
	if c := s.live.Load(); c != nil {
		c.q.forget(o)
	}
}
