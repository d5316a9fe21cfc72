package peers

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
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
	rl.Cur = n
	rl.Max = max(rl.Max, n) // only root may raise the hard limit
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("open file limit: need %d: %w", n, err)
	}
	return nil
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

// result is what one server's changes measured over a run.
type result struct {
	lat    []int64 // publish to each receipt, ns
	busy   int64   // Σ over changes of the time from publish to the last receipt
	allocs uint64  // heap allocations of the process during the changes
	bytes  uint64
	n      int   // clients per change
	frame  int64 // size of the last frame received
}

// publishOne publishes one change on e and waits until every one of its n clients has it.
func publishOne(b *testing.B, e env, n int, r *result, timer *time.Timer) {
	c := e.clients()
	v := e.prepare()
	c.left.Store(int64(n))
	c.expect.Store(v)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
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
	runtime.ReadMemStats(&m1)
	last := t0
	for _, t := range c.recv {
		r.lat = append(r.lat, t-t0)
		last = max(last, t)
	}
	r.busy += last - t0
	r.n = n
	r.allocs += m1.Mallocs - m0.Mallocs
	r.bytes += m1.TotalAlloc - m0.TotalAlloc
}

// run makes b.N ops; each op publishes one change on every server in turn, starting with
// a different one each time, so that the machine's load weighs on all of them alike.
func run(b *testing.B, names []string, envs []env, n int) {
	res := make([]result, len(envs))
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for k := range envs {
			j := (i + k) % len(envs)
			publishOne(b, envs[j], n, &res[j], timer)
		}
	}
	b.StopTimer()
	for j, e := range envs {
		if err := settle(e); err != nil {
			b.Fatalf("%s: %v", names[j], err)
		}
		res[j].frame = e.clients().frameLen.Load()
	}
	report(b, names, res)
}

// runRounds is run for a machine that cannot hold every server's connections at once:
// each op sets up every server in turn (a different one first each time), publishes
// perRound changes on it and closes it. Only the changes are measured.
func runRounds(b *testing.B, names []string, starts []func(int) (env, error), n, perRound int) {
	res := make([]result, len(starts))
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	b.ReportAllocs()
	for i := range b.N {
		for k := range starts {
			j := (i + k) % len(starts)
			b.StopTimer()
			e, err := starts[j](n)
			if err != nil {
				b.Fatalf("%s: %v", names[j], err)
			}
			b.StartTimer()
			for range perRound {
				publishOne(b, e, n, &res[j], timer)
			}
			b.StopTimer()
			err = settle(e)
			res[j].frame = e.clients().frameLen.Load()
			if err := errors.Join(err, e.close()); err != nil {
				b.Fatalf("%s: %v", names[j], err)
			}
			b.StartTimer()
		}
	}
	report(b, names, res)
}

// settle reports what went wrong with e during a run.
func settle(e env) error {
	if s := e.clients().stray.Load(); s != 0 {
		return fmt.Errorf("%d frames arrived that were not the awaited change", s)
	}
	return e.check()
}

// report reports per server deliveries/s, p50 and p99 from just before the publish to
// each receipt, the heap allocations per change (the process's: the clients' included)
// and the frame's size, then the ratios of the first server's deliveries/s and p99 to
// each other one's.
func report(b *testing.B, names []string, res []result) {
	type figures struct{ deliveries, p99 float64 }
	fig := make([]figures, len(res))
	for j := range res {
		r := &res[j]
		changes := float64(len(r.lat))
		if changes == 0 {
			b.Fatalf("%s: nothing measured", names[j])
		}
		slices.Sort(r.lat)
		q := func(p float64) float64 { return float64(r.lat[int(p*float64(len(r.lat)-1))]) / 1e6 }
		fig[j] = figures{changes / (float64(r.busy) / 1e9), q(0.99)}
		changes /= float64(r.n)
		b.ReportMetric(fig[j].deliveries, names[j]+"-deliveries/s")
		b.ReportMetric(q(0.50), names[j]+"-p50-ms")
		b.ReportMetric(fig[j].p99, names[j]+"-p99-ms")
		b.ReportMetric(float64(r.allocs)/changes, names[j]+"-allocs/change")
		b.ReportMetric(float64(r.bytes)/changes, names[j]+"-B/change")
		b.ReportMetric(float64(r.frame), names[j]+"-frame-B")
	}
	for j := 1; j < len(res); j++ {
		b.ReportMetric(fig[0].deliveries/fig[j].deliveries, names[0]+"/"+names[j])
		b.ReportMetric(fig[0].p99/fig[j].p99, "p99-"+names[0]+"/"+names[j])
	}
}
