package wssync

import (
	"context"
	"testing"

	"github.com/gorilla/websocket"
)

// BenchmarkDispatchAction measures the server's CPU work for one action frame: decode,
// dispatch, params, handler, sync, queue — everything but the socket.
func BenchmarkDispatchAction(b *testing.B) {
	type counter struct {
		N int `sync:"n"`
	}
	sess := NewSession(WithLimits(Limits{RatePerSecond: -1}))
	st := &counter{}
	s, err := Register(sess, "C", st)
	if err != nil {
		b.Fatal(err)
	}
	_ = Action(s, "inc", func(ctx context.Context, p struct {
		By int `json:"by"`
	}) error {
		s.Lock()
		st.N += p.By
		s.Unlock()
		return nil
	})
	c := &conn{sess: sess, q: newOutQueue(256, 1<<20, sess.metrics), log: sess.cfg.logger, done: make(chan struct{})}
	sess.live.Store(c)
	c.q.based[s.o] = true
	req := []byte(`{"type":"_ACTION:C","data":{"type":"inc","by":1}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.handleFrame(websocket.TextMessage, req)
		if _, ok := c.q.pop(); !ok {
			b.Fatal("no patch queued")
		}
	}
}
