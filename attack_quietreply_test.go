package wssync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/proto"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

// Attacks on the dispatcher's own reply, queued without waking the writer goroutine (the
// dispatcher writes it itself, or wakes the writer when the writer holds the write lock),
// and on the read deadline moved once per sixteenth of PongTimeout. Real WebSockets over
// loopback.

// Marks is a shared object that several sessions' clients act on.
type Marks struct {
	Last  map[string]int `json:"last"`
	Noise int            `json:"noise"`
}

// callResult sends action name on key with id and waits, bounded, for its _RESULT.
// It may run on any goroutine.
func callResult(c *wssynctest.Client, key, id string, data map[string]any) (wssynctest.Frame, error) {
	if err := c.SendFrame(map[string]any{"type": "_ACTION:" + key, "id": id, "data": data}); err != nil {
		return wssynctest.Frame{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	f, err := c.WaitResult(ctx, id)
	if err != nil {
		return f, fmt.Errorf("no _RESULT for %s within 3s (stranded in the queue?): %w; close: %v", id, err, c.CloseError())
	}
	return f, nil
}

// Sessions share one object; each client calls an action that changes it and returns a
// result, one call at a time, while (with noise) another goroutine publishes the object
// and sends frames to every session, so that each writer is woken and drains while the
// dispatchers queue their replies quietly. Every call's _RESULT arrives, and the patch of
// the action's own Sync is applied before it (same queue, in order), unless the connection
// fell behind and the patch was replaced by a later _SET.
func TestAttackQuietReplyActionOnSharedObject(t *testing.T) {
	t.Parallel()
	for _, noise := range []bool{false, true} {
		t.Run(fmt.Sprint("noise=", noise), func(t *testing.T) {
			t.Parallel()
			const clients, calls = 4, 80
			room := &Marks{Last: map[string]int{}}
			shared, err := wssync.NewShared("MARKS", room)
			if err != nil {
				t.Fatal(err)
			}
			if err := wssync.ActionResult(shared, "mark", func(ctx context.Context, p struct {
				Who string
				N   int
			}) (int, error) {
				shared.Lock()
				room.Last[p.Who] = p.N
				shared.Unlock()
				return p.N, nil // the library syncs after the action, quietly for this connection
			}); err != nil {
				t.Fatal(err)
			}
			sessions := make([]*wssync.Session, clients)
			cs := make([]*wssynctest.Client, clients)
			for i := range clients {
				sessions[i] = wssync.NewSession()
				if err := shared.Join(sessions[i]); err != nil {
					t.Fatal(err)
				}
				cs[i] = dial(t, serve(t, sessions[i]))
				waitType(t, cs[i], "_SET:MARKS")
			}
			stop := make(chan struct{})
			var bg sync.WaitGroup
			if noise {
				bg.Add(1)
				go func() {
					defer bg.Done()
					for k := 0; ; k++ {
						select {
						case <-stop:
							return
						default:
						}
						_ = shared.Update(func(r *Marks) { r.Noise = k })
						_ = sessions[k%clients].Send("tick", k)
						time.Sleep(50 * time.Microsecond)
					}
				}()
			}
			var wg sync.WaitGroup
			for i := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					who := fmt.Sprint("c", i)
					for n := 1; n <= calls; n++ {
						f, err := callResult(cs[i], "MARKS", fmt.Sprint(who, "-", n), map[string]any{"type": "mark", "who": who, "n": n})
						if err != nil {
							t.Error(err)
							return
						}
						var got int
						if err := json.Unmarshal(f.Data, &got); err != nil || got != n {
							t.Errorf("result %s, want %d", f.Data, n)
							return
						}
						var r Marks
						if err := cs[i].Decode("MARKS", &r); err != nil {
							t.Error(err)
							return
						}
						if r.Last[who] == n {
							continue
						}
						// A connection that fell behind has its patches replaced by a _SET,
						// queued at the end, after the _RESULT (docs/protocol.md, Results):
						// the state then arrives after it.
						if sessions[i].Stats().SlowDrops == 0 {
							t.Errorf("%s: state shows last=%d when the _RESULT of call %d arrived, and no patch was dropped: the action's Sync came after its result", who, r.Last[who], n)
							return
						}
						ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
						_, err = wssynctest.WaitState(ctx, cs[i], "MARKS", func(r Marks) bool { return r.Last[who] >= n })
						cancel()
						if err != nil {
							t.Errorf("%s: the state of call %d never arrived after its _RESULT: %v", who, n, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(stop)
			bg.Wait()
		})
	}
}

// An application ping is answered with the dispatcher's quiet reply; answered every time,
// one at a time (nothing else wakes the writer), and while a goroutine keeps the writer
// busy with sends.
func TestAttackQuietReplyPing(t *testing.T) {
	t.Parallel()
	for _, noise := range []bool{false, true} {
		t.Run(fmt.Sprint("noise=", noise), func(t *testing.T) {
			t.Parallel()
			sess := wssync.NewSession()
			ws := rawDial(t, serve(t, sess))
			stop := make(chan struct{})
			var bg sync.WaitGroup
			if noise {
				bg.Add(1)
				go func() {
					defer bg.Done()
					for k := 0; ; k++ {
						select {
						case <-stop:
							return
						default:
						}
						_ = sess.Send("tick", k)
						time.Sleep(20 * time.Microsecond)
					}
				}()
			}
			defer func() { close(stop); bg.Wait() }()
			for i := range 500 {
				msg := fmt.Sprintf(`{"type":"ping","data":%d}`, i)
				if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
					t.Fatal(err)
				}
				_ = ws.SetReadDeadline(time.Now().Add(3 * time.Second))
				for {
					_, b, err := ws.ReadMessage()
					if err != nil {
						t.Fatalf("ping %d: no pong within 3s: %v", i, err)
					}
					var f struct {
						Type string
						Data json.RawMessage
					}
					if json.Unmarshal(b, &f) == nil && f.Type == "pong" {
						if string(f.Data) != fmt.Sprint(i) {
							t.Fatalf("pong %s for ping %d", f.Data, i)
						}
						break
					}
				}
			}
		})
	}
}

// A peer whose frames come just under a sixteenth of PongTimeout after the deadline was
// last moved (so they do not move it), then a long pause short of PongTimeout, is never
// dropped: it always has PongTimeout after its last frame.
func TestAttackReadDeadlineNeverEarly(t *testing.T) {
	t.Parallel()
	const timeout = 800 * time.Millisecond // slack 50ms
	sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{PingInterval: time.Hour, PongTimeout: timeout}))
	ws := rawDial(t, serve(t, sess))
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()
	ping := []byte(`{"type":"ping"}`)
	for range 3 {
		for _, pause := range []time.Duration{40 * time.Millisecond, timeout - 150*time.Millisecond} {
			if err := ws.WriteMessage(websocket.TextMessage, ping); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-closed:
				t.Fatalf("a peer writing within PongTimeout was dropped: %v", err)
			case <-time.After(pause):
			}
		}
	}
	_ = ws.WriteMessage(websocket.TextMessage, ping)
	select {
	case err := <-closed:
		t.Fatalf("dropped: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
}

// A peer that goes silent (and answers no ping: the server pings hourly here) is dropped
// no sooner than PongTimeout after its last frame, and within PongTimeout plus its
// sixteenth plus a generous allowance for a loaded machine, whatever the phase of its last
// frame against the deadline's last move.
func TestAttackReadDeadlineSilentPeerDropped(t *testing.T) {
	t.Parallel()
	const timeout = 480 * time.Millisecond // slack 30ms
	for _, phase := range []time.Duration{0, 10 * time.Millisecond, 25 * time.Millisecond, 45 * time.Millisecond} {
		t.Run(phase.String(), func(t *testing.T) {
			t.Parallel()
			sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{PingInterval: time.Hour, PongTimeout: timeout}))
			ws := rawDial(t, serve(t, sess))
			closed := make(chan time.Time, 1)
			go func() {
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						closed <- time.Now()
						return
					}
				}
			}()
			ping := []byte(`{"type":"ping"}`)
			_ = ws.WriteMessage(websocket.TextMessage, ping)
			time.Sleep(phase)
			last := time.Now()
			if err := ws.WriteMessage(websocket.TextMessage, ping); err != nil {
				t.Fatal(err)
			}
			at := wstest.Receive(t, closed, "the silent peer's drop")
			took := at.Sub(last)
			if took < timeout {
				t.Fatalf("silent peer dropped %v after its last frame, before PongTimeout %v", took, timeout)
			}
			if max := timeout + timeout/16 + 1500*time.Millisecond; took > max { // generous: a loaded CI machine delays timers and the close
				t.Fatalf("silent peer dropped %v after its last frame, want at most %v", took, max)
			}
		})
	}
}

