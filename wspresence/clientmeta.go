package wspresence

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/wssync/wssync"
)

// MetaAction is the action of a Presence's key with which a client sets its own
// Member.Meta, when WithClientMeta allows it: `_ACTION:KEY` with
// {"type": "meta", "meta": VALUE} (null or no "meta" clears it). From the React hook:
// sendAction({type: "meta", meta: {typing: true}}) on the key's useSynced.
const MetaAction = "meta"

// Defaults of ClientMeta.
const (
	DefaultMetaRate  = 10.0 // updates a second, per session
	DefaultMetaBurst = 10   // updates at once, per session
)

// ClientMeta lets clients set their own Member.Meta (MetaAction). Each refusal is an
// error of the action, which the client receives (the `_RESULT` of a call with an id, else
// an `_ERROR`), and leaves the member's Meta as it was:
//
//   - rate_limited: more than Burst updates at once, or more than Rate a second
//     on average, from one session;
//   - too_large (path /meta): more than the Presence's limit (DefaultMaxMeta,
//     WithMaxMeta) in compact JSON;
//   - rejected: Accept refused it (path and message of a *wssync.FieldError it
//     returns, else its message; a *wssync.Error it returns goes as it is).
//
// Rate and size are checked before Accept, so a flooding client costs no more than a
// token bucket.
type ClientMeta struct {
	Rate  float64 // sustained updates a second per session; 0 means DefaultMetaRate
	Burst int     // updates at once per session; 0 means DefaultMetaBurst

	// Accept, when set, decides what a client's update becomes. m is the member as it is
	// (m.Meta its Meta now), proposed the client's value (compact JSON within the limit,
	// nil for null), ctx the calling session's (wssync.IdentityFrom says who). It returns
	// the Meta to set, held to the size limit too — proposed to take it as sent, or
	// proposed merged into m.Meta to keep what the server set there (a display name) — or
	// an error to refuse it. Without Accept, proposed replaces the Meta.
	//
	// It runs on the session's event goroutine, like an action handler; a SetMeta of the
	// same session while it runs is overwritten by its result.
	Accept func(ctx context.Context, m Member, proposed json.RawMessage) (json.RawMessage, error)
}

// WithClientMeta registers MetaAction on the Presence's key, so that each member's
// client may set its own Meta within c's bounds. Without it, only SetMeta sets Meta.
func WithClientMeta(c ClientMeta) Option {
	return func(p *Presence) {
		if c.Rate <= 0 {
			c.Rate = DefaultMetaRate
		}
		if c.Burst <= 0 {
			c.Burst = DefaultMetaBurst
		}
		p.client = &c
	}
}

// metaParams are MetaAction's params.
type metaParams struct {
	Meta json.RawMessage `json:"meta"` // any JSON value, checked by decodeMeta
}

// registerClientMeta adds MetaAction when WithClientMeta was given.
func (p *Presence) registerClientMeta() error {
	if p.client == nil {
		return nil
	}
	return wssync.Action(p.synced, MetaAction, p.clientSetMeta)
}

// clientSetMeta is MetaAction's handler.
func (p *Presence) clientSetMeta(ctx context.Context, params metaParams) error {
	sess, ok := wssync.SessionFrom(ctx)
	if !ok {
		return ErrNotMember
	}
	if !p.allowClient(sess, time.Now()) {
		return &wssync.Error{Code: wssync.CodeRateLimited, Message: "too many presence updates; slow down"}
	}
	meta, err := decodeMeta(params.Meta, p.maxMeta)
	if err != nil {
		return metaRefusal(err)
	}
	if p.client.Accept != nil {
		id := memberID(sess)
		p.mu.Lock()
		m := Member{User: sess.Identity().User, Session: id, Meta: p.meta[id]}
		p.mu.Unlock()
		accepted, err := p.client.Accept(ctx, m, meta)
		if err != nil {
			return rejection(err)
		}
		if meta, err = decodeMeta(accepted, p.maxMeta); err != nil {
			return metaRefusal(err)
		}
	}
	return p.setMeta(sess, meta)
}

// metaRefusal is the client's view of a Meta decodeMeta refused.
func metaRefusal(err error) error {
	code := wssync.CodeTooLarge
	if errors.Is(err, ErrMetaNotJSON) {
		code = wssync.CodeBadParams // what Accept returned does not parse
	}
	return &wssync.Error{Code: code, Path: "/meta", Message: err.Error()}
}

// rejection is the client's view of a Validate refusal.
func rejection(err error) error {
	var we *wssync.Error
	if errors.As(err, &we) {
		return we
	}
	var fe *wssync.FieldError
	if errors.As(err, &fe) {
		return &wssync.Error{Code: wssync.CodeRejected, Path: fe.Path, Message: fe.Message}
	}
	return &wssync.Error{Code: wssync.CodeRejected, Message: err.Error()}
}

// allowClient takes one token from sess's bucket.
func (p *Presence) allowClient(sess *wssync.Session, now time.Time) bool {
	id := memberID(sess)
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buckets[id]
	if b == nil {
		b = &bucket{tokens: float64(p.client.Burst), last: now}
		p.buckets[id] = b
	}
	return b.take(now, p.client.Rate, float64(p.client.Burst))
}

// bucket is a token bucket: rate tokens a second, up to burst.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time, rate, burst float64) bool {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(burst, b.tokens+dt*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
