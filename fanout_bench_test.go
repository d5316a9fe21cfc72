package wssync_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
)

// Benchmarks of the issue "Many sessions and shared state".
//
// BenchmarkFanout publishes one small change of a shared object (NewShared + Join, served
// by a Manager) to N real WebSocket clients over loopback, and, beside it, broadcasts a
// pre-encoded frame of the same size from a hand-written gorilla hub to the same number of
// clients. Each client is a raw gorilla connection with one reader goroutine that records
// when the frame of the current change arrives; change k+1 starts once every client has
// received change k. Reported per sub-benchmark:
//
//	deliveries/s  N·changes / Σ(time from just before the publish to the last receipt)
//	p50-ms p99-ms time from just before the publish to each receipt, over all receipts
//	frame-B       size of the frame each client receives
//
// The raw hub is modelled on gorilla's chat example: one writer goroutine per connection
// draining a buffered channel (256), a non-blocking send to every connection's channel
// from the publishing goroutine under the hub's lock, a map of connections, a write
// deadline per write, and one reader goroutine per connection (the HTTP handler). It
// sends the message as one websocket.PreparedMessage, as wssync does for shared frames;
// encoding the frame is done before the clock starts (the message is "pre-encoded").
//
// BenchmarkIdleSessionMemory connects 2,000 idle clients (from a child process, so that the
// client connections' memory is not counted) and reports the server's HeapInuse +
// StackInuse growth per connection, after GC: for wssync, Manager sessions holding a
// small per-session object and a joined shared object; for raw, the same hub as above.
// One op is one such measurement, with a fresh server; metrics are means over the ops.
//
//	go test -run '^$' -bench 'Fanout|IdleSession' -benchtime 2s -count 3 .

// fanRoom is the shared object of the fan-out: a change is one replace of n.
type fanRoom struct {
	Topic string `sync:"topic"`
	N     int    `sync:"n"`
}

// fanMine is the per-session object of the idle-memory benchmark.
type fanMine struct {
	Name  string `sync:"name"`
	Count int    `sync:"count"`
}

// fanDialers bounds concurrent dials, to stay clear of the listen backlog.
const fanDialers = 32

// fanTimeout bounds every wait of these benchmarks, so that they end by themselves.
const fanTimeout = 30 * time.Second

// fanClients is n raw gorilla client connections, each with a reader goroutine that
// records when the frame of the awaited change ("v" == expect) arrives.
type fanClients struct {
	conns []*websocket.Conn
	base  time.Time
	recv  []int64 // per client: receipt of the awaited frame, ns since base

	expect   atomic.Uint64 // the "v" of the awaited frame
	left     atomic.Int64  // clients that have not received it yet
	done     chan struct{} // receives once left reaches 0
	stray    atomic.Int64  // frames with another "v", or none: must stay 0
	frameLen atomic.Int64  // size of the last awaited frame
	remote   []bool        // clients served by another node than the publisher's (cross-node runs)
	wg       sync.WaitGroup
}

// dialFanClients connects n clients to url, reads the first initial frames of each, then
// starts their readers.
func dialFanClients(url string, n, initial int) (*fanClients, error) {
	return dialFanClientsAcross([]string{url}, n, initial)
}

// dialFanClientsAcross is dialFanClients with the clients spread over urls (client i
// dials urls[i%len(urls)]).
func dialFanClientsAcross(urls []string, n, initial int) (*fanClients, error) {
	fc := &fanClients{
		conns: make([]*websocket.Conn, n),
		base:  time.Now(),
		recv:  make([]int64, n),
		done:  make(chan struct{}, 1),
	}
	err := fanDialAll(urls, n, initial, fc.conns)
	if err != nil {
		fc.close()
		return nil, err
	}
	for i, ws := range fc.conns {
		fc.wg.Add(1)
		go fc.read(i, ws)
	}
	return fc, nil
}

