package wssync

import (
	"context"
	"fmt"
	"reflect"
)

// hookList is a list of lifecycle hooks that can be removed individually.
type hookList struct {
	next  int
	hooks map[int]func(ctx context.Context)
}

func (l *hookList) add(fn func(ctx context.Context)) int {
	if l.hooks == nil {
		l.hooks = make(map[int]func(context.Context))
	}
	l.next++
	l.hooks[l.next] = fn
	return l.next
}

// OnConnect registers fn to run on every new connection (ws-sync's on_connect and init
// handlers), after the `_SET` frames are queued and before the first client frame is
// handled, serialized with the session's event handlers. No frame of the connection it
// replaced is handled after it: those not handled yet are dropped
// (TestAttackOnDemandDispatcherOrder). It returns a function that removes the hook.
func (s *Session) OnConnect(fn func(ctx context.Context)) (remove func()) {
	return s.addHook(&s.onConnect, fn)
}

// OnDisconnect registers fn to run whenever a connection whose OnConnect hooks ran ends
// (ws-sync's on_disconnect), also when a newer one replaced it: a connection closed (by
// Shutdown, a replacement, its client) before its OnConnect hooks could run runs neither,
// so hooks that count live connections stay even.
func (s *Session) OnDisconnect(fn func(ctx context.Context)) (remove func()) {
	return s.addHook(&s.onDisconnect, fn)
}

// OnClose registers fn to run once when the session is closed (ws-sync's on_terminate),
// after its connection and tasks have ended.
func (s *Session) OnClose(fn func(ctx context.Context)) (remove func()) {
	return s.addHook(&s.onClose, fn)
}

func (s *Session) addHook(l *hookList, fn func(ctx context.Context)) func() {
	s.mu.Lock()
	id := l.add(fn)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(l.hooks, id)
		s.mu.Unlock()
	}
}

// runHooks runs a copy of the list, each protected from panics.
func (s *Session) runHooks(l *hookList, ctx context.Context) {
	s.mu.Lock()
	fns := make([]func(context.Context), 0, len(l.hooks))
	for id := 1; id <= l.next; id++ {
		if fn, ok := l.hooks[id]; ok {
			fns = append(fns, fn)
		}
	}
	s.mu.Unlock()
	for _, fn := range fns {
		_, err := callSafely(func() (any, error) { fn(ctx); return nil, nil })
		if err != nil {
			s.cfg.logger.Error("wssync: lifecycle hook panicked", "err", err)
		}
	}
}

// On registers handler for the custom client event name: a frame {"type": name, "data":
// ...} decodes data into P and calls handler. When P is a struct, data must be an object
// and is decoded like action params (required fields, no unknown members, Validator); any
// other P decodes data as plain JSON with type checks. Binary frames announced with
// `_BIN_META` fill a []byte field named "data". Refusals reach the client as CodeBadParams.
//
// Handlers run one at a time per session, in arrival order. Registering a name that
// already has a handler is an error unless Override is given; names starting with '_' are
// reserved for the protocol.
func On[P any](s *Session, name string, handler func(ctx context.Context, p P) error, opts ...EventOption) error {
	var cfg eventConfig
	for _, o := range opts {
		o(&cfg)
	}
	if name == "" || name[0] == '_' {
		return fmt.Errorf("wssync: event name %q: names starting with '_' are reserved", name)
	}
	dec, err := newParamDecoder(reflect.TypeFor[P](), lowerCamel)
	if err != nil {
		return fmt.Errorf("wssync: event %q: %w", name, bare(err))
	}
	h := func(c *conn, in *inbound) error {
		var p reflect.Value
		var perr *Error
		if dec.isStruct {
			p, perr = dec.decodeObject(in.data, in.bin)
		} else {
			p, perr = dec.decodeValue(in.data)
		}
		if perr != nil {
			return perr
		}
		_, err := callSafely(func() (any, error) { return nil, handler(c.sess.ctx, *p.Interface().(*P)) })
		if err != nil {
			return handlerError(CodeActionFailed, err)
		}
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.events[name]; dup && !cfg.override {
		return fmt.Errorf("%w: event %q", ErrDuplicateHandler, name)
	}
	s.events[name] = h
	if s.eventTypes == nil {
		s.eventTypes = make(map[string]reflect.Type)
	}
	s.eventTypes[name] = reflect.TypeFor[P]()
	return nil
}

// Off removes the handler of a custom event; it reports whether there was one.
func (s *Session) Off(name string) bool {
	if name == "" || name[0] == '_' {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.events[name]
	delete(s.events, name)
	delete(s.eventTypes, name)
	return ok
}
