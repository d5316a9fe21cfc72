package wssync

import "time"

// lazyDeadline keeps a socket deadline (read or write) ahead of the last frame without
// setting it on every frame: each set updates a runtime timer, a fixed cost that a raw
// echo does not pay, and may wake another thread to watch the new timer. Each extension
// sets the deadline timeout+slack ahead, and a frame less than slack after the last
// extension does not extend it: every frame has at least timeout, and at most
// timeout+slack. The read deadline is used by the connection's reader only (and its pong
// handler, which runs on the reader); the write deadline under the connection's write lock.
type lazyDeadline struct {
	timeout time.Duration
	slack   time.Duration
	set     func(time.Time) error
	at      time.Time // when the deadline was last set; zero: never
}

// deadlineSlackDivisor gives the slack as a fraction of the timeout: 1/16 (3.75 s of the
// default 60 s PongTimeout, 625 ms of the 10 s WriteTimeout).
const deadlineSlackDivisor = 16

func newLazyDeadline(timeout time.Duration, set func(time.Time) error) lazyDeadline {
	return lazyDeadline{timeout: timeout, slack: timeout / deadlineSlackDivisor, set: set}
}

// extend records that a frame or pong was read at now, setting the deadline again when
// the last set is slack old or more.
func (d *lazyDeadline) extend(now time.Time) {
	if !d.at.IsZero() && now.Sub(d.at) < d.slack {
		return
	}
	d.at = now
	_ = d.set(now.Add(d.timeout + d.slack))
}

// force sets the deadline from now whatever the last set (after a wait of the reader's
// own, which says nothing about the peer).
func (d *lazyDeadline) force(now time.Time) {
	d.at = time.Time{}
	d.extend(now)
}
