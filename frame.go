package wssync

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// frame is one encoded text frame. A frame built once (a patch, a _SET) may be queued on
// many connections; it is never modified after it is built.
type frame struct {
	data   []byte
	shared bool // queued on more than one connection: worth preparing once

	published time.Time // when a published _PATCH was built, for Observer.PatchWritten; zero otherwise

	prep atomic.Pointer[preparedFrame] // built by the first prepared call; nil before
}

// preparedFrame is a frame's PreparedMessage, apart from the frame so that the frames sent
// to one connection (most of them) do not carry its bookkeeping.
type preparedFrame struct {
	once sync.Once
	msg  *websocket.PreparedMessage
	err  error
}

// prepared returns the frame as a PreparedMessage, built once and shared by every
// connection that sends it: fan-out pays for WebSocket framing once.
func (f *frame) prepared() (*websocket.PreparedMessage, error) {
	p := f.prep.Load()
	if p == nil {
		f.prep.CompareAndSwap(nil, new(preparedFrame))
		p = f.prep.Load() // this call's, or that of a connection that came first
	}
	p.once.Do(func() {
		p.msg, p.err = websocket.NewPreparedMessage(websocket.TextMessage, f.data)
	})
	return p.msg, p.err
}
