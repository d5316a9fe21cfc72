package wssync

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync/internal/proto"
	"github.com/wssync/wssync/internal/wstest"
)

// Race attacks on a connection's goroutines on demand, from inside: closeWith, pings,
// resync grants and pushes called from many goroutines at once, and each of them called
// again once the connection has ended. Run with -race.

// liveConn serves sess on loopback, dials it with a client that reads (and answers pings)
// until the connection ends, and returns the connection and a channel that receives the
// client's read error: the server's close frame, as a *websocket.CloseError.
func liveConn(t *testing.T, sess *Session) (*conn, <-chan error) {
	t.Helper()
	url := wstest.Serve(t, http.HandlerFunc(sess.ServeWS))
	ws := wstest.RawDial(t, url, nil)
	ended := make(chan error, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				ended <- err
				return
			}
		}
	}()
	var c *conn
	wstest.Eventually(t, "the connection to be live", func() bool { c = sess.live.Load(); return c != nil })
	return c, ended
}

// TestAttackOnDemandConcurrentCloseWith: many goroutines close a connection at once, with
// different codes, while others send to it, ping it, grant its resyncs and signal its
// writer. Exactly one closeWith counts, the client gets that one's code, and afterwards
// every entry point is harmless: nothing writes to the ended socket or starts a goroutine.
func TestAttackOnDemandConcurrentCloseWith(t *testing.T) {
	t.Parallel()
	for round := range 30 {
		sess := NewSession(WithLimits(Limits{PingInterval: time.Millisecond}))
		c, ended := liveConn(t, sess)
		const n = 16
		var firsts atomic.Int32
		var winner atomic.Int32
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				switch i % 4 {
				case 0:
					code := 4100 + i
					if c.closeWith(code, "attack", disconnectFrame()) {
						firsts.Add(1)
						winner.Store(int32(code))
					}
				case 1:
					for range 50 {
						c.send(eventFrame("x", []byte(`1`)))
					}
				case 2:
					c.ping()
					c.grantResyncsLater()
				case 3:
					c.q.signal()
					if c.closeWith(4100+i, "attack", nil) {
						firsts.Add(1)
						winner.Store(int32(4100 + i))
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		if firsts.Load() != 1 {
			t.Fatalf("round %d: %d closeWith calls reported they were first", round, firsts.Load())
		}
		err := wstest.Receive(t, ended, "the connection's end")
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code != int(winner.Load()) {
			t.Fatalf("round %d: closed with %d, the first closeWith said %d", round, ce.Code, winner.Load())
		}
		wstest.Eventually(t, "the connection to end", func() bool {
			c.work.mu.Lock()
			defer c.work.mu.Unlock()
			return c.work.stopped && c.work.n == 0
		})
		// The connection has ended: its work is stopped, so none of these may start a
		// goroutine or touch the socket.
		if c.closeWith(CloseGoingAway, "late", nil) {
			t.Fatalf("round %d: a closeWith after the end reported it was first", round)
		}
		c.ping()
		c.grantResyncsLater()
		c.send(eventFrame("late", []byte(`1`)))
		c.q.signal()
		c.work.mu.Lock()
		running := c.work.n
		c.work.mu.Unlock()
		if running != 0 {
			t.Fatalf("round %d: %d goroutines counted after the connection ended", round, running)
		}
		sess.Close()
	}
}

// TestAttackOnDemandResyncTimerOutlivesConnection: a client asks for more _SETs than its
// resync budget allows, so some wait for the budget's timer, and the connection ends (the
// client closes, or the server closes it) at varying moments while they wait, with pings
// every millisecond. The timer firing during or after the end must do nothing: no write
// to the ended socket, no goroutine, no race.
func TestAttackOnDemandResyncTimerOutlivesConnection(t *testing.T) {
	t.Parallel()
	type big struct {
		S string `sync:"s"`
	}
	for round := range 40 {
		sess := NewSession(WithLimits(Limits{
			PingInterval:    time.Millisecond,
			ResyncPerSecond: 200 << 10, // a 2 KiB _SET every 10 ms
			ResyncBurst:     2 << 10,
		}))
		if _, err := Register(sess, "K", &big{S: string(make([]byte, 2000))}); err != nil {
			t.Fatal(err)
		}
		if _, err := Register(sess, "L", &big{S: string(make([]byte, 2000))}); err != nil {
			t.Fatal(err)
		}
		url := wstest.Serve(t, http.HandlerFunc(sess.ServeWS))
		ws := wstest.RawDial(t, url, nil)
		go func() {
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
		var c *conn
		wstest.Eventually(t, "the connection to be live", func() bool { c = sess.live.Load(); return c != nil })
		for i := range 6 {
			key := "K"
			if i%2 == 1 {
				key = "L"
			}
			_ = ws.WriteJSON(map[string]any{"type": "_GET:" + key, "data": map[string]any{}})
		}
		time.Sleep(time.Duration(round%15) * time.Millisecond)
		switch round % 3 {
		case 0:
			_ = ws.Close()
		case 1:
			sess.Disconnect()
		case 2:
			c.closeWith(CloseGoingAway, "", nil)
		}
		wstest.Eventually(t, "the connection to end", func() bool {
			c.work.mu.Lock()
			stopped := c.work.stopped && c.work.n == 0
			c.work.mu.Unlock()
			// and run to have cleaned up after it: the queue's close is its last step,
			// after the pending _SETs were dropped
			c.q.mu.Lock()
			defer c.q.mu.Unlock()
			return stopped && c.q.closed
		})
		c.grantResyncsLater() // as the timer would, late
		c.resyncs.mu.Lock()
		pending := len(c.resyncs.pending)
		c.resyncs.mu.Unlock()
		if pending != 0 {
			t.Fatalf("round %d: %d _SETs still pending on an ended connection", round, pending)
		}
		if n, _, _ := c.q.stats(); n != 0 {
			t.Fatalf("round %d: %d frames queued on an ended connection", round, n)
		}
		_ = ws.Close()
		sess.Close()
	}
}

// TestAttackOnDemandHoldTimerOutlivesConnection: a resuming client that sends no first
// frame gets its state when the hold's timer fires (replayAll, on the timer's goroutine).
// That goroutine is connection code like the others: the reader must wait for it before
// the connection ends, not leave it running after ServeWS. The test holds the session's
// lock so the timer's replayAll blocks, closes the client, and checks that the connection
// does not finish (its queue closed) while that goroutine is still under way.
func TestAttackOnDemandHoldTimerOutlivesConnection(t *testing.T) {
	t.Parallel()
	type st struct {
		N int `sync:"n"`
	}
	sess := NewSession()
	sess.cfg.handshakeTimeout = 50 * time.Millisecond
	if _, err := Register(sess, "K", &st{}); err != nil {
		t.Fatal(err)
	}
	url := wstest.Serve(t, http.HandlerFunc(sess.ServeWS))
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", proto.Subprotocol+", "+proto.ResumeSubprotocol)
	ws := wstest.RawDial(t, url, h)
	var c *conn
	wstest.Eventually(t, "the connection to be live", func() bool { c = sess.live.Load(); return c != nil })
	wstest.Eventually(t, "its OnConnect hooks to have run", func() bool {
		c.work.mu.Lock()
		defer c.work.mu.Unlock()
		return c.work.n == 0 // connect ended; no writer: the hold queued nothing yet
	})
	sess.mu.Lock()
	locked := true
	defer func() {
		if locked {
			sess.mu.Unlock()
		}
	}()
	wstest.Eventually(t, "the hold's timer to fire", func() bool { return !c.hold.holding() })
	_ = ws.Close()
	finished := func() bool {
		c.q.mu.Lock()
		defer c.q.mu.Unlock()
		return c.q.closed
	}
	deadline := time.Now().Add(2 * time.Second) // the connection ends in milliseconds if it does not wait
	for !finished() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if finished() {
		sess.mu.Unlock()
		locked = false
		t.Fatal("the connection finished while its hold timer's replayAll was still under way")
	}
	sess.mu.Unlock()
	locked = false
	wstest.Eventually(t, "the connection to finish", finished)
	sess.Close()
}
