package wssync_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
)

// BenchmarkCompression measures permessage-deflate on the two frames that matter: the _SET
// of a large state (the L state of BenchmarkSync: 20,000 items, 1.7 MiB of JSON) and a
// small patch (one replaced string, under 100 bytes), compressed and not, in one run.
//
//   - wssync/...: end to end over loopback. A client that offers the extension reads the
//     frame from a Session: for the _SET it sends _GET:K and reads the answer, for the
//     patch the server makes one Update. off is WithCompression(-1), default the
//     DefaultCompressionThreshold, all WithCompression(0).
//   - server-write/...: the server's share alone: gorilla writes the same frame bytes, as
//     wssync's writer does (EnableWriteCompression, then WriteMessage), to a client that
//     reads the socket's bytes without parsing them.
//   - client-read/...: the client's share alone: a gorilla client reads and inflates the
//     same frames, each asked for by a one-byte message and sent from a PreparedMessage
//     (deflated once, then copied).
//
// Reported: wire-B/frame (bytes the client read off the socket, frame headers included),
// frame-B (the frame's bytes before deflate) and cpu-µs/frame (user+system CPU time of the
// whole process per frame; client and server share the process in the wssync rows).
//
//	go test -run '^$' -bench Compression -benchtime 1s -count 3 .
func BenchmarkCompression(b *testing.B) {
	set, patch := compressionFrames(b)
	b.Run("wssync/L-SET/off", func(b *testing.B) { benchWssyncSet(b, -1) })
	b.Run("wssync/L-SET/default", func(b *testing.B) { benchWssyncSet(b, wssync.DefaultCompressionThreshold) })
	b.Run("wssync/patch/off", func(b *testing.B) { benchWssyncPatch(b, -1) })
	b.Run("wssync/patch/default", func(b *testing.B) { benchWssyncPatch(b, wssync.DefaultCompressionThreshold) })
	b.Run("wssync/patch/all", func(b *testing.B) { benchWssyncPatch(b, 0) })
	for _, f := range []struct {
		name string
		data []byte
	}{{"L-SET", set}, {"patch", patch}} {
		for _, on := range []bool{false, true} {
			mode := map[bool]string{false: "off", true: "deflate"}[on]
			b.Run("server-write/"+f.name+"/"+mode, func(b *testing.B) { benchServerWrite(b, f.data, on) })
			b.Run("client-read/"+f.name+"/"+mode, func(b *testing.B) { benchClientRead(b, f.data, on) })
		}
	}
}

// compItem and compState have the shape of BenchmarkSync's state.
type compItem struct {
	ID    int      `json:"id"`
	Name  string   `json:"name"`
	Qty   int      `json:"qty"`
	Price float64  `json:"price"`
	Done  bool     `json:"done"`
	Tags  []string `json:"tags"`
}

type compState struct {
	Title string     `sync:"title"`
	Items []compItem `sync:"items"`
}

func newCompState(items int) *compState {
	s := &compState{Title: "state"}
	for i := range items {
		s.Items = append(s.Items, compItem{ID: i, Name: fmt.Sprintf("item-%d", i), Qty: i % 17, Price: float64(i%1000) / 4, Tags: []string{"red", "blue"}})
	}
	return s
}

const compLItems = 20_000

// compDial dials url offering permessage-deflate and counts the wire bytes read.
func compDial(b testing.TB, url string) (*websocket.Conn, *atomic.Int64) {
	b.Helper()
	var n atomic.Int64
	d := websocket.Dialer{
		EnableCompression: true,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{c, &n}, nil
		},
	}
	ws, _, err := d.DialContext(wstest.Context(b), url, nil)
	if err != nil {
		b.Fatalf("dial: %v", err)
	}
	b.Cleanup(func() { _ = ws.Close() })
	return ws, &n
}

// compressionFrames returns the frames wssync sends: the L state's _SET and a small patch.
func compressionFrames(b *testing.B) (set, patch []byte) {
	sess := wssync.NewSession(wssync.WithCompression(-1))
	s, err := wssync.Register(sess, "K", newCompState(compLItems))
	if err != nil {
		b.Fatal(err)
	}
	ws, _ := compDial(b, serve(b, sess))
	if _, set, err = ws.ReadMessage(); err != nil {
		b.Fatal(err)
	}
	if err := s.Update(func(st *compState) { st.Title = "title 1" }); err != nil {
		b.Fatal(err)
	}
	if _, patch, err = ws.ReadMessage(); err != nil {
		b.Fatal(err)
	}
	return set, patch
}

// reportWire reports the per-frame figures of b.N frames.
func reportWire(b *testing.B, wire int64, frame int, cpu time.Duration) {
	b.ReportMetric(float64(wire)/float64(b.N), "wire-B/frame")
	b.ReportMetric(float64(frame), "frame-B")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/frame")
}

