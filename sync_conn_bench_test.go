package wssync_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
)

// What a user pays for Sync of a small state with one changed field while a client is
// connected, beside json.Marshal of the same state in the same run. Each iteration
// changes one field, calls Sync, and waits until the client has read the frame, so every
// Sync finds the connection's writer idle and pays the whole hand-off to it. Reported per
// call (percentiles of per-iteration times):
//
//   - sync-ns: Sync until it returns: snapshot, diff, frame, queued on the connection and
//     its writer woken. The writer's write runs after, on its own goroutine;
//   - written-ns: Sync until the writer's write to the socket returned (Observer.PatchWritten);
//   - marshal-ns (Marshal): json.Marshal of the state after the same change;
//   - written-ns (RawWrite): json.Marshal and a gorilla WriteMessage of it on the calling
//     goroutine, the naive way to push a small state.
//
// ns/op and allocs/op include the client's read of the frame.

type smallState struct {
	Title string   `sync:"title" json:"title"`
	Count int      `sync:"count" json:"count"`
	Done  bool     `sync:"done" json:"done"`
	Notes []string `sync:"notes" json:"notes"`
}

func newSmallState() *smallState {
	s := &smallState{Title: "state"}
	for i := range 15 {
		s.Notes = append(s.Notes, fmt.Sprintf("note number %d", i))
	}
	return s
}

func BenchmarkSyncSmallConnected(b *testing.B) {
	full, _ := json.Marshal(newSmallState())
	b.Run("Sync", func(b *testing.B) {
		written := make(chan time.Time, 1)
		sess := wssync.NewSession(wssync.WithObserver(wssync.Observer{
			PatchWritten: func(string, time.Duration) { written <- time.Now() },
		}))
		st := newSmallState()
		s, err := wssync.Register(sess, "S", st)
		if err != nil {
			b.Fatal(err)
		}
		ws := benchDial(b, serve(b, sess))
		readFrame(b, ws) // _SET
		syncs := make([]time.Duration, 0, b.N)
		writes := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			s.Lock()
			st.Title = fmt.Sprintf("title %d", i)
			s.Unlock()
			start := time.Now()
			if err := s.Sync(); err != nil {
				b.Fatal(err)
			}
			syncs = append(syncs, time.Since(start))
			readFrame(b, ws)
			writes = append(writes, (<-written).Sub(start))
		}
		b.StopTimer()
		reportQuantiles(b, "sync", syncs)
		reportQuantiles(b, "written", writes)
		b.ReportMetric(float64(len(full)), "state-B")
	})
	b.Run("Marshal", func(b *testing.B) {
		st := newSmallState()
		took := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			st.Title = fmt.Sprintf("title %d", i)
			start := time.Now()
			if _, err := json.Marshal(st); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
		b.StopTimer()
		reportQuantiles(b, "marshal", took)
	})
	b.Run("RawWrite", func(b *testing.B) {
		conns := make(chan *websocket.Conn, 1)
		up := websocket.Upgrader{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			conns <- c
			for { // read until the client goes, as a server does
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}))
		defer srv.Close()
		ws := benchDial(b, "ws"+strings.TrimPrefix(srv.URL, "http"))
		c := <-conns
		defer c.Close()
		st := newSmallState()
		took := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			st.Title = fmt.Sprintf("title %d", i)
			start := time.Now()
			data, err := json.Marshal(st)
			if err != nil {
				b.Fatal(err)
			}
			if err := c.WriteMessage(websocket.TextMessage, data); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
			readFrame(b, ws)
		}
		b.StopTimer()
		reportQuantiles(b, "written", took)
	})
}

// reportQuantiles reports the median and 90th percentile of per-iteration times as
// NAME-p50-ns and NAME-p90-ns.
func reportQuantiles(b *testing.B, name string, took []time.Duration) {
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	at := func(q float64) float64 { return float64(took[int(q*float64(len(took)-1))].Nanoseconds()) }
	b.ReportMetric(at(0.50), name+"-p50-ns")
	b.ReportMetric(at(0.90), name+"-p90-ns")
}
