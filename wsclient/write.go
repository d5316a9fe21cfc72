package wsclient

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wssync/wssync/internal/jsontree"
	"github.com/wssync/wssync/internal/patch"
	"github.com/wssync/wssync/internal/proto"
)

// Op is one RFC 6902 operation of a write.
type Op struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	From  string `json:"from,omitempty"`
	Value any    `json:"value,omitempty"`
}

// Replace is the op {"op":"replace","path":path,"value":value}.
func Replace(path string, value any) Op { return Op{Op: "replace", Path: path, Value: value} }

// Update writes a change of the state: fn changes a copy of the current state, and the
// difference is sent as `_PATCH:KEY` (nothing when fn changed nothing). Only the key's
// writable fields may change. The write is applied to the local state at once, as a
// browser client does; the server's echo then brings what the write caused (computed
// fields), and a refused write is followed by the server's `_SET` (see OnError).
//
// Update waits (within ctx) until the key's state has arrived on a live connection: a
// write sent earlier could cross that `_SET` on the wire. It returns once the frame is
// written, not when the server applied it. If the connection breaks while the frame is
// written, it returns an error matching ErrConnectionLost: the write may be lost, and the
// next connection's `_SET` brings the binding back to the server's state.
func (b *Binding[T]) Update(ctx context.Context, fn func(v *T)) error {
	return b.write(ctx, func(k *keyState) ([]byte, bool, error) {
		var before, after T
		if err := json.Unmarshal(k.raw, &before); err != nil {
			return nil, false, err
		}
		_ = json.Unmarshal(k.raw, &after)
		fn(&after)
		old, err := json.Marshal(before)
		if err != nil {
			return nil, false, err
		}
		cur, err := json.Marshal(after)
		if err != nil {
			return nil, false, err
		}
		ops, n, err := patch.AppendDiff([]byte{'['}, 0, "", old, cur, nil)
		if err != nil || n == 0 {
			return nil, false, err
		}
		return append(ops, ']'), true, nil
	})
}

// Patch sends the ops as `_PATCH:KEY`, applied to the local state first (see Update for
// when it waits and what it returns).
func (b *Binding[T]) Patch(ctx context.Context, ops ...Op) error {
	return b.write(ctx, func(*keyState) ([]byte, bool, error) {
		raw, err := json.Marshal(ops)
		return raw, true, err
	})
}

// Set sends the whole state v as `_SET:KEY` (members T does not declare are left as they
// are); only writable fields may differ from the server's state. See Update for when it
// waits and what it returns.
func (b *Binding[T]) Set(ctx context.Context, v T) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.writeFrame(ctx, proto.Set, func(k *keyState) ([]byte, error) {
		next, err := jsontree.Merge(k.tree, raw)
		if err != nil {
			return nil, fmt.Errorf("wsclient: Set of %q: the state and the value must be JSON objects", b.key)
		}
		return raw, k.replace(next)
	})
}

// write sends the `_PATCH` that build returns (nothing when it returns false).
func (b *Binding[T]) write(ctx context.Context, build func(k *keyState) ([]byte, bool, error)) error {
	return b.writeFrame(ctx, proto.Patch, func(k *keyState) ([]byte, error) {
		ops, send, err := build(k)
		if err != nil || !send {
			return nil, err
		}
		next, err := jsontree.Clone(k.tree)
		if err == nil {
			next, err = jsontree.Apply(next, ops)
		}
		if err != nil {
			return nil, fmt.Errorf("wsclient: write of %q does not apply to the state: %w", b.key, err)
		}
		return ops, k.replace(next)
	})
}

// writeFrame waits for the key to be live, then, with the client's lock held (so no frame
// of the server is applied in between), applies the write locally with apply and sends
// it. apply returns the frame's data (nil: nothing to send).
func (b *Binding[T]) writeFrame(ctx context.Context, event string, apply func(k *keyState) ([]byte, error)) error {
	c := b.c
	for {
		var cn *conn
		err := c.waitFor(ctx, func() bool {
			k := c.keys[b.key]
			cn = c.conn
			return cn != nil && cn.ready && k.live && !k.awaiting && k.tree != nil
		})
		if err != nil {
			return err
		}
		c.mu.Lock()
		k := c.keys[b.key]
		if c.conn != cn || !k.live || k.awaiting || k.tree == nil {
			c.mu.Unlock()
			continue // the connection changed meanwhile: wait again
		}
		data, err := apply(k)
		if err == nil && data != nil {
			err = cn.write(outFrame{Type: proto.Keyed(event, b.key), Data: json.RawMessage(data)})
		}
		c.notifyLocked()
		c.mu.Unlock()
		return err
	}
}

// replace makes next (a tree) the key's state after a write of the client.
func (k *keyState) replace(next any) error {
	raw, err := json.Marshal(next)
	if err != nil {
		return err
	}
	k.tree, k.wrote = next, true
	k.commit(raw)
	return nil
}
