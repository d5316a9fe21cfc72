package peers

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// dialers bounds concurrent dials, to stay clear of the listen backlog.
const dialers = 32

// timeout bounds every wait of these benchmarks, so that they end by themselves.
const timeout = 30 * time.Second

// clients is n plain gorilla client connections, each with one reader goroutine that
// records when the frame of the awaited change (the last `"v":N` in it equals expect)
// arrives. The same clients read every server: only the handshake (hello) differs.
type clients struct {
	conns []*websocket.Conn
	base  time.Time
	recv  []int64 // per client: receipt of the awaited frame, ns since base

	expect   atomic.Uint64
	left     atomic.Int64  // clients that have not received it yet
	done     chan struct{} // receives once left reaches 0
	stray    atomic.Int64  // frames that are neither the awaited one nor a ping: must stay 0
	frameLen atomic.Int64  // size of the last awaited frame
	wg       sync.WaitGroup
}

// hello is what a client does after its dial and before its reader starts: read the
// initial state, or speak the server's connect and subscribe commands.
type hello func(ws *websocket.Conn) error

// dialClients connects n clients to url, runs hi on each, then starts their readers.
func dialClients(url string, n int, hi hello) (*clients, error) {
	if err := raiseFileLimit(uint64(2*n) + 1024); err != nil {
		return nil, err
	}
	c := &clients{conns: make([]*websocket.Conn, n), base: time.Now(), recv: make([]int64, n), done: make(chan struct{}, 1)}
	dialer := websocket.Dialer{HandshakeTimeout: timeout}
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range min(dialers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				err := func() error {
					ws, _, err := dialer.Dial(url, nil)
					if err != nil {
						return err
					}
					c.conns[i] = ws
					_ = ws.SetReadDeadline(time.Now().Add(timeout))
					if err := hi(ws); err != nil {
						return err
					}
					return ws.SetReadDeadline(time.Time{})
				}()
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("client %d: %w", i, err)
					}
					mu.Unlock()
					next.Store(int64(n)) // stop the other dialers
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		c.close()
		return nil, first
	}
	for i, ws := range c.conns {
		c.wg.Add(1)
		go c.read(i, ws)
	}
	return c, nil
}

func (c *clients) read(i int, ws *websocket.Conn) {
	defer c.wg.Done()
	var buf bytes.Buffer
	for {
		_, r, err := ws.NextReader()
		if err != nil {
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return
		}
		now := time.Since(c.base).Nanoseconds()
		if buf.String() == "{}" { // a centrifuge ping: answer it, as its clients do
			_ = ws.WriteMessage(websocket.TextMessage, []byte("{}"))
			continue
		}
		v, ok := frameVersion(buf.Bytes())
		if !ok || v != c.expect.Load() {
			c.stray.Add(1)
			continue
		}
		c.recv[i] = now
		c.frameLen.Store(int64(buf.Len()))
		if c.left.Add(-1) == 0 {
			c.done <- struct{}{}
		}
	}
}

// frameVersion returns N of the last `"v":N` in msg.
func frameVersion(msg []byte) (uint64, bool) {
	i := bytes.LastIndex(msg, []byte(`"v":`))
	if i < 0 {
		return 0, false
	}
	var v uint64
	j := i + 4
	for ; j < len(msg) && msg[j] >= '0' && msg[j] <= '9'; j++ {
		v = v*10 + uint64(msg[j]-'0')
	}
	return v, j > i+4
}

// close closes every connection and waits for the readers.
func (c *clients) close() {
	for _, ws := range c.conns {
		if ws != nil {
			_ = ws.Close()
		}
	}
	c.wg.Wait()
}

// raiseFileLimit raises the open file limit to at least n, or reports why it cannot.
func raiseFileLimit(n uint64) error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return err
	}
	if rl.Cur >= n {
		return nil
	}
	if rl.Max < n {
		return fmt.Errorf("open file limit is at most %d, need %d", rl.Max, n)
	}
	rl.Cur = n
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
}

// env is a server with its clients connected: prepare returns the version of the next
// change (doing the work that precedes the clock, e.g. encoding a raw frame), and publish
// makes that change reach every client.
type env interface {
	clients() *clients
	prepare() uint64
	publish(v uint64) error
	check() error // after a run: nothing went wrong on the server side
	close() error
}

// payload is the frame wssync sends for change v of the shared object; the raw hub sends
// it as it is and centrifuge as the data of a publication.
func payload(buf []byte, v uint64) []byte {
	return fmt.Appendf(buf[:0], `{"type":"_PATCH:ROOM","data":[{"op":"replace","path":"/n","value":%d}],"v":%d}`, v, v)
}

// run publishes b.N changes, one at a time, each once every client received the previous
// one, and reports deliveries/s and latencies from just before the publish to each receipt.
func run(b *testing.B, e env, n int) {
	c := e.clients()
	lat := make([]int64, 0, b.N*n)
	var busy int64 // Σ over changes of the time from publish to the last receipt
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		v := e.prepare()
		c.left.Store(int64(n))
		c.expect.Store(v)
		t0 := time.Since(c.base).Nanoseconds()
		if err := e.publish(v); err != nil {
			b.Fatal(err)
		}
		timer.Reset(timeout)
		select {
		case <-c.done:
		case <-timer.C:
			b.Fatalf("change v%d: %d of %d clients did not receive it in %v (stray frames %d)",
				v, c.left.Load(), n, timeout, c.stray.Load())
		}
		last := t0
		for _, r := range c.recv {
			lat = append(lat, r-t0)
			last = max(last, r)
		}
		busy += last - t0
	}
	b.StopTimer()
	if s := c.stray.Load(); s != 0 {
		b.Fatalf("%d frames arrived that were not the awaited change", s)
	}
	if err := e.check(); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(float64(len(lat))/(float64(busy)/1e9), "deliveries/s")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(c.frameLen.Load()), "frame-B")
}
