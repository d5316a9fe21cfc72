package wssync

import (
	"strconv"
	"sync"

	"github.com/gorilla/websocket"
)

// frame is one encoded text frame. A frame built once (a patch, a _SET) may be queued on
// many connections; it is never modified after it is built.
type frame struct {
	data   []byte
	shared bool // queued on more than one connection: worth preparing once

	prepOnce sync.Once
	prep     *websocket.PreparedMessage
	prepErr  error
}

// prepared returns the frame as a PreparedMessage, built once and shared by every
// connection that sends it: fan-out pays for WebSocket framing once.
func (f *frame) prepared() (*websocket.PreparedMessage, error) {
	f.prepOnce.Do(func() {
		f.prep, f.prepErr = websocket.NewPreparedMessage(websocket.TextMessage, f.data)
	})
	return f.prep, f.prepErr
}

// appendVersionTail closes a _SET/_PATCH frame whose data was just written: `,"v":N}`.
func appendVersionTail(buf []byte, v uint64) []byte {
	buf = append(buf, `,"v":`...)
	buf = strconv.AppendUint(buf, v, 10)
	return append(buf, '}')
}

// appendEventHead writes `{"type":"EVENT","data":` with EVENT encoded as a JSON string.
func appendEventHead(buf []byte, event string) []byte {
	buf = append(buf, `{"type":`...)
	buf = appendJSONString(buf, event)
	return append(buf, `,"data":`...)
}
