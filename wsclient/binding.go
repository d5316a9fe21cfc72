package wsclient

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
)

// Binding is a typed local copy of one key's state, kept current by the server's `_SET`
// and `_PATCH` frames: a version gap or a patch that does not apply is repaired with a
// `_GET` (the client skips patches until the fresh `_SET`). While the client is
// disconnected the Binding keeps the last state it had; the next connection's `_SET`
// brings it up to date, whatever changed meanwhile.
//
// T's JSON names must be the wire names of the key's fields (the server's `sync` or
// `json` tag names, else lowerCamelCase): give T `json` tags. Members T does not declare
// are ignored on read, and never written by Update.
//
// A Binding is safe for concurrent use. Its callbacks run on the client's dispatcher.
type Binding[T any] struct {
	c   *Client
	key string

	mu      sync.RWMutex
	val     T      // the decoded state (Read)
	raw     []byte // its JSON (Get decodes a fresh copy)
	v       uint64
	hasV    bool
	decErr  error // the last state that did not decode into T, if the latest did not
	changes chan struct{}
	subs    map[int]func(T)
	nextSub int
}

// Bind binds key to a local value of type T and returns it. A state the client has
// already received for key is decoded at once; otherwise the Binding is empty until the
// key's first `_SET`. A key can be bound once per client (ErrAlreadyBound).
func Bind[T any](c *Client, key string) (*Binding[T], error) {
	b := &Binding[T]{c: c, key: key, changes: make(chan struct{}, 1), subs: map[int]func(T){}}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, c.err
	}
	k := c.keyLocked(key)
	if k.bound != nil {
		return nil, fmt.Errorf("%w: %q", ErrAlreadyBound, key)
	}
	k.bound = b
	if k.loaded {
		b.changed(k.raw, k.v, k.hasV)
	}
	return b, nil
}

// Key returns the bound key.
func (b *Binding[T]) Key() string { return b.key }

// changed decodes the new state. It runs with the client's mu held (on the reader, or in
// Bind), so it only decodes and queues: callbacks run on the dispatcher.
func (b *Binding[T]) changed(raw []byte, v uint64, hasV bool) {
	var val T
	if err := json.Unmarshal(raw, &val); err != nil {
		b.mu.Lock()
		b.decErr = fmt.Errorf("wsclient: state of %q does not decode into %T: %w", b.key, val, err)
		b.mu.Unlock()
		b.c.cfg.logger.Warn("wsclient: state does not decode", "key", b.key, "err", err)
		return
	}
	b.mu.Lock()
	b.val, b.raw, b.v, b.hasV, b.decErr = val, raw, v, hasV, nil
	subs := make([]func(T), 0, len(b.subs))
	for _, fn := range b.subs {
		subs = append(subs, fn)
	}
	b.mu.Unlock()
	select {
	case b.changes <- struct{}{}:
	default: // a change is already signalled; the reader of Changes sees the latest state
	}
	if len(subs) > 0 {
		var cp T
		_ = json.Unmarshal(raw, &cp) // decoded once already
		b.c.disp.enqueue(func() {
			for _, fn := range subs {
				fn(cp)
			}
		})
	}
}

// Get returns a deep copy of the current state (decoded afresh, so the caller may keep
// and modify it), or the zero T before the first `_SET`. It costs one decode of the
// state; Read does not copy.
func (b *Binding[T]) Get() T {
	b.mu.RLock()
	raw := b.raw
	b.mu.RUnlock()
	var v T
	if raw != nil {
		_ = json.Unmarshal(raw, &v) // it decoded into T before
	}
	return v
}

// Read calls fn with the current state under a read lock, without copying it. fn must not
// keep or modify the value (or anything it points to), must not block and must not call
// the client: the state is not updated while fn runs.
func (b *Binding[T]) Read(fn func(v *T)) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	fn(&b.val)
}

// Version returns the version of the current state and whether the server sent one (a
// wssync server always does; a ws-sync Python server never).
func (b *Binding[T]) Version() (v uint64, ok bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.v, b.hasV
}

// Loaded reports whether a state has arrived.
func (b *Binding[T]) Loaded() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.raw != nil
}

// Live reports whether the state is current: the client is connected and the key's
// `_SET` arrived on this connection, with no repair under way.
func (b *Binding[T]) Live() bool {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	k := b.c.keys[b.key]
	return b.c.conn != nil && k.live && !k.awaiting
}

// Err returns why the latest state did not decode into T, or nil. Get and Read keep the
// last state that decoded.
func (b *Binding[T]) Err() error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.decErr
}

// Changes returns a channel that receives a value after the state changed. It holds at
// most one pending signal, so a slow reader sees fewer signals, never a stale state:
// read the state with Get or Read after each.
func (b *Binding[T]) Changes() <-chan struct{} { return b.changes }

// OnChange calls fn with a copy of every new state, on the client's dispatcher (one
// callback at a time, in order). It returns a function that removes fn.
func (b *Binding[T]) OnChange(fn func(v T)) (remove func()) {
	b.mu.Lock()
	id := b.nextSub
	b.nextSub++
	b.subs[id] = fn
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
	}
}

// Wait blocks until the state satisfies cond (nil: until any state has arrived), and
// returns that state (a copy). cond runs on the caller's goroutine, with no lock held. Wait
// fails when ctx ends or the client stops.
func (b *Binding[T]) Wait(ctx context.Context, cond func(v T) bool) (T, error) {
	var got T
	for {
		b.c.mu.Lock()
		ch, stopped := b.c.changed, b.c.err // taken before the state: a later change closes ch
		b.c.mu.Unlock()
		b.mu.RLock()
		raw := b.raw
		b.mu.RUnlock()
		if raw != nil {
			var v T
			if json.Unmarshal(raw, &v) == nil {
				got = v
				if cond == nil || cond(v) {
					return v, nil
				}
			}
		}
		if stopped != nil {
			return got, stopped
		}
		select {
		case <-ctx.Done():
			return got, ctx.Err()
		case <-ch:
		}
	}
}

// Resyncs returns how many times the key's state had to be repaired with a `_GET`: a
// version gap (a patch lost on the way, which a wssync server never causes on one
// connection) or a patch that did not apply. Reconnects, which always bring a `_SET`, are
// not counted.
func (b *Binding[T]) Resyncs() int {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	return b.c.keys[b.key].gaps
}
