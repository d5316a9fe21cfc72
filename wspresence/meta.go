package wspresence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wssync/wssync"
)

// DefaultMaxMeta is the largest Member.Meta, in bytes of compact JSON, unless WithMaxMeta
// says otherwise. Every node stores, reads and sends every member's Meta on each change of
// the room, so it is meant for a cursor or a status, not a document.
const DefaultMaxMeta = 1024

// Errors of SetMeta (and, as codes, of a client's meta update: see WithClientMeta).
var (
	// ErrMetaTooLarge: the Meta is longer than the Presence's limit (DefaultMaxMeta,
	// WithMaxMeta) in compact JSON.
	ErrMetaTooLarge = errors.New("wspresence: member meta too large")
	// ErrMetaNotJSON: the Meta is not a JSON value (a json.RawMessage or []byte given to
	// SetMeta that does not parse).
	ErrMetaNotJSON = errors.New("wspresence: member meta is not JSON")
	// ErrNotMember: the session has not joined this Presence (or has left it).
	ErrNotMember = errors.New("wspresence: the session is not a member")
)

// WithMaxMeta sets the largest Member.Meta in bytes of compact JSON (DefaultMaxMeta).
// Every node of a room should use the same limit: a node does not check the Meta other
// nodes wrote.
func WithMaxMeta(n int) Option {
	return func(p *Presence) {
		if n > 0 {
			p.maxMeta = n
		}
	}
}

// SetMeta sets sess's Member.Meta to v as encoding/json marshals it (a json.RawMessage
// as it is, compacted); nil clears it. The session must have joined; its Meta lasts until
// it leaves, across reconnects, and while it is disconnected it waits for the next
// connection (a Meta that belongs to a connection, such as "typing", is best reset from
// the session's OnConnect hook). Every node sees the change within a store round trip, in Members, in the
// clients' State and in OnChange (as Updated). SetMeta never waits for the store, so it
// may be called from a session's handlers and hooks. A refusal (ErrMetaTooLarge,
// ErrMetaNotJSON, ErrNotMember, or v's marshalling error) leaves the Meta as it was.
func (p *Presence) SetMeta(sess *wssync.Session, v any) error {
	var raw []byte
	switch v := v.(type) {
	case nil:
	case json.RawMessage:
		raw = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("wspresence: meta: %w", err)
		}
		raw = b
	}
	meta, err := decodeMeta(raw, p.maxMeta)
	if err != nil {
		return err
	}
	return p.setMeta(sess, meta)
}

// decodeMeta checks and compacts a Meta: nil for nothing (empty or null), else compact
// JSON of at most max bytes. raw may come from a client.
func decodeMeta(raw []byte, max int) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetaNotJSON, err)
	}
	if buf.Len() > max {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMetaTooLarge, buf.Len(), max)
	}
	return json.RawMessage(buf.Bytes()), nil
}

// setMeta records sess's checked Meta, and has the Presence's goroutine write it when the
// session is a connected member.
func (p *Presence) setMeta(sess *wssync.Session, meta json.RawMessage) error {
	id := memberID(sess)
	p.mu.Lock()
	if _, joined := p.hooks[sess]; !joined {
		p.mu.Unlock()
		return ErrNotMember
	}
	if bytes.Equal(p.meta[id], meta) {
		p.mu.Unlock()
		return nil
	}
	if meta == nil {
		delete(p.meta, id)
	} else {
		p.meta[id] = meta
	}
	m, here := p.local[id]
	if here {
		m.Meta = meta
		p.local[id] = m
		p.pending[id] = true
	}
	p.mu.Unlock()
	if here {
		p.wake()
	}
	return nil
}
