package wsclient

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/wssync/wssync/internal/proto"
)

// Resume (docs/protocol.md, "Resume"): the client offers the subprotocol wssync.resume and
// names, in a `_RESUME` as its first frame after identification, the version and epoch of
// every key it holds. The server answers with the patches the client missed, or a `_SET`,
// key by key, and then `_RESUMED`. A server that does not resume ignores both and sends
// its `_SET`s as on any connect, which the client takes as usual.

// Resumed is the server's `_RESUMED` answer to the client's `_RESUME`: the keys it brought
// up to date with the patches the client missed, and those it sent a `_SET` of.
type Resumed struct {
	Patched []string `json:"patched"`
	Set     []string `json:"set"`
}

// resumeEntry is one key of a `_RESUME`.
type resumeEntry struct {
	V     uint64 `json:"v"`
	Epoch string `json:"epoch"`
}

// sendResumeLocked sends cn's `_RESUME`, naming every key whose state can be continued,
// and marks those keys as resuming: their patches apply before `_RESUMED`. The caller
// holds mu.
func (c *Client) sendResumeLocked(cn *conn) {
	if c.cfg.noResume {
		return
	}
	held := make(map[string]resumeEntry, len(c.keys))
	for key, k := range c.keys {
		k.resuming = k.resumable()
		if k.resuming {
			held[key] = resumeEntry{V: k.v, Epoch: k.epoch}
		}
	}
	if err := cn.write(outFrame{Type: proto.Resume, Data: held}); err != nil {
		c.cfg.logger.Debug("wsclient: sending _RESUME", "err", err)
	}
}

// resumedLocked applies `_RESUMED`: each patched key the client named is live again; a key
// it named that the answer does not list (a key without replay) stays as it was, not live.
// The caller holds mu.
func (c *Client) resumedLocked(data []byte) {
	r, err := decodeResumed(data)
	if err != nil {
		c.cfg.logger.Warn("wsclient: undecodable _RESUMED", "err", err)
	}
	for key, k := range c.keys {
		if k.resuming && slices.Contains(r.Patched, key) {
			k.live = true
		}
		k.resuming = false
	}
	c.resumes++
	c.lastResumed = r
}

// decodeResumed decodes the data of a `_RESUMED` frame. Data of another shape gives an
// error and an empty answer, so no key is taken for patched.
func decodeResumed(data []byte) (Resumed, error) {
	var r Resumed
	if err := json.Unmarshal(data, &r); err != nil {
		return Resumed{}, fmt.Errorf("wsclient: %s data: %w", proto.Resumed, err)
	}
	return r, nil
}

// LastResumed returns the server's latest `_RESUMED` answer and how many the client has
// received (0 when no connection resumed: the server does not resume, or WithoutResume).
func (c *Client) LastResumed() (r Resumed, count int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Resumed{Patched: slices.Clone(c.lastResumed.Patched), Set: slices.Clone(c.lastResumed.Set)}, c.resumes
}
