package wssync

// take hands an addressed message, encoded as f, to the session: to its live
// connection's send queue, else to its backlog (unless m is transient). It holds the session's mu so that a
// connection attaching meanwhile (attach, under the same lock) either is the one that
// takes m, or finds m in the backlog: a message never waits in the backlog of a
// connected session.
func (s *Session) take(m Message, f *frame) deliveryOutcome {
	if m.key != "" && !s.has(m.key) {
		return outcomeSkipped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return outcomeNotConnected
	}
	if c := s.live.Load(); c != nil {
		if c.offer(f, nil) {
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
// joined).
func (s *Session) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.objects[key]
	return ok
}
