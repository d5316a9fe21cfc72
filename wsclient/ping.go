package wsclient

import (
	"context"
	"strconv"
	"time"

	"github.com/wssync/wssync/internal/proto"
)

// pingID is the pending-request id of a ping whose data is s: ping data and request ids
// live in one table without colliding.
func pingID(s string) string { return "ping:" + s }

// Ping sends the application-level `{"type":"ping"}` and returns the time until the
// server's `pong`: the round trip through the server's reader and send queue, which the
// WebSocket-level ping does not measure. It waits for an identified connection first.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	c.mu.Lock()
	c.nextID++
	data := "p" + strconv.FormatUint(c.nextID, 10)
	c.mu.Unlock()
	var start time.Time
	_, _, err := c.roundTrip(ctx, func(string) outFrame {
		start = time.Now()
		return outFrame{Type: proto.Ping, Data: data}
	}, pingID(data))
	if err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