// fanDialAll dials len(conns) connections into conns, spread over urls, and reads initial
// frames from each. On error, the connections made are left in conns for the caller to
// close.
func fanDialAll(urls []string, n, initial int, conns []*websocket.Conn) error {
	dialer := websocket.Dialer{HandshakeTimeout: fanTimeout}
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range min(fanDialers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				err := func() error {
					ws, _, err := dialer.Dial(urls[i%len(urls)], nil)
					if err != nil {
						return err
					}
					conns[i] = ws
					_ = ws.SetReadDeadline(time.Now().Add(fanTimeout))
					for range initial {
						if _, _, err := ws.ReadMessage(); err != nil {
							return fmt.Errorf("initial frame: %w", err)
						}
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
		}()
	}
	wg.Wait()
	return first
}

func (fc *fanClients) read(i int, ws *websocket.Conn) {
	defer fc.wg.Done()
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
		now := time.Since(fc.base).Nanoseconds()
		v, ok := fanFrameVersion(buf.Bytes())
		if !ok || v != fc.expect.Load() {
			fc.stray.Add(1)
			continue
		}
		fc.recv[i] = now
		fc.frameLen.Store(int64(buf.Len()))
		if fc.left.Add(-1) == 0 {
			fc.done <- struct{}{}
		}
	}
}

// fanFrameVersion returns the "v" a frame ends with (`,"v":N}`).
func fanFrameVersion(msg []byte) (uint64, bool) {
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
func (fc *fanClients) close() {
	for _, ws := range fc.conns {
		if ws != nil {
			_ = ws.Close()
		}
	}
	fc.wg.Wait()
}

// fanEnv is a server with its n clients connected: prepare returns the version of the
// next change (doing whatever work precedes the clock, e.g. encoding a raw frame), and
// publish makes that change reach every client.
type fanEnv interface {
	clients() *fanClients
	prepare() uint64
	publish(v uint64) error
	check() error // after a run: nothing went wrong on the server side
	close() error
}

// runFanout publishes b.N changes, one at a time, and reports deliveries/s and latencies.
func runFanout(b *testing.B, env fanEnv, n int) {
	fc := env.clients()
	lat := make([]int64, 0, b.N*n)
	var remote []int64 // latencies of the clients of other nodes, when fc.remote is set
	var busy int64     // Σ over changes of the time from publish to the last receipt
	timer := time.NewTimer(fanTimeout)
	defer timer.Stop()
	b.ResetTimer()
	for range b.N {
		v := env.prepare()
		fc.left.Store(int64(n))
		fc.expect.Store(v)
		t0 := time.Since(fc.base).Nanoseconds()
		if err := env.publish(v); err != nil {
			b.Fatal(err)
		}
		timer.Reset(fanTimeout)
		select {
		case <-fc.done:
		case <-timer.C:
			b.Fatalf("change v%d: %d of %d clients did not receive it in %v (stray frames %d)",
				v, fc.left.Load(), n, fanTimeout, fc.stray.Load())
		}
		last := t0
		for i, r := range fc.recv {
			lat = append(lat, r-t0)
			if fc.remote != nil && fc.remote[i] {
				remote = append(remote, r-t0)
			}
			last = max(last, r)
		}
		busy += last - t0
	}
	b.StopTimer()
	if s := fc.stray.Load(); s != 0 {
		b.Fatalf("%d frames arrived that were not the awaited change", s)
	}
	if err := env.check(); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	q := func(lat []int64, p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(float64(len(lat))/(float64(busy)/1e9), "deliveries/s")
	b.ReportMetric(q(lat, 0.50), "p50-ms")
	b.ReportMetric(q(lat, 0.99), "p99-ms")
	if len(remote) > 0 {
		slices.Sort(remote)
		b.ReportMetric(q(remote, 0.50), "remote-p50-ms")
		b.ReportMetric(q(remote, 0.99), "remote-p99-ms")
	}
	b.ReportMetric(float64(fc.frameLen.Load()), "frame-B")
}

// fanWssync serves a shared fanRoom to n anonymous Manager sessions.
type fanWssync struct {
	m      *wssync.Manager
	srv    *httptest.Server
	shared *wssync.Synced[fanRoom]
	fc     *fanClients
}

// newFanManager returns a Manager whose sessions join shared, plus register a fanMine of
// their own when mine is set, served on a loopback server.
func newFanManager(shared *wssync.Synced[fanRoom], mine bool) (*wssync.Manager, *httptest.Server) {
	return newFanManagerLimits(shared, mine, wssync.Limits{RatePerSecond: -1})
}

func newFanManagerLimits(shared *wssync.Synced[fanRoom], mine bool, limits wssync.Limits, more ...wssync.ManagerOption) (*wssync.Manager, *httptest.Server) {
	opts := append([]wssync.ManagerOption{wssync.WithAnonymousSessions(), wssync.WithLimits(limits), wssync.WithManagerLimits(wssync.ManagerLimits{MaxConnsPerUser: 1 << 30})}, more...)
	m := wssync.NewManager(func(ctx context.Context, sess *wssync.Session) error {
		if mine {
			if _, err := wssync.Register(sess, "MINE", &fanMine{Name: "me"}); err != nil {
				return err
			}
		}
		return shared.Join(sess)
	}, opts...)
	return m, httptest.NewServer(http.HandlerFunc(m.ServeWS))
}

func shutdownFanManager(m *wssync.Manager, srv *httptest.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), fanTimeout)
	defer cancel()
	err := m.Shutdown(ctx)
	srv.Close()
	return err
}

func fanURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") }

func newFanWssync(n int) (*fanWssync, error) {
	shared, err := wssync.NewShared("ROOM", &fanRoom{Topic: "fan-out"})
	if err != nil {
		return nil, err
	}
	e := &fanWssync{shared: shared}
	e.m, e.srv = newFanManager(shared, false)
	if e.fc, err = dialFanClients(fanURL(e.srv), n, 1); err != nil {
		_ = shutdownFanManager(e.m, e.srv)
		return nil, err
	}
	if st := e.m.Stats(); st.Connections != int64(n) {
		_ = e.close()
		return nil, fmt.Errorf("%d connections, want %d", st.Connections, n)
	}
	return e, nil
}

func (e *fanWssync) clients() *fanClients { return e.fc }
func (e *fanWssync) prepare() uint64      { return e.shared.Version() + 1 }

func (e *fanWssync) publish(v uint64) error {
	return e.shared.Update(func(r *fanRoom) { r.N = int(v) })
}

func (e *fanWssync) check() error {
	st := e.m.Stats()
	// one _SET per connect and no other (a slow client would have been resynced); a snapshot
	// taken after the connects could miss the last _SETs, counted after the client read them
	if st.SlowDrops != 0 || st.SlowCloses != 0 || st.Resyncs != int64(len(e.fc.conns)) {
		return fmt.Errorf("slow-client handling kicked in: %+v", st)
	}
	return nil
}

func (e *fanWssync) close() error {
	err := shutdownFanManager(e.m, e.srv)
	e.fc.close()
	return err
}

// fanHub is a hand-written gorilla broadcast hub, as in gorilla's chat example.
type fanHub struct {
	srv     *httptest.Server
	hello   *websocket.PreparedMessage // sent to every connection first
	mu      sync.Mutex
	conns   map[*fanHubConn]struct{}
	dropped int // sends refused by a full channel: must stay 0
	serving sync.WaitGroup
}

type fanHubConn struct {
	ws   *websocket.Conn
	send chan *websocket.PreparedMessage
}

func newFanHub() *fanHub {
	h := &fanHub{conns: make(map[*fanHubConn]struct{})}
	h.hello, _ = websocket.NewPreparedMessage(websocket.TextMessage,
		[]byte(`{"type":"_SET:ROOM","data":{"topic":"fan-out","n":0},"v":0}`))
	var up websocket.Upgrader
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.serving.Add(1)
		defer h.serving.Done()
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &fanHubConn{ws: ws, send: make(chan *websocket.PreparedMessage, 256)}
		wrote := make(chan struct{})
		go func() { // the write pump
			defer close(wrote)
			for pm := range c.send {
				_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if ws.WritePreparedMessage(pm) != nil {
					break
				}
			}
			_ = ws.Close()
			for range c.send { // until unregistered
			}
		}()
		h.mu.Lock()
		h.conns[c] = struct{}{}
		c.send <- h.hello
		h.mu.Unlock()
		for { // the read pump
			if _, _, err := ws.NextReader(); err != nil {
				break
			}
		}
		h.mu.Lock()
		delete(h.conns, c)
		close(c.send)
		h.mu.Unlock()
		<-wrote
	}))
	return h
}

