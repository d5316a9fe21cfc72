package wssync_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
)

// countingConn counts the bytes the client reads off the wire, before inflation.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// compressDial dials url as a browser does when offer is true (offering
// permessage-deflate) and returns the connection, whether the server accepted the
// extension, and the counter of wire bytes read.
func compressDial(t *testing.T, url string, offer bool) (*websocket.Conn, bool, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	d := websocket.Dialer{
		EnableCompression: offer,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{c, &n}, nil
		},
	}
	ws, resp, err := d.DialContext(wstest.Context(t), url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws, strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate"), &n
}

// readWire reads one text frame and returns it with the wire bytes read meanwhile. The
// first frame may have been read with the handshake's response: count it with wire.Load.
func readWire(t *testing.T, ws *websocket.Conn, wire *atomic.Int64) (typ string, data []byte, onWire int64) {
	t.Helper()
	before := wire.Load()
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var env struct{ Type string }
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatalf("frame %q: %v", data, err)
	}
	return env.Type, data, wire.Load() - before
}

const longTitle = 20000 // bytes of a repetitive title: its _SET deflates to a few hundred bytes

func newLongNotes(t *testing.T, opts ...wssync.SessionOption) (*wssync.Synced[Notes], string) {
	t.Helper()
	sess := wssync.NewSession(opts...)
	s, err := wssync.Register(sess, "NOTES", &Notes{Title: strings.Repeat("abcdefgh", longTitle/8)})
	if err != nil {
		t.Fatal(err)
	}
	return s, serve(t, sess)
}

// A client that offers permessage-deflate gets frames above the threshold compressed,
// frames below it as they are, and the right state either way.
func TestCompressionAboveThreshold(t *testing.T) {
	t.Parallel()
	s, url := newLongNotes(t)
	ws, negotiated, wire := compressDial(t, url, true)
	if !negotiated {
		t.Fatal("permessage-deflate not negotiated for a client that offers it")
	}
	typ, data, _ := readWire(t, ws, wire)
	onWire := wire.Load() // with the HTTP response
	if typ != "_SET:NOTES" || !strings.Contains(string(data), strings.Repeat("abcdefgh", longTitle/8)) {
		t.Fatalf("got %s %.80s", typ, data)
	}
	if onWire*10 > int64(len(data)) {
		t.Errorf("_SET of %d bytes took %d on the wire: not compressed", len(data), onWire)
	}
	// a patch under DefaultCompressionThreshold is sent uncompressed: it takes at least its
	// own length on the wire though it would deflate to a few bytes
	small := strings.Repeat("z", 500)
	if err := s.Update(func(n *Notes) { n.Title = small }); err != nil {
		t.Fatal(err)
	}
	typ, data, onWire = readWire(t, ws, wire)
	if typ != "_PATCH:NOTES" || !strings.Contains(string(data), small) {
		t.Fatalf("got %s %s", typ, data)
	}
	if len(data) >= wssync.DefaultCompressionThreshold || onWire < int64(len(data)) {
		t.Errorf("patch of %d bytes took %d on the wire: compressed under the threshold", len(data), onWire)
	}
}

// A client that does not offer the extension, or a server with compression off, gets
// every frame as it is.
func TestCompressionNotOffered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		offer bool
		opts  []wssync.SessionOption
	}{
		{"client does not offer", false, nil},
		{"server turned it off", true, []wssync.SessionOption{wssync.WithCompression(-1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, url := newLongNotes(t, tc.opts...)
			ws, negotiated, wire := compressDial(t, url, tc.offer)
			if negotiated {
				t.Fatal("permessage-deflate negotiated")
			}
			typ, data, _ := readWire(t, ws, wire)
			if onWire := wire.Load(); typ != "_SET:NOTES" || onWire < int64(len(data)) {
				t.Fatalf("got %s of %d bytes in %d wire bytes", typ, len(data), wire.Load())
			}
		})
	}
}

