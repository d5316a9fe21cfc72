package wssync

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/wssync/wssync/internal/proto"
)

// actionEntry is one registered action of an object.
type actionEntry struct {
	params *paramDecoder
	result reflect.Type                                            // R of ActionResult, for Schema; nil for Action
	invoke func(ctx context.Context, p reflect.Value) (any, error) // p is a *P
}

// Action registers handler as action name of s's object: a client frame
// `_ACTION:KEY` with data `{"type": name, ...params}` decodes the params into P and calls
// handler. After the handler returns, the object is synced, so the handler only mutates
// (under the concurrency rule: s.Update, or s.Lock/s.Unlock).
//
// P is a struct whose fields are the params, named like synced fields (json tag, else the
// object's naming rule). A field is required unless its type is a pointer, slice, map or
// interface, or its json tag says omitempty/omitzero; a type with its own UnmarshalJSON (an
// enum, time.Time) is required too. `validate` tags (github.com/go-playground/validator/v10,
// e.g. `validate:"required,oneof=low high,min=1"`) are checked, nested structs included.
// Unknown params, missing required ones, wrong types, null where the type cannot hold it
// (at any depth), a failing tag and a failing Validate method (see Validator) are refused
// with CodeBadParams and the JSON Pointer of the member, and the handler is not called. A handler error or panic reaches the client as
// CodeActionFailed; the session lives on. A []byte param named "data" receives the payload
// when the action is sent as binary (`_BIN_META` + binary frame).
//
// Actions of one session run one at a time, in arrival order, on the connection's
// dispatcher (not its reader, so keepalive goes on meanwhile); frames that arrive while one
// runs wait in a bounded queue, and past it the server stops reading the connection. Keep
// them short and use a Task for long work. ctx is cancelled when the session closes.
// Registering a name twice on one object is an error.
func Action[T, P any](s *Synced[T], name string, handler func(ctx context.Context, p P) error) error {
	return s.o.addAction(name, reflect.TypeFor[P](), nil, func(ctx context.Context, p reflect.Value) (any, error) {
		return nil, handler(ctx, *p.Interface().(*P))
	})
}

// ActionResult is Action for handlers with a result. When the client's frame carries a
// request id (our extension), the server answers with one `_RESULT` frame carrying the
// result, JSON-encoded, or the error.
func ActionResult[T, P, R any](s *Synced[T], name string, handler func(ctx context.Context, p P) (R, error)) error {
	return s.o.addAction(name, reflect.TypeFor[P](), reflect.TypeFor[R](), func(ctx context.Context, p reflect.Value) (any, error) {
		return handler(ctx, *p.Interface().(*P))
	})
}

// RemoveAction removes action name; it reports whether there was one.
func (s *Synced[T]) RemoveAction(name string) bool {
	s.o.hmu.Lock()
	defer s.o.hmu.Unlock()
	_, ok := s.o.actions[name]
	delete(s.o.actions, name)
	return ok
}

func (o *object) addAction(name string, pt, rt reflect.Type, invoke func(context.Context, reflect.Value) (any, error)) error {
	dec, err := o.callParams("action", name, pt)
	if err != nil {
		return err
	}
	return addCall(o, "action", name, &o.actions, &actionEntry{params: dec, result: rt, invoke: invoke})
}

// callParams prepares the params decoder of an action or task.
func (o *object) callParams(kind, name string, pt reflect.Type) (*paramDecoder, error) {
	if name == "" {
		return nil, fmt.Errorf("wssync: key %q: a %s needs a name", o.key, kind)
	}
	dec, err := newParamDecoder(pt, o.naming)
	if err != nil {
		return nil, fmt.Errorf("wssync: key %q %s %q: %w", o.key, kind, name, bare(err))
	}
	if !dec.isStruct {
		return nil, fmt.Errorf("wssync: key %q %s %q: params must be a struct, not %s", o.key, kind, name, pt)
	}
	return dec, nil
}

// addCall adds entry under name to one of the object's handler tables.
func addCall[E any](o *object, kind, name string, table *map[string]E, entry E) error {
	o.hmu.Lock()
	defer o.hmu.Unlock()
	if o.gone.Load() {
		return ErrUnregistered
	}
	if _, dup := (*table)[name]; dup {
		return fmt.Errorf("%w: %s %q on key %q", ErrDuplicateHandler, kind, name, o.key)
	}
	if *table == nil {
		*table = make(map[string]E)
	}
	(*table)[name] = entry
	return nil
}

// handleAction dispatches `_ACTION:KEY`.
func handleAction(o *object) eventHandler {
	return func(c *conn, in *inbound) error {
		name, members, perr := parseCall(in.data, in.event)
		if perr != nil {
			return perr
		}
		o.hmu.RLock()
		a := o.actions[name]
		o.hmu.RUnlock()
		if a == nil {
			return withAction(errorf(CodeUnknownAction, "", "no action %q on key %q", name, o.key), name)
		}
		p, perr := a.params.decodeMembers(members, in.bin)
		if perr != nil {
			return withAction(perr, name)
		}
		result, err := callSafely(func() (any, error) { return a.invoke(c.sess.ctx, p) })
		if serr := o.syncFor(c); serr != nil {
			c.log.Error("wssync: sync after action failed", "key", o.key, "action", name, "err", serr)
		}
		if err != nil {
			c.log.Info("wssync: action failed", "key", o.key, "action", name, "err", err)
			return withAction(handlerError(CodeActionFailed, err), name)
		}
		if in.id != "" {
			f, err := resultFrame(in.id, result)
			if err != nil {
				c.log.Error("wssync: action result does not marshal", "key", o.key, "action", name, "err", err)
				return withAction(errorf(CodeInternal, "", "the result of %q could not be encoded", name), name)
			}
			c.reply(f)
		}
		return nil
	}
}

// acknowledge answers a request that carried an id with a null `_RESULT`.
func (c *conn) acknowledge(in *inbound) {
	if in.id != "" {
		f, _ := resultFrame(in.id, nil) // null always marshals
		c.reply(f)
	}
}

// callSafely runs fn, turning a panic into an error.
func callSafely(fn func() (any, error)) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn()
}

// handlerError is the client's view of a handler's error: an *Error as it is, anything
// else under code with the error's message.
func handlerError(code Code, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return errorf(code, "", "%v", err)
}

func withAction(e *Error, name string) *Error {
	e.Action = name
	return e
}

// SendAction sends an exposed action to the client: `_ACTION:KEY` with data
// `{"type": name, ...params}`, to every connected session of a shared object. params must
// marshal to a JSON object (or be nil). It returns ErrNotConnected when no client is
// connected; the action is not queued for later.
func (s *Synced[T]) SendAction(name string, params any) error {
	data, err := mergeType(name, params)
	if err != nil {
		return err
	}
	sent := false
	for _, sess := range s.o.sessions() {
		if sess.sendEvent(proto.Keyed(proto.Action, s.o.key), data) == nil {
			sent = true
		}
	}
	if !sent {
		return ErrNotConnected
	}
	return nil
}
