package wssync

import "github.com/wssync/wssync/internal/proto"

// maxPingEcho bounds the ping data a pong echoes: enough for a timestamp or a counter.
const maxPingEcho = 256

// handlePing answers the application-level ping {"type":"ping","data":X} with
// {"type":"pong","data":X}, X echoed when it is at most 256 bytes, else null. Clients of
// other WebSocket libraries send it to keep the connection alive, and the React hook to
// measure the round trip; the WebSocket ping the server sends is invisible to a browser's
// JavaScript. An application that registered its own "ping" event (Session.On) gets it
// instead.
func (c *conn) handlePing(in *inbound) {
	if _, own := c.sess.handler(proto.Ping); own {
		c.dispatch(in)
		return
	}
	data := []byte("null")
	if in.data != nil && len(in.data) <= maxPingEcho {
		data = in.data
	}
	c.reply(eventFrame(proto.Pong, data))
	c.badFrames = 0
}