// A client that offers resume and whose first frame is an action (not _RESUME), or
// _RESUME then an action: the action's quiet Sync and _RESULT reach it, after the _SET
// of the state, on every reconnect.
func TestAttackQuietReplyResumingClient(t *testing.T) {
	t.Parallel()
	for _, resumeFirst := range []bool{false, true} {
		t.Run(fmt.Sprint("resumeFirst=", resumeFirst), func(t *testing.T) {
			t.Parallel()
			sess := wssync.NewSession()
			n := &Counter{}
			s, err := wssync.Register(sess, "CTR", n)
			if err != nil {
				t.Fatal(err)
			}
			if err := wssync.ActionResult(s, "bump", func(ctx context.Context, _ struct{}) (int, error) {
				s.Lock()
				defer s.Unlock()
				n.N++
				return n.N, nil
			}); err != nil {
				t.Fatal(err)
			}
			url := serve(t, sess)
			dialer := websocket.Dialer{Subprotocols: []string{proto.Subprotocol, proto.ResumeSubprotocol}}
			for i := 1; i <= 30; i++ {
				ws, _, err := dialer.Dial(url, nil)
				if err != nil {
					t.Fatal(err)
				}
				if resumeFirst {
					if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"_RESUME","data":{}}`)); err != nil {
						t.Fatal(err)
					}
				}
				id := fmt.Sprint("b", i)
				if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"_ACTION:CTR","id":"`+id+`","data":{"type":"bump"}}`)); err != nil {
					t.Fatal(err)
				}
				_ = ws.SetReadDeadline(time.Now().Add(3 * time.Second))
				sawSet := false
				for {
					_, b, err := ws.ReadMessage()
					if err != nil {
						t.Fatalf("connection %d: no _RESULT within 3s (set seen: %v): %v", i, sawSet, err)
					}
					var f struct {
						Type string
						ID   string
						Data json.RawMessage
					}
					if err := json.Unmarshal(b, &f); err != nil {
						t.Fatal(err)
					}
					if f.Type == "_SET:CTR" {
						sawSet = true
					}
					if f.Type == "_RESULT" && f.ID == id {
						if !sawSet {
							t.Fatalf("connection %d: _RESULT before the _SET of the state", i)
						}
						if string(f.Data) != fmt.Sprint(i) {
							t.Fatalf("connection %d: result %s", i, f.Data)
						}
						break
					}
				}
				_ = ws.Close()
			}
		})
	}
}
