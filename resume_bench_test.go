package wssync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/redistest"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsredis"
)

// Benchmarks of resume against the `_SET` every reconnect sent before it. Figures are
// recorded in docs/benchmarks.md.

type resumeItem struct {
	ID    int      `json:"id"`
	Name  string   `json:"name"`
	Qty   int      `json:"qty"`
	Price float64  `json:"price"`
	Done  bool     `json:"done"`
	Tags  []string `json:"tags"`
}

type resumeState struct {
	Title string       `sync:"title"`
	Items []resumeItem `sync:"items"`
}

// newResumeState is the state of n items of BenchmarkSync's M and L sizes.
func newResumeState(n int) *resumeState {
	s := &resumeState{Title: "state"}
	for i := range n {
		s.Items = append(s.Items, resumeItem{ID: i, Name: fmt.Sprintf("item-%d", i), Qty: i % 17, Price: float64(i%1000) / 4, Tags: []string{"red", "blue"}})
	}
	return s
}

// reconnected is what one reconnecting client received until it held the published state.
type reconnected struct {
	bytes, frames int
	v             uint64 // the version it holds at the end
	epoch         string
}

// reconnect dials url as a client that held version v of epoch of key, resuming (it
// offers wssync.resume and sends `_RESUME`) or not (it waits for the `_SET`, as every
// client did before resume), and reads until it holds the server's state: `_RESUMED`, or
// the key's `_SET`. It checks versions as a client does.
func reconnect(ctx context.Context, url, key string, resume bool, v uint64, epoch string) (reconnected, error) {
	var out reconnected
	d := *websocket.DefaultDialer
	if resume {
		d.Subprotocols = []string{"wssync", "wssync.resume"}
	}
	ws, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return out, err
	}
	defer ws.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(deadline)
	}
	if resume {
		msg := fmt.Sprintf(`{"type":"_RESUME","data":{%q:{"v":%d,"epoch":%q}}}`, key, v, epoch)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			return out, err
		}
	}
	out.v, out.epoch = v, epoch
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return out, err
		}
		out.bytes += len(data)
		out.frames++
		var f struct {
			Type  string  `json:"type"`
			V     *uint64 `json:"v"`
			Epoch string  `json:"epoch"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			return out, err
		}
		switch f.Type {
		case "_SET:" + key:
			out.v, out.epoch = *f.V, f.Epoch
			if !resume {
				return out, nil
			}
		case "_PATCH:" + key:
			if *f.V != out.v+1 {
				return out, fmt.Errorf("patch %d after %d", *f.V, out.v)
			}
			out.v = *f.V
		case "_RESUMED":
			return out, nil
		}
	}
}

// BenchmarkResumeOneChange: a client of the L state (20,000 items, 1.7 MiB) reconnects
// after missing one change (one item's qty); each op is the reconnect, from the dial
// until the client holds the published state. resume sends `_RESUME` and gets one patch;
// set is the `_SET` of every reconnect before resume, in the same run. Metrics: bytes and
// frames the client received.
//
//	go test -run '^$' -bench ResumeOneChange -benchtime 20x -count 5 .
func BenchmarkResumeOneChange(b *testing.B) {
	for _, mode := range []string{"resume", "set"} {
		b.Run(mode, func(b *testing.B) {
			sess := wssync.NewSession()
			state := newResumeState(20_000)
			s, err := wssync.Register(sess, "DOC", state)
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(http.HandlerFunc(sess.ServeWS))
			defer srv.Close()
			defer sess.Close()
			url := wstest.WSURL(srv.URL)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			held, err := reconnect(ctx, url, "DOC", false, 0, "")
			if err != nil {
				b.Fatal(err)
			}
			var bytes, frames int
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				_ = s.Update(func(st *resumeState) { st.Items[i%len(st.Items)].Qty = -i - 1 })
				b.StartTimer()
				got, err := reconnect(ctx, url, "DOC", mode == "resume", held.v, held.epoch)
				if err != nil {
					b.Fatal(err)
				}
				if want := s.Version(); got.v != want {
					b.Fatalf("the client holds version %d, the server %d", got.v, want)
				}
				bytes, frames = bytes+got.bytes, frames+got.frames
				held = got
			}
			b.ReportMetric(float64(bytes)/float64(b.N), "recv-B/op")
			b.ReportMetric(float64(frames)/float64(b.N), "frames/op")
		})
	}
}

// BenchmarkResumeAfterNodeRestart: 1,000 clients of a shared object (the M state, 1,000
// items, 84 KiB) on Redis lose their node; while it restarts another node makes one
// change; then all of them reconnect at once to the restarted node, whose history is
// empty (a resume is served from the patch log in Redis). Each op is one restart: from
// the moment the restarted node is up until every client holds the published state.
// resume against set (the `_SET` of every reconnect before resume), in the same run.
// Metrics: bytes the clients received, in total per restart; the median and slowest
// client's time to converge.
//
//	go test -run '^$' -bench ResumeAfterNodeRestart -benchtime 5x -count 3 .
//
// It starts Debian's redis-server on a loopback port.
func BenchmarkResumeAfterNodeRestart(b *testing.B) {
	const clients = 1_000
	srv := redistest.Start(b)
	for _, mode := range []string{"resume", "set"} {
		b.Run(mode, func(b *testing.B) {
			key := "RESTART/" + mode + fmt.Sprint(time.Now().UnixNano())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			other := newRedisNode(b, srv.Addr(), key) // the node that stays up and changes the state
			defer other.stop()
			node := newRedisNode(b, srv.Addr(), key)
			held := make([]reconnected, clients)
			if err := reconnectAll(ctx, node.url, key, false, held, nil); err != nil {
				b.Fatal(err)
			}
			var bytes int
			var p50, p100 time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				node.stop() // every client's connection drops with it
				if err := other.s.Update(func(st *resumeState) { st.Items[i%len(st.Items)].Qty = -i - 1 }); err != nil {
					b.Fatal(err)
				}
				node = newRedisNode(b, srv.Addr(), key)
				b.StartTimer()
				took := make([]time.Duration, clients)
				if err := reconnectAll(ctx, node.url, key, mode == "resume", held, took); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				want := node.s.Version()
				for _, h := range held {
					if h.v != want {
						b.Fatalf("a client holds version %d, the node %d", h.v, want)
					}
					bytes += h.bytes
				}
				sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
				p50, p100 = p50+took[clients/2], p100+took[clients-1]
				b.StartTimer()
			}
			b.StopTimer()
			node.stop()
			b.ReportMetric(float64(bytes)/float64(b.N), "recv-B/restart")
			b.ReportMetric(float64(p50.Milliseconds())/float64(b.N), "p50-ms")
			b.ReportMetric(float64(p100.Milliseconds())/float64(b.N), "max-ms")
		})
	}
}

// reconnectAll reconnects every client of held at once and replaces each with what it
// holds afterwards; took, if not nil, gets each client's time to converge.
func reconnectAll(ctx context.Context, url, key string, resume bool, held []reconnected, took []time.Duration) error {
	var wg sync.WaitGroup
	errs := make([]error, len(held))
	start := time.Now()
	for i := range held {
		wg.Go(func() {
			got, err := reconnect(ctx, url, key, resume, held[i].v, held[i].epoch)
			held[i], errs[i] = got, err
			if took != nil {
				took[i] = time.Since(start)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// redisNode is one node (process) of the restart benchmark: its own Redis client and
// backend, its shared object, and a server whose every connection is a session joined to
// it.
type redisNode struct {
	s    *wssync.Synced[resumeState]
	url  string
	stop func()
}

func newRedisNode(b *testing.B, addr, key string) *redisNode {
	b.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr})
	be := wsredis.New(client, wsredis.Options{})
	s, err := wssync.NewShared(key, newResumeState(1_000), wssync.WithBackend(be))
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	sessions := make(map[*wssync.Session]bool)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := wssync.NewSession()
		defer sess.Close()
		mu.Lock()
		sessions[sess] = true
		mu.Unlock()
		if err := s.Join(sess); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sess.ServeWS(w, r)
	}))
	var once sync.Once
	return &redisNode{s: s, url: wstest.WSURL(srv.URL), stop: func() {
		once.Do(func() {
			mu.Lock()
			for sess := range sessions {
				sess.Close() // its connection closes with 1001, as when the process ends
			}
			mu.Unlock()
			srv.Close()
			s.Unregister()
			be.Close()
			_ = client.Close()
		})
	}}
}
