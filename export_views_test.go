package wssync

// ViewFrames reports how many view frames (patches and _SETs) the object's views have
// built, for the tests that prove each view is encoded once per change.
func ViewFrames[T any](s *Synced[T]) uint64 {
	s.o.pub.Lock()
	defer s.o.pub.Unlock()
	return s.o.views.frames
}

// SetIdentity sets the session's identity as a refreshed token does.
func SetIdentity(s *Session, id Identity) { s.setIdentity(id) }
