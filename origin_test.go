package wssync_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
)

// logBuffer collects what a logger writes, for tests that read the log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// TestCrossOriginRefusalIsLogged: a page on another origin (a dev server on another port)
// gets 403, and the server's log names the origin and WithAllowedOrigins; once the origin
// is allowed, the upgrade succeeds.
func TestCrossOriginRefusalIsLogged(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	var built atomic.Int32
	url := serveManager(t, wssync.NewManager(notesFactory(&built), wssync.WithLogger(logs.logger())))
	h := http.Header{"Origin": {"http://localhost:5173"}}
	_, resp, err := websocket.DefaultDialer.DialContext(ctxT(t), url, h)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin dial: %v (response %v), want 403", err, resp)
	}
	log := logs.String()
	for _, want := range []string{"origin=http://localhost:5173", "WithAllowedOrigins", "403"} {
		if !strings.Contains(log, want) {
			t.Errorf("log %q does not name %q", log, want)
		}
	}

	allowed := serveManager(t, wssync.NewManager(notesFactory(&built), wssync.WithAllowedOrigins("http://localhost:5173")))
	handshakeClient(t, allowed, h) // fails the test unless the upgrade succeeds
}