// broadcast queues pm on every connection, dropping it where the channel is full.
func (h *fanHub) broadcast(pm *websocket.PreparedMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		select {
		case c.send <- pm:
		default:
			h.dropped++
		}
	}
}

func (h *fanHub) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// close ends the hub once its clients are gone.
func (h *fanHub) close() {
	h.serving.Wait()
	h.srv.Close()
}

// fanRaw broadcasts pre-encoded frames through a fanHub to n clients.
type fanRaw struct {
	hub *fanHub
	fc  *fanClients
	v   uint64
	buf []byte
}

func newFanRaw(n int) (*fanRaw, error) {
	e := &fanRaw{hub: newFanHub()}
	var err error
	if e.fc, err = dialFanClients(fanURL(e.hub.srv), n, 1); err != nil {
		e.hub.close()
		return nil, err
	}
	if got := e.hub.len(); got != n {
		_ = e.close()
		return nil, fmt.Errorf("hub holds %d connections, want %d", got, n)
	}
	return e, nil
}

func (e *fanRaw) clients() *fanClients { return e.fc }

// prepare encodes the frame wssync sends for the same change, before the clock starts.
func (e *fanRaw) prepare() uint64 {
	e.v++
	e.buf = fmt.Appendf(e.buf[:0], `{"type":"_PATCH:ROOM","data":[{"op":"replace","path":"/n","value":%d}],"v":%d}`, e.v, e.v)
	return e.v
}

func (e *fanRaw) publish(uint64) error {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, e.buf)
	if err != nil {
		return err
	}
	e.hub.broadcast(pm)
	return nil
}

func (e *fanRaw) check() error {
	e.hub.mu.Lock()
	defer e.hub.mu.Unlock()
	if e.hub.dropped != 0 {
		return fmt.Errorf("hub dropped %d sends", e.hub.dropped)
	}
	return nil
}

func (e *fanRaw) close() error {
	e.fc.close()
	e.hub.close()
	return nil
}

func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{100, 1_000, 5_000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			// Each environment is set up on the first run of its sub-benchmark, kept for
			// the following runs (-count, b.N ramp-up) and closed before the next one is
			// set up: both at once would be 4·N descriptors.
			for _, kind := range []string{"wssync", "raw"} {
				var env fanEnv
				b.Run(kind, func(b *testing.B) {
					if env == nil {
						var err error
						if kind == "wssync" {
							env, err = newFanWssync(n)
						} else {
							env, err = newFanRaw(n)
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					runFanout(b, env, n)
				})
				if env != nil {
					if err := env.close(); err != nil {
						b.Errorf("closing the %s environment: %v", kind, err)
					}
				}
			}
		})
	}
}

// Idle memory per session.

const (
	idleHelperURL    = "WSSYNC_IDLE_HELPER_URL"
	idleHelperConns  = "WSSYNC_IDLE_HELPER_CONNS"
	idleHelperFrames = "WSSYNC_IDLE_HELPER_FRAMES"
)

// TestIdleClientsHelper is not a test: it is the child process of
// BenchmarkIdleSessionMemory, holding idle client connections outside the measured
// process. It connects, reads each connection's initial frames, prints "ready" and waits
// for its stdin to close.
func TestIdleClientsHelper(t *testing.T) {
	url := os.Getenv(idleHelperURL)
	if url == "" {
		t.Skip("the client process of BenchmarkIdleSessionMemory")
	}
	n, err1 := strconv.Atoi(os.Getenv(idleHelperConns))
	frames, err2 := strconv.Atoi(os.Getenv(idleHelperFrames))
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	conns := make([]*websocket.Conn, n)
	defer func() {
		for _, ws := range conns {
			if ws != nil {
				_ = ws.Close()
			}
		}
	}()
	if err := fanDialAll([]string{url}, n, frames, conns); err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// idleOutput watches the helper's output for its "ready" line.
type idleOutput struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
	seen  bool
}

