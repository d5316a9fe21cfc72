package wssync

// take hands an addressed message, encoded as f, to the session: to its live
// connection's send queue, else to its backlog (unless m is transient). It holds the
// session's send lock, which attach holds too while it makes a connection live, so that a
// connection attaching meanwhile either is the one that takes m, or finds m in the
// backlog: a message never waits in the backlog of a connected session, except one that
// resumes, until its state is queued (at most the handshake timeout; see releaseBacklog).
// It takes no other session lock: Send may be called anywhere, inside an object's Update
// included.
func (s *Session) take(m Message, f *frame) deliveryOutcome {
	if m.key != "" && !s.has(m.key) {
		return outcomeSkipped
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.sendClosed {
		return outcomeNotConnected
	}
	// A connection that is closing already (the server refused it, or its client left)
	// would drop the frame at its close: the message waits for the next one instead.
	if c := s.live.Load(); c != nil && !c.closing() && (c.sendReady || m.transient) {
		if c.offer(f, nil) {
			s.metrics.messagesDelivered.Add(1)
			return outcomeDelivered
		}
		s.metrics.messagesDropped.Add(1)
		return outcomeTooSlow
	}
	if max, maxBytes := s.backlogBounds(); m.transient || !s.backlog.push(m, max, maxBytes) {
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
		if m.key != "" && !s.has(m.key) { // an exposed action of a key the session left since
			s.metrics.messagesDropped.Add(1)
			continue
		}
		if c.q.push(m.frame(), nil) { // within the queue's bounds (backlogBounds)
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

// backlogBounds is how many messages, and bytes of them, the backlog keeps: as
// WithEventBacklog says, but never more than half of what a new connection's send queue
// takes, so that every message told Queued fits when it is flushed, and what is sent right
// after the flush, before the writer has drained it, fits too (a queue filled by the flush
// alone would close the new connection as too slow at the next frame, losing the backlog).
func (s *Session) backlogBounds() (messages, bytes int) {
	return min(s.cfg.backlogMessages, s.cfg.maxQueuedFrames/2), min(s.cfg.backlogBytes, s.cfg.maxQueuedBytes/2)
}
