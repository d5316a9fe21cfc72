// Package leakcheck fails a test binary whose goroutines outlive its tests.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// ignored are goroutines the runtime or the testing package own.
var ignored = []string{
	"testing.(*M).",
	"testing.tRunner",
	"created by runtime",
	"runtime/trace",
	"signal.signal_recv",
	"os/signal.loop",
	"testing.runFuzzing",
	"testing/fuzz",
	"internal/fuzz",
	"net/http.(*persistConn)", // idle keep-alive connections of http.DefaultTransport
	"net/http.(*Transport)",
}

// Main runs the tests, then waits up to five seconds for every goroutine the tests started
// to end. If some remain, it prints their stacks and exits with status 1.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := wait(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "leakcheck: goroutines outlived the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

func wait(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		leaked := interesting()
		if leaked == "" || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// interesting returns the stacks of goroutines other than this one and the ignored ones.
func interesting() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 || ignore(g) {
			continue // the first is the caller's own goroutine
		}
		out = append(out, g)
	}
	return strings.Join(out, "\n\n")
}

func ignore(stack string) bool {
	for _, s := range ignored {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}