func (o *idleOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if !o.seen {
		sc := bufio.NewScanner(bytes.NewReader(o.buf.Bytes()))
		for sc.Scan() {
			if sc.Text() == "ready" {
				o.seen = true
				close(o.ready)
				break
			}
		}
	}
	return len(p), nil
}

func (o *idleOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// idleClients runs the helper process with n connections to url, each reading frames
// initial frames, and returns once they are all connected; stop ends it.
func idleClients(url string, n, frames int) (stop func() error, err error) {
	out := &idleOutput{ready: make(chan struct{})}
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), idleHelperURL+"="+url,
		idleHelperConns+"="+strconv.Itoa(n), idleHelperFrames+"="+strconv.Itoa(frames))
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() error {
		_ = stdin.Close()
		select {
		case err := <-exited:
			if err != nil {
				return fmt.Errorf("client process: %v\n%s", err, out)
			}
			return nil
		case <-time.After(fanTimeout):
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("client process did not exit\n%s", out)
		}
	}
	select {
	case <-out.ready:
		return stop, nil
	case err := <-exited:
		return nil, fmt.Errorf("client process ended before it was ready: %v\n%s", err, out)
	case <-time.After(2 * fanTimeout):
		_ = cmd.Process.Kill()
		<-exited
		return nil, fmt.Errorf("client process not ready\n%s", out)
	}
}

type idleMem struct{ heapInuse, stackInuse, heapAlloc uint64 }

func readIdleMem() idleMem {
	// Two cycles: sync.Pool contents (the write buffers) survive one.
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return idleMem{ms.HeapInuse, ms.StackInuse, ms.HeapAlloc}
}

// idleServer is a server under measurement: its URL, how many frames a new connection
// gets, how many connections it serves now, and how to stop it (after its clients left).
type idleServer struct {
	url    string
	frames int
	conns  func() int
	close  func() error
}

// idleResult is one measurement: the server's growth per connection, just after the
// connects and after idleCPUWindow of idle (goroutine stacks shrink and buffers go back to
// their pools over the first GC cycles), and the process CPU time per connection per
// second of idleCPUWindow.
type idleResult struct {
	atConnect                          float64 // heap and stacks 100 ms after the last connect
	heap, stack, live, goroutines, cpu float64 // after idleCPUWindow
}

// idleCPUWindow is how long the idle connections are watched for CPU time; the wssync
// server pings every idlePing in it, so each connection is pinged several times.
const (
	idleCPUWindow = 10 * time.Second
	idlePing      = 2 * time.Second
)

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// measureIdle starts a server, connects n idle clients to it from another process and
// returns the server's memory growth per connection.
func measureIdle(n int, start func() (idleServer, error)) (idleResult, error) {
	srv, err := start()
	if err != nil {
		return idleResult{}, err
	}
	before := readIdleMem()
	g0 := runtime.NumGoroutine()
	stop, err := idleClients(srv.url, n, srv.frames)
	if err != nil {
		return idleResult{}, errors.Join(err, srv.close())
	}
	deadline := time.Now().Add(fanTimeout)
	for srv.conns() != n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let the writers end
	connected := readIdleMem()
	cpu0 := processCPU()
	time.Sleep(idleCPUWindow)
	cpu := processCPU() - cpu0
	after := readIdleMem() // after several pings: the steady state of an idle connection
	g1 := runtime.NumGoroutine()
	got := srv.conns()
	if err := errors.Join(stop(), srv.close()); err != nil {
		return idleResult{}, err
	}
	if got != n {
		return idleResult{}, fmt.Errorf("server held %d connections, want %d", got, n)
	}
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	return idleResult{
		atConnect:  per(connected.heapInuse+connected.stackInuse, before.heapInuse+before.stackInuse),
		heap:       per(after.heapInuse, before.heapInuse),
		stack:      per(after.stackInuse, before.stackInuse),
		live:       per(after.heapAlloc, before.heapAlloc),
		goroutines: float64(g1-g0) / float64(n),
		cpu:        float64(cpu.Nanoseconds()) / float64(n) / idleCPUWindow.Seconds(),
	}, nil
}