// WithCompression(0) compresses even a small patch.
func TestCompressionThresholdZero(t *testing.T) {
	t.Parallel()
	s, url := newLongNotes(t, wssync.WithCompression(0))
	ws, _, wire := compressDial(t, url, true)
	readWire(t, ws, wire)
	small := strings.Repeat("z", 500)
	if err := s.Update(func(n *Notes) { n.Title = small }); err != nil {
		t.Fatal(err)
	}
	_, data, onWire := readWire(t, ws, wire)
	if onWire*4 > int64(len(data)) {
		t.Errorf("patch of %d bytes took %d on the wire: not compressed", len(data), onWire)
	}
}

// A compressed client frame is accepted when it inflates within the read limit.
func TestCompressedClientWrite(t *testing.T) {
	t.Parallel()
	s, url := newLongNotes(t)
	ws, _, wire := compressDial(t, url, true)
	readWire(t, ws, wire)
	title := strings.Repeat("y", 200_000)
	ws.EnableWriteCompression(true)
	msg := `{"type":"_PATCH:NOTES","data":[{"op":"replace","path":"/title","value":"` + title + `"}]}`
	if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	wstest.Eventually(t, "the compressed write applied", func() bool {
		got := false
		s.Read(func(n *Notes) { got = n.Title == title })
		return got
	})
}

// A compressed frame that is small on the wire but inflates past the read limit closes the
// connection with CloseMessageTooBig, and the server reads no more of it than the limit:
// gorilla's own limit counts wire bytes only.
func TestCompressionBombCloses1009(t *testing.T) {
	const bomb = 256 << 20 // inflated bytes; about 256 KiB on the wire, under the 1 MiB limit
	s, url := newLongNotes(t)
	ws, _, wire := compressDial(t, url, true)
	readWire(t, ws, wire)
	payload := []byte(strings.Repeat(" ", bomb))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ws.EnableWriteCompression(true)
	_ = ws.WriteMessage(websocket.TextMessage, payload) // the server may close before it is written
	var code int
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				code = ce.Code
			}
			break
		}
	}
	runtime.ReadMemStats(&after)
	if code != wssync.CloseMessageTooBig {
		t.Fatalf("close code %d, want %d", code, wssync.CloseMessageTooBig)
	}
	// the allocations of this test (client and server share the process) stay near the
	// 1 MiB limit; reading the frame whole would allocate its 256 MiB at least
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("the bomb allocated %d MiB", alloc>>20)
	}
	s.Read(func(n *Notes) {
		if len(n.Title) != longTitle {
			t.Error("the state changed")
		}
	})
}

// A frame of a shared object (one prepared message for all its subscribers) is compressed
// above the threshold too, for every subscriber that offered the extension, and sent as it
// is to one that did not.
func TestCompressionSharedFrame(t *testing.T) {
	t.Parallel()
	shared, err := wssync.NewShared("NOTES", &Notes{Title: "short"})
	if err != nil {
		t.Fatal(err)
	}
	type client struct {
		ws   *websocket.Conn
		wire *atomic.Int64
	}
	var clients []client
	for _, offer := range []bool{true, true, false} {
		sess := wssync.NewSession()
		if err := shared.Join(sess); err != nil {
			t.Fatal(err)
		}
		ws, _, wire := compressDial(t, serve(t, sess), offer)
		readWire(t, ws, wire) // the _SET
		clients = append(clients, client{ws, wire})
	}
	long := strings.Repeat("abcdefgh", longTitle/8)
	if err := shared.Update(func(n *Notes) { n.Title = long }); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		typ, data, onWire := readWire(t, c.ws, c.wire)
		if typ != "_PATCH:NOTES" || !strings.Contains(string(data), long) {
			t.Fatalf("client %d: got %s %.80s", i, typ, data)
		}
		compressed := onWire*10 <= int64(len(data))
		if want := i < 2; compressed != want {
			t.Errorf("client %d (offered %v): patch of %d bytes took %d on the wire", i, want, len(data), onWire)
		}
	}
}
