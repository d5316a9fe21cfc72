package wssync

import "net/http"

// ServeHTTP makes a Manager an http.Handler: it is ServeWS, so a Manager mounts as it is
// (http.Handle("/ws", mgr), httptest.NewServer(mgr)).
func (m *Manager) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.ServeWS(w, r) }

// ServeHTTP makes a Session an http.Handler: it is ServeWS. A lone Session serves one
// connection at a time (a second client replaces the first with CloseReplaced): for
// several clients, mount a Manager.
func (s *Session) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.ServeWS(w, r) }

var (
	_ http.Handler = (*Manager)(nil)
	_ http.Handler = (*Session)(nil)
)
