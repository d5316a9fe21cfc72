package wssync_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
)

// BenchmarkClientWriteRoundTrip measures a client write over loopback until the client
// has the server's answer: a plain write (its echo), one with a request id (the echo and
// the _RESULT) and one with an id and a base (the same, with the base checked). Run with
// BenchmarkRawEchoRoundTrip as the baseline, -benchtime=5000x.
func BenchmarkClientWriteRoundTrip(b *testing.B) {
	type writable struct {
		N int `sync:"n,write"`
	}
	for _, mode := range []string{"plain", "id", "id+base"} {
		b.Run(mode, func(b *testing.B) {
			sess := wssync.NewSession(wssync.WithLimits(wssync.Limits{RatePerSecond: -1}))
			if _, err := wssync.Register(sess, "W", &writable{}); err != nil {
				b.Fatal(err)
			}
			ws := benchDial(b, serve(b, sess))
			readFrame(b, ws) // _SET, at version 0
			replies := 1
			if mode != "plain" {
				replies = 2
			}
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := `{"type":"_PATCH:W","data":[{"op":"replace","path":"/n","value":` + strconv.Itoa(i+1) + `}]`
				switch mode {
				case "id":
					req += fmt.Sprintf(`,"id":"w%d"`, i)
				case "id+base":
					req += fmt.Sprintf(`,"id":"w%d","base":%d`, i, i) // version i before write i
				}
				start := time.Now()
				if err := ws.WriteMessage(websocket.TextMessage, []byte(req+"}")); err != nil {
					b.Fatal(err)
				}
				var last []byte
				for range replies {
					last = readFrame(b, ws)
				}
				lat = append(lat, time.Since(start))
				if want := fmt.Sprintf(`"data":{"v":%d}`, i+1); mode != "plain" && i == b.N-1 && !bytes.Contains(last, []byte(want)) {
					b.Fatalf("last reply %s, want a _RESULT with %s", last, want)
				}
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
}
