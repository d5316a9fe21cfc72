package wssync

import (
	"errors"
	"io"

	"github.com/gorilla/websocket"
)

// DefaultCompressionThreshold is the smallest outbound frame, in bytes, that is compressed
// on a connection whose client negotiated permessage-deflate. Smaller frames (most
// patches) are sent as they are: deflating them saves a few bytes and costs a flate
// writer's setup on every write.
const DefaultCompressionThreshold = 1024

// WithCompression sets the smallest outbound frame, in bytes, that is compressed with
// permessage-deflate (RFC 7692) on a connection whose client offers the extension
// (browsers and Node's ws do; DefaultCompressionThreshold unless set). A shared frame is
// compressed once for all the connections it fans out to, not once per connection. Zero
// compresses every frame; a negative minBytes turns compression off: the extension is
// not negotiated. Inbound compressed frames are bounded by Limits.ReadLimit after they
// are inflated, not only on the wire.
func WithCompression(minBytes int) SessionOption {
	return func(c *config) { c.compressMin = minBytes }
}

// compressFor turns write compression on for the next message when it is at least the
// threshold. It only matters when the client negotiated the extension (gorilla ignores it
// otherwise); the caller holds the write side of ws.
func (c *conn) compressFor(n int) {
	c.ws.EnableWriteCompression(c.sess.cfg.compressMin >= 0 && n >= c.sess.cfg.compressMin)
}

// errInflatedTooLarge is a compressed frame that inflates past the read limit. gorilla's
// read limit counts the bytes on the wire; a deflated frame of a few hundred kilobytes can
// inflate to gigabytes, so the inflated bytes are counted too.
var errInflatedTooLarge = errors.New("wssync: frame inflates past the read limit")

// readLimited reads one message of at most limit bytes after inflation (limit ≤ 0: no
// limit, as gorilla's SetReadLimit). An inflated frame over it stops being read at
// limit+1 bytes, so it never costs more memory than an allowed frame.
func readLimited(ws *websocket.Conn, limit int64) (int, []byte, error) {
	mt, r, err := ws.NextReader()
	if err != nil {
		return mt, nil, err
	}
	if limit <= 0 {
		data, err := io.ReadAll(r)
		return mt, data, err
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err == nil && int64(len(data)) > limit {
		return mt, nil, errInflatedTooLarge
	}
	return mt, data, err
}
