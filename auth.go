package wssync

import (
	"context"
	"sync"
	"time"

	"github.com/wssync/wssync/internal/patch"
	"github.com/wssync/wssync/internal/proto"
)

// Bounds of in-session token refresh (`_AUTH`).
const (
	// MaxTokenBytes bounds the token of an `_AUTH` frame; a longer one is refused with
	// CodeBadData before it is verified.
	MaxTokenBytes = 8192

	authTimeout    = 10 * time.Second // bounds one call of the WithTokenRefresh function
	authBurst      = 3                // `_AUTH` frames a connection may send at once
	authPerSecond  = 0.1              // and then sustained: one every 10 s
	expiryNoticeAt = 30 * time.Second // `_AUTH_EXPIRING` comes this long before the expiry (at most)
)

// expiryClock closes a connection when its identity expires, and announces the expiry
// shortly before. It is one time.AfterFunc timer, re-armed for the next due moment, so a
// connection spends no goroutine on it. mu is taken before the connection's queue lock
// (a tick queues its frame holding it, so that once stop returns no tick is under way).
type expiryClock struct {
	mu       sync.Mutex
	timer    *time.Timer
	expires  time.Time // zero: never
	noticeAt time.Time // when to send `_AUTH_EXPIRING`; zero once sent
	stopped  bool
}

// setExpiry (re)starts c's clock for an identity that expires at exp (zero: never).
func (c *conn) setExpiry(exp time.Time) {
	k := &c.expiry
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return
	}
	k.expires = exp
	if exp.IsZero() {
		if k.timer != nil {
			k.timer.Stop()
		}
		return
	}
	k.noticeAt = time.Time{}
	if left := time.Until(exp); left > 0 {
		k.noticeAt = exp.Add(-min(expiryNoticeAt, left/2))
	}
	k.armLocked(c)
}

// armLocked sets the timer for the next due moment: the notice, else the expiry.
func (k *expiryClock) armLocked(c *conn) {
	next := k.expires
	if !k.noticeAt.IsZero() {
		next = k.noticeAt
	}
	d := time.Until(next)
	if k.timer == nil {
		k.timer = time.AfterFunc(d, c.expiryTick)
		return
	}
	k.timer.Reset(d)
}

// expiryTick runs on the timer's goroutine. It checks the clock afresh, as a refresh may
// have moved the expiry since the timer was set.
func (c *conn) expiryTick() {
	k := &c.expiry
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped || k.expires.IsZero() {
		return
	}
	now := time.Now()
	switch {
	case !now.Before(k.expires):
		k.stopped = true
		c.log.Info("wssync: identity expired: closing", "user", c.sess.id.User)
		c.closeWith(CloseTokenExpired, "token expired", authExpiredFrame(k.expires))
	case !k.noticeAt.IsZero() && !now.Before(k.noticeAt):
		k.noticeAt = time.Time{}
		k.armLocked(c)
		c.send(authExpiringFrame(k.expires, c.sess.cfg.tokenRefresh != nil))
	default:
		k.armLocked(c) // fired for a moment a refresh has moved
	}
}

// stopExpiry stops the clock for good; once it returns no tick is under way.
func (c *conn) stopExpiry() {
	k := &c.expiry
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stopped = true
	if k.timer != nil {
		k.timer.Stop()
	}
}

// decodeAuth reads the token of an `_AUTH` frame's data, `{"token": STRING}`. It never
// panics on any input; every refusal is CodeBadData.
func decodeAuth(data []byte) (string, *Error) {
	bad := errorf(CodeBadData, "", "%s data must be {\"token\": string} with a token of 1 to %d bytes", proto.Auth, MaxTokenBytes)
	if data == nil {
		return "", bad
	}
	var raw []byte
	err := patch.ObjectMembers(data, func(key string, value []byte) error {
		if key == "token" {
			raw = value
		}
		return nil
	})
	if err != nil || raw == nil || len(raw) > 6*MaxTokenBytes+2 { // escapes: \u0000 is 6 bytes
		return "", bad
	}
	token, ok := patch.String(raw)
	if !ok || token == "" || len(token) > MaxTokenBytes {
		return "", bad
	}
	return token, nil
}

// handleAuth handles an `_AUTH` frame: the client's fresh token for its identity (see
// WithTokenRefresh). It runs on the dispatcher.
func (c *conn) handleAuth(in *inbound) {
	verify := c.sess.cfg.tokenRefresh
	if verify == nil {
		c.refuse(in, c.sess.unknownEvent(in.event))
		return
	}
	token, bad := decodeAuth(in.data)
	if bad != nil {
		c.refuse(in, bad)
		return
	}
	if !c.authLimit.allow(time.Now()) { // only well-formed frames reach the verifier, and count
		c.refuse(in, errorf(CodeRateLimited, "", "too many %s frames; slow down", proto.Auth))
		return
	}
	ctx, cancel := context.WithTimeout(c.sess.ctx, authTimeout)
	v, err := callSafely(func() (any, error) { return verify(ctx, token) })
	cancel()
	if err != nil {
		c.log.Info("wssync: refreshed token refused", "user", c.sess.id.User, "err", err)
		c.refuse(in, errorf(CodeTokenRejected, "", "the token was refused"))
		return
	}
	id := v.(Identity)
	if id.expired(time.Now()) { // a verifier's leeway may pass a token past its exp
		c.refuse(in, errorf(CodeTokenRejected, "", "the token has expired"))
		return
	}
	if id.User != c.sess.id.User || id.Session != "" && id.Session != c.sess.id.Session {
		c.log.Warn("wssync: refreshed token names another identity: closing", "user", c.sess.id.User)
		f := c.refusal(in, errorf(CodeTokenWrongUser, "", "the token names another user or session than this connection's"))
		c.closeWith(CloseUnauthorized, "token names another identity", f)
		return
	}
	c.sess.setIdentity(id)
	c.setExpiry(id.Expires)
	c.badFrames = 0
	if in.id != "" {
		f, _ := resultFrame(in.id, newAuthExpiry(id.Expires)) // an int: cannot fail
		c.send(f)
	}
}
