package peers

import (
	"fmt"
	"testing"
)

// BenchmarkFanout publishes one small change to N real WebSocket clients over loopback
// from three servers in the same run: wssync (a change of a NewShared object every session
// joined), a raw gorilla hub broadcasting the same frame pre-encoded as one
// PreparedMessage, and centrifuge publishing the same bytes as a publication's data to a
// channel all clients subscribed to. The clients are the same plain gorilla readers for
// all three (clients_test.go), so the client side costs the same but for the frame size:
// centrifuge's push envelope adds about 40 bytes to the payload. Change k+1 is published
// once every client received change k. Reported per sub-benchmark:
//
//	deliveries/s  N·changes / Σ(time from just before the publish to the last receipt)
//	p50-ms p99-ms time from just before the publish to each receipt, over all receipts
//	frame-B       size of the frame each client receives
//
// Each server is set up on the first run of its sub-benchmark, kept for the b.N ramp-up
// and closed before the next one is set up (all three at once would hold 6·N descriptors).
func BenchmarkFanout(b *testing.B) {
	servers := []struct {
		name string
		new  func(n int) (env, error)
	}{{"wssync", newWssync}, {"raw", newRaw}, {"centrifuge", newCentrifuge}}
	for _, n := range []int{1_000, 5_000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			for _, s := range servers {
				var e env
				b.Run(s.name, func(b *testing.B) {
					if e == nil {
						var err error
						if e, err = s.new(n); err != nil {
							b.Fatal(err)
						}
					}
					run(b, e, n)
				})
				if e != nil {
					if err := e.close(); err != nil {
						b.Errorf("closing %s: %v", s.name, err)
					}
				}
			}
		})
	}
}