func benchWssyncSet(b *testing.B, minBytes int) {
	// the resync budget would hold back _SETs asked for faster than 1 MiB/s
	sess := wssync.NewSession(wssync.WithCompression(minBytes),
		wssync.WithLimits(wssync.Limits{ResyncPerSecond: 1 << 40, ResyncBurst: 1 << 40}))
	if _, err := wssync.Register(sess, "K", newCompState(compLItems)); err != nil {
		b.Fatal(err)
	}
	ws, wire := compDial(b, serve(b, sess))
	if _, _, err := ws.ReadMessage(); err != nil { // the _SET of the connect
		b.Fatal(err)
	}
	var frame int
	b.ReportAllocs()
	w0, c0 := wire.Load(), processCPU()
	b.ResetTimer()
	for b.Loop() {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"_GET:K","data":{}}`)); err != nil {
			b.Fatal(err)
		}
		_, data, err := ws.ReadMessage()
		if err != nil || !strings.HasPrefix(string(data), `{"type":"_SET:K"`) {
			b.Fatalf("got %.40q, %v", data, err)
		}
		frame = len(data)
	}
	b.StopTimer()
	reportWire(b, wire.Load()-w0, frame, processCPU()-c0)
}

func benchWssyncPatch(b *testing.B, minBytes int) {
	sess := wssync.NewSession(wssync.WithCompression(minBytes))
	s, err := wssync.Register(sess, "K", newCompState(10))
	if err != nil {
		b.Fatal(err)
	}
	ws, wire := compDial(b, serve(b, sess))
	if _, _, err := ws.ReadMessage(); err != nil {
		b.Fatal(err)
	}
	var frame, i int
	b.ReportAllocs()
	w0, c0 := wire.Load(), processCPU()
	b.ResetTimer()
	for b.Loop() {
		i++
		if err := s.Update(func(st *compState) { st.Title = fmt.Sprintf("title %d", i%10) }); err != nil {
			b.Fatal(err)
		}
		_, data, err := ws.ReadMessage()
		if err != nil || !strings.HasPrefix(string(data), `{"type":"_PATCH:K"`) {
			b.Fatalf("got %.40q, %v", data, err)
		}
		frame = len(data)
	}
	b.StopTimer()
	reportWire(b, wire.Load()-w0, frame, processCPU()-c0)
}

// rawPair is a gorilla server connection and its client, permessage-deflate negotiated,
// over loopback.
func rawPair(b *testing.B) (server, client *websocket.Conn, wire *atomic.Int64) {
	conns := make(chan *websocket.Conn, 1)
	done := make(chan struct{})
	up := websocket.Upgrader{EnableCompression: true}
	url := wstest.Serve(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conns <- ws
		<-done // a hijacked request's context is not canceled: wait for the benchmark's end
	}))
	b.Cleanup(func() { close(done) }) // after both connections close, before the server closes
	client, wire = compDial(b, url)
	server = <-conns
	b.Cleanup(func() { _ = server.Close() })
	return server, client, wire
}

func benchServerWrite(b *testing.B, frame []byte, compress bool) {
	server, client, wire := rawPair(b)
	drained := make(chan struct{})
	go func() { // the client reads the socket's bytes without parsing them
		defer close(drained)
		_, _ = io.Copy(io.Discard, client.NetConn())
	}()
	b.ReportAllocs()
	w0, c0 := wire.Load(), processCPU()
	b.ResetTimer()
	for b.Loop() {
		server.EnableWriteCompression(compress)
		if err := server.WriteMessage(websocket.TextMessage, frame); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := processCPU() - c0
	_ = server.Close()
	<-drained
	reportWire(b, wire.Load()-w0, len(frame), cpu)
}

func benchClientRead(b *testing.B, frame []byte, compress bool) {
	server, client, wire := rawPair(b)
	server.EnableWriteCompression(compress)
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, frame)
	if err != nil {
		b.Fatal(err)
	}
	if err := server.WritePreparedMessage(pm); err != nil { // deflates once, before the clock
		b.Fatal(err)
	}
	if _, _, err := client.ReadMessage(); err != nil {
		b.Fatal(err)
	}
	wrote := make(chan struct{})
	go func() { // one frame per request: the server's share is a copy of the deflated bytes
		defer close(wrote)
		for {
			if _, _, err := server.ReadMessage(); err != nil {
				return
			}
			if server.WritePreparedMessage(pm) != nil {
				return
			}
		}
	}()
	req := []byte("1")
	b.ReportAllocs()
	w0, c0 := wire.Load(), processCPU()
	b.ResetTimer()
	for b.Loop() {
		if err := client.WriteMessage(websocket.TextMessage, req); err != nil {
			b.Fatal(err)
		}
		_, data, err := client.ReadMessage()
		if err != nil || len(data) != len(frame) {
			b.Fatalf("read %d bytes, %v", len(data), err)
		}
	}
	b.StopTimer()
	cpu := processCPU() - c0
	_ = client.Close()
	<-wrote
	reportWire(b, wire.Load()-w0, len(frame), cpu)
}
