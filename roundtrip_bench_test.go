package wssync_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
)

// Round trips over loopback, measured per trip: an action that mutates one field and the
// _PATCH it causes, beside a raw gorilla echo of a frame of the same size. Run with
// -benchtime=5000x or 10000x, as separate runs alternating, for the figures in docs/benchmarks.md.

type counterState struct {
	N int `sync:"n"`
}

type incParams struct {
	By int `json:"by"`
}

func BenchmarkActionRoundTrip(b *testing.B) {
	sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{RatePerSecond: -1})) // the benchmark sends as fast as it can
	st := &counterState{}
	s, err := wssync.Register(sess, "C", st)
	if err != nil {
		b.Fatal(err)
	}
	_ = wssync.Action(s, "inc", func(ctx context.Context, p incParams) error {
		s.Lock()
		st.N += p.By
		s.Unlock()
		return nil
	})
	ws := benchDial(b, serve(b, sess))
	readFrame(b, ws) // _SET
	size := roundTrips(b, ws)
	b.ReportMetric(float64(size), "reply-B")
}

func BenchmarkRawEchoRoundTrip(b *testing.B) {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if c.WriteMessage(mt, msg) != nil {
				return
			}
		}
	}))
	defer srv.Close()
	roundTrips(b, benchDial(b, "ws"+strings.TrimPrefix(srv.URL, "http"))) // the reply is the echo
}

// roundTrips sends the action frame b.N times, each time waiting for one reply, reports
// the latency percentiles and returns the size of the last reply.
func roundTrips(b *testing.B, ws *websocket.Conn) int {
	req := []byte(`{"type":"_ACTION:C","data":{"type":"inc","by":1}}`)
	var size int
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := ws.WriteMessage(websocket.TextMessage, req); err != nil {
			b.Fatal(err)
		}
		size = len(readFrame(b, ws))
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportLatency(b, lat)
	return size
}

func benchDial(b *testing.B, url string) *websocket.Conn {
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ws.Close() })
	return ws
}

func readFrame(b *testing.B, ws *websocket.Conn) []byte {
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := ws.ReadMessage()
	if err != nil {
		b.Fatal(err)
	}
	return msg
}

// reportLatency reports the median and 99th percentile of the measured trips.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Nanoseconds()) }
	b.ReportMetric(at(0.50), "p50-ns")
	b.ReportMetric(at(0.99), "p99-ns")
}
