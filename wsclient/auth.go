package wsclient

import (
	"context"
	"encoding/json"

	"github.com/wssync/wssync/internal/proto"
)

// refreshLocked answers `_AUTH_EXPIRING` {"expires": ms, "refresh": bool}: with a token
// source and a server that takes `_AUTH`, a fresh token is sent on a goroutine of its own
// (the token source may take its time). Without either, the server closes with 4005 at
// the expiry and the client reconnects with a fresh token.
func (c *Client) refreshLocked(data json.RawMessage) {
	var n struct {
		Refresh bool `json:"refresh"`
	}
	if json.Unmarshal(data, &n) != nil || !n.Refresh || c.cfg.token == nil || c.err != nil {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.dialTimeout)
		defer cancel()
		tok, err := c.cfg.token(ctx)
		if err == nil {
			_, _, err = c.roundTrip(ctx, func(id string) outFrame {
				return outFrame{Type: proto.Auth, Data: map[string]string{"token": tok}, ID: id}
			}, "")
		}
		if err != nil {
			c.cfg.logger.Warn("wsclient: token refresh failed; the server closes at the expiry and the client reconnects", "err", err)
			return
		}
		c.cfg.logger.Debug("wsclient: token refreshed")
	}()
}
