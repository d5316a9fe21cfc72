package wssync

// take hands an addressed message to the session: to its live connection's send queue,
// else to its backlog (unless m is transient). It holds the session's send lock, which
// attach holds too while it makes a connection live, so that a connection attaching
// meanwhile either is the one that takes m, or finds m in the backlog: a message never
// waits in the backlog of a connected session, except one that resumes, until its state
// is queued (at most the handshake timeout; see releaseBacklog). It takes no other session lock: Send may
// be called anywhere, inside an object's Update included.
func (s *Session) take(m Message) deliveryOutcome {
	if m.key != "" && !s.has(m.key) {
		return outcomeSkipped
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.sendClosed {
		return outcomeNotConnected
	}
	if c := s.live.Load(); c != nil && (c.sendReady || m.transient) {
		if c.offer(m.frame(), nil) {
			s.metrics.messagesDelivered.Add(1)
			return outcomeDelivered
		}
		s.metrics.messagesDropped.Add(1)
		return outcomeTooSlow
	}
	if m.transient || !s.backlog.push(m, s.cfg.backlogMessages, s.cfg.backlogBytes) {
		return outcomeNotConnected
	}
	s.metrics.messagesQueued.Add(1)
	return outcomeQueued
}

// has reports whether the session has an object under key (its own or a shared one it
// joined), without the session's lock.
func (s *Session) has(key string) bool {
	_, ok := s.keys.Load(key)
	return ok
}

// flushBacklogLocked hands the backlog to c, which is becoming the live connection. The
// caller holds sendMu.
func (s *Session) flushBacklogLocked(c *conn) {
	for _, m := range s.backlog.take() { // after the _SETs: state first, then what happened
		if c.q.push(m.frame(), nil) { // a new queue: refused only if the backlog outgrew it
			s.metrics.messagesDelivered.Add(1)
		} else {
			s.metrics.messagesDropped.Add(1)
		}
	}
}

// releaseBacklog hands the backlog to c, a resuming connection whose state has just been
// queued (resume.go), and from now on messages go to c at once. Until then they waited in
// the backlog, so they reach the client after its state, in the order they were sent.
func (s *Session) releaseBacklog(c *conn) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.live.Load() == c && !c.sendReady {
		s.flushBacklogLocked(c)
		c.sendReady = true
	}
}

// closeBacklog drops the backlog of a closing session and refuses any further message.
func (s *Session) closeBacklog() {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.sendClosed = true
	s.metrics.messagesDropped.Add(int64(len(s.backlog.take())))
}
