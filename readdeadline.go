package wssync

import "time"

// readDeadline keeps a connection's read deadline ahead of its last frame without setting
// the socket's deadline on every frame (each set updates a runtime timer under a lock, a
// fixed cost that a raw echo does not pay). Each extension sets the deadline timeout+slack
// ahead, and a frame read less than slack after the last extension does not extend it: the
// peer always has at least timeout after its last frame or pong, and at most timeout+slack.
// It is used by the connection's reader only (and its pong handler, which runs on the
// reader).
type readDeadline struct {
	timeout time.Duration
	slack   time.Duration
	set     func(time.Time) error
	at      time.Time // when the deadline was last set; zero: never
}

// readSlackDivisor gives the slack as a fraction of the timeout: 1/16 (3.75 s of the
// default 60 s PongTimeout).
const readSlackDivisor = 16

func newReadDeadline(timeout time.Duration, set func(time.Time) error) readDeadline {
	return readDeadline{timeout: timeout, slack: timeout / readSlackDivisor, set: set}
}

// extend records that a frame or pong was read at now, setting the deadline again when
// the last set is slack old or more.
func (d *readDeadline) extend(now time.Time) {
	if !d.at.IsZero() && now.Sub(d.at) < d.slack {
		return
	}
	d.at = now
	_ = d.set(now.Add(d.timeout + d.slack))
}

// force sets the deadline from now whatever the last set (after a wait of the reader's
// own, which says nothing about the peer).
func (d *readDeadline) force(now time.Time) {
	d.at = time.Time{}
	d.extend(now)
}