// benchIdle measures once per iteration (each with a fresh server) and reports the means.
func benchIdle(b *testing.B, n int, start func() (idleServer, error)) {
	var sum idleResult
	runs := 0
	for b.Loop() {
		r, err := measureIdle(n, start)
		if err != nil {
			b.Fatal(err)
		}
		sum.atConnect += r.atConnect
		sum.heap += r.heap
		sum.stack += r.stack
		sum.live += r.live
		sum.goroutines += r.goroutines
		sum.cpu += r.cpu
		runs++
	}
	k := float64(runs)
	b.ReportMetric((sum.heap+sum.stack)/k, "B/session")
	b.ReportMetric(sum.atConnect/k, "at-connect-B/session")
	b.ReportMetric(sum.heap/k, "heap-B/session")
	b.ReportMetric(sum.stack/k, "stack-B/session")
	b.ReportMetric(sum.live/k, "live-B/session")
	b.ReportMetric(sum.goroutines/k, "goroutines/session")
	b.ReportMetric(sum.cpu/k, "cpu-ns/s/session")
}

// BenchmarkIdleSessionMemory measures idle sessions at 1,000 and 10,000 connections, each
// size beside the raw hub in the same run: memory after GC, goroutines, and the process CPU
// time over idleCPUWindow (wssync pinging every idlePing; the raw hub does not ping).
func BenchmarkIdleSessionMemory(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			if err := raiseFileLimit(uint64(n) + 1024); err != nil {
				b.Skipf("cannot serve %d connections: %v", n, err)
			}
			benchIdleSizes(b, n)
		})
	}
}

func benchIdleSizes(b *testing.B, n int) {
	// wssync: Manager sessions, each with a per-session object and a joined shared one.
	b.Run("wssync", func(b *testing.B) {
		benchIdle(b, n, func() (idleServer, error) {
			shared, err := wssync.NewShared("ROOM", &fanRoom{Topic: "idle"})
			if err != nil {
				return idleServer{}, err
			}
			m, srv := newFanManagerLimits(shared, true, wssync.Limits{RatePerSecond: -1, PingInterval: idlePing})
			return idleServer{
				url:    fanURL(srv),
				frames: 2, // _SET:MINE and _SET:ROOM
				conns:  func() int { return int(m.Stats().Connections) },
				close:  func() error { return shutdownFanManager(m, srv) },
			}, nil
		})
	})
	// detached: the same, with ServeWS returning after the upgrade (WithDetachedConnections).
	b.Run("detached", func(b *testing.B) {
		benchIdle(b, n, func() (idleServer, error) {
			shared, err := wssync.NewShared("ROOM", &fanRoom{Topic: "idle"})
			if err != nil {
				return idleServer{}, err
			}
			m, srv := newFanManagerLimits(shared, true, wssync.Limits{RatePerSecond: -1, PingInterval: idlePing}, wssync.WithDetachedConnections())
			return idleServer{
				url:    fanURL(srv),
				frames: 2,
				conns:  func() int { return int(m.Stats().Connections) },
				close:  func() error { return shutdownFanManager(m, srv) },
			}, nil
		})
	})
	// raw: the hub of BenchmarkFanout (a reader and a writer goroutine per connection).
	b.Run("raw", func(b *testing.B) {
		benchIdle(b, n, func() (idleServer, error) {
			h := newFanHub()
			return idleServer{
				url:    fanURL(h.srv),
				frames: 1,
				conns:  h.len,
				close:  func() error { h.close(); return nil },
			}, nil
		})
	})
}
