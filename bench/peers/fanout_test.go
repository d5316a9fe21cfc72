package peers

import (
	"fmt"
	"testing"
)

// BenchmarkFanout publishes one small change to N real WebSocket clients over loopback
// from three servers, all serving their own N clients at once: wssync (a change of a
// NewShared object every session joined), a raw gorilla hub broadcasting the same frame
// pre-encoded as one PreparedMessage, and centrifuge publishing the same bytes as a
// publication's data to a channel every client subscribed to. Each op publishes one change
// on each server in turn (a different one first each time); a server's next change starts
// once every one of its clients received the previous one. The clients are the same plain
// gorilla readers for all three (clients_test.go), so the client side costs the same but
// for the frame's size: centrifuge's push envelope adds about 40 bytes to the payload.
// Reported per server (see run): deliveries/s (N·changes / Σ time from the publish to the
// last receipt), p50 and p99 from the publish to each receipt, allocations per change;
// then the ratios wssync/raw and wssync/centrifuge of deliveries/s and of p99.
//
// The servers are set up on the first run of a sub-benchmark and kept for the b.N ramp-up.
// Where the open file limit cannot be raised to hold all three at once (6·N descriptors:
// 30,000 at N=5,000), each op sets up the servers one after the other instead and
// publishes roundChanges changes on each (runRounds); only the changes are measured.
func BenchmarkFanout(b *testing.B) {
	const roundChanges = 10
	names := []string{"wssync", "raw", "centrifuge"}
	starts := []func(n int) (env, error){newWssync, newRaw, newCentrifuge}
	for _, n := range []int{1_000, 5_000} {
		var envs []env
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			if envs == nil {
				if err := raiseFileLimit(uint64(len(starts)*2*n) + 1024); err != nil {
					if err := raiseFileLimit(uint64(2*n) + 1024); err != nil {
						b.Skip(err)
					}
					runRounds(b, names, starts, n, roundChanges)
					return
				}
				for _, start := range starts {
					e, err := start(n)
					if err != nil {
						b.Fatal(err)
					}
					envs = append(envs, e)
				}
			}
			run(b, names, envs, n)
		})
		for j, e := range envs {
			if err := e.close(); err != nil {
				b.Errorf("closing %s: %v", names[j], err)
			}
		}
	}
}
