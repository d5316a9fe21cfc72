package wssync

import (
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// frame is one encoded text frame. A frame built once (a patch, a _SET) may be queued on
// many connections; it is never modified after it is built.
type frame struct {
	data   []byte
	shared bool // queued on more than one connection: worth preparing once

	published time.Time // when a published _PATCH was built, for Observer.PatchWritten; zero otherwise

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
