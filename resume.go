package wssync

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssync/wssync/internal/patch"
	"github.com/wssync/wssync/internal/proto"
)

// This file is the server's side of resume (docs/protocol.md, "Resume"): a client that
// offers the subprotocol wssync.resume is sent no state at connect; its first frame,
// `_RESUME`, names the version and epoch it holds of each key, and each key gets exactly
// the patches it missed, when the key's history (history.go) or its backend's log still
// has them all, or a `_SET`. Any other first frame, or none within the handshake timeout,
// gets the `_SET`s of every connect.

// maxEpochBytes bounds the epoch a client may name; longer ones are never ours.
const maxEpochBytes = 64

// offersResume reports whether the upgrade request offers the subprotocol wssync.resume.
func offersResume(r *http.Request) bool {
	return slices.Contains(websocket.Subprotocols(r), proto.ResumeSubprotocol)
}

// resumeHold is a resuming connection's wait for its first frame. While it is on, the
// session's keys are not based on the connection (their patches are dropped), and no
// `_SET` is queued for them: the first frame decides, or the timer.
type resumeHold struct {
	mu    sync.Mutex
	on    bool
	timer *time.Timer
}

// take ends the hold and reports whether it was on: the caller then decides what the
// connection is sent. Only one caller ever gets true.
func (h *resumeHold) take() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	on := h.on
	h.on = false
	if h.timer != nil {
		h.timer.Stop()
	}
	return on
}

// holding reports whether the connection still waits for its first frame.
func (h *resumeHold) holding() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.on
}

// startHold begins the connection's life after attach: a connection that offered resume
// waits for its first frame, for at most the handshake timeout, before it is sent the
// state; any other is sent its task news now, behind the `_SET`s attach queued.
func (c *conn) startHold() {
	h := &c.hold
	h.mu.Lock()
	on := h.on
	if on {
		h.timer = time.AfterFunc(c.sess.cfg.handshakeTimeout, func() {
			// Counted in the connection's work, like its other goroutines: the reader
			// waits for a replay under way, and once it has ended none starts.
			if !c.work.enter() {
				return
			}
			defer c.work.leave()
			if h.take() {
				c.replayAll()
			}
		})
	}
	h.mu.Unlock()
	if !on {
		c.sess.deliverTaskNews(c)
	}
}

// stopHold stops the hold's timer when the connection has ended.
func (c *conn) stopHold() {
	h := &c.hold
	h.mu.Lock()
	defer h.mu.Unlock()
	h.on = false
	if h.timer != nil {
		h.timer.Stop()
	}
}

// replayAll queues the `_SET` of every replaying key, as attach does for a connection
// that does not resume, then the session's task news.
func (c *conn) replayAll() {
	s := c.sess
	s.mu.Lock()
	for _, o := range s.objects {
		if o.replay {
			c.q.resync(o)
		}
	}
	s.mu.Unlock()
	s.releaseBacklog(c)
	s.deliverTaskNews(c)
}

// firstFrame handles the first frame of a connection that holds for a resume, and reports
// whether it consumed it: a `_RESUME` is answered here; any other frame ends the hold with
// the `_SET`s of every key and is then handled as usual by the caller.
func (c *conn) firstFrame(mt int, data []byte) bool {
	if !c.hold.take() {
		return false
	}
	if mt == websocket.TextMessage {
		if in, err := decodeInbound(data); err == nil && in.event == proto.Resume {
			c.resume(in)
			return true
		}
	}
	c.replayAll()
	return false
}

// heldKey is what a client says it holds of one key.
type heldKey struct {
	v     uint64
	epoch string
}

// decodeResume decodes the data of `_RESUME`: an object of at most maxKeys members, each
// KEY: {"v": integer ≥ 0, "epoch": string}. A member of any other shape is left out (its
// key is not resumed); data that is not such an object is refused. It never panics.
func decodeResume(data []byte, maxKeys int) (map[string]heldKey, *Error) {
	bad := func(why string) *Error {
		return errorf(CodeBadData, "", "%s data must be an object of at most %d keys, each {\"v\": integer, \"epoch\": string}: %s", proto.Resume, maxKeys, why)
	}
	if data == nil {
		return nil, bad("no data")
	}
	held := make(map[string]heldKey)
	n := 0
	err := patch.ObjectMembers(data, func(key string, value []byte) error {
		if n++; n > maxKeys {
			return fmt.Errorf("more keys than the session has")
		}
		if h, ok := decodeHeld(value); ok {
			held[key] = h // the last of duplicate members wins, as with encoding/json
		} else {
			delete(held, key)
		}
		return nil
	})
	if err != nil {
		return nil, bad(err.Error())
	}
	return held, nil
}

// decodeHeld decodes one member of `_RESUME`; ok is false unless it is an object with a
// non-negative integer "v" (in JSON's integer syntax, within uint64) and a string "epoch"
// of at most maxEpochBytes bytes.
func decodeHeld(raw []byte) (h heldKey, ok bool) {
	var hasV, hasEpoch bool
	err := patch.ObjectMembers(raw, func(key string, value []byte) error {
		switch key {
		case "v":
			s := string(value)
			if s == "" || (len(s) > 1 && s[0] == '0') || strings.ContainsAny(s, "+-.eE") {
				hasV = false
				return nil
			}
			v, err := strconv.ParseUint(s, 10, 64)
			h.v, hasV = v, err == nil
		case "epoch":
			e, isStr := patch.String(value)
			h.epoch, hasEpoch = e, isStr && e != "" && len(e) <= maxEpochBytes
		}
		return nil
	})
	return h, err == nil && hasV && hasEpoch
}

// resume answers the `_RESUME` frame in: each replaying key of the session, in key order,
// gets the patches it missed or a `_SET`, then the connection gets `_RESUMED` and the
// session's task news. It runs on the dispatcher, as a handler, under dispatchMu.
func (c *conn) resume(in *inbound) {
	s := c.sess
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	s.mu.Lock()
	registered := len(s.objects)
	objs := make([]*object, 0, registered)
	for _, o := range s.objects {
		if o.replay {
			objs = append(objs, o)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(objs, func(a, b *object) int { return strings.Compare(a.key, b.key) })
	held, perr := decodeResume(in.data, registered)
	if perr != nil {
		c.refuse(in, perr)
	}
	ans := resumed{Patched: []string{}, Set: []string{}}
	for _, o := range objs {
		h, listed := held[o.key]
		if listed && c.resumeKey(o, h) {
			ans.Patched = append(ans.Patched, o.key)
			s.metrics.resumed.Add(1)
			continue
		}
		if listed {
			s.metrics.resumeSets.Add(1)
		}
		c.q.resync(o)
		ans.Set = append(ans.Set, o.key)
	}
	data, _ := json.Marshal(ans) // strings only: cannot fail
	c.send(eventFrame(proto.Resumed, data))
	s.releaseBacklog(c)
	s.deliverTaskNews(c)
}

// resumed is the data of `_RESUMED`.
type resumed struct {
	Patched []string `json:"patched"`
	Set     []string `json:"set"`
}

// resumeKey queues, for a client that holds version h.v of epoch h.epoch of o, the
// patches that lead it to o's published version, and bases o on the connection; false
// when that cannot be done (the caller sends a `_SET`). The patches come from o's history
// or, for a shared object whose history does not reach back that far, from its backend's
// log.
func (c *conn) resumeKey(o *object, h heldKey) bool {
	o.pub.Lock()
	frames, ok, fetch := o.missedLocked(h)
	if ok {
		ok = c.q.resumeBased(o, frames)
	}
	o.pub.Unlock()
	if ok || !fetch {
		return ok
	}
	snap, err := o.loadSince(h.v)
	if err != nil {
		return false
	}
	o.pub.Lock()
	defer o.pub.Unlock()
	frames, ok = o.fromBackendLocked(h, snap)
	return ok && c.q.resumeBased(o, frames)
}

// missedLocked returns the frames of o's history that lead from version h.v of epoch
// h.epoch to the published version. ok is false when the history does not hold them all;
// fetch then says whether the backend's log may. A version o never published in that
// epoch (from the future, before the history's start in an epoch of this process) is
// never ok. The caller holds pub.
func (o *object) missedLocked(h heldKey) (frames [][]byte, ok, fetch bool) {
	if o.gone.Load() || o.views != nil || !o.hist.enabled() || h.epoch != o.epoch || h.v > o.version {
		return nil, false, false
	}
	if frames, ok = o.hist.since(h.v, o.version); ok {
		return frames, true, false
	}
	return nil, false, o.dist.attached() && !o.dist.offline && o.epochBackend && h.v > 0
}

// loadSince asks o's backend for the patches after version v, without holding pub.
func (o *object) loadSince(v uint64) (Snapshot, error) {
	ctx, cancel := context.WithTimeout(o.dist.ctx, opTimeout)
	defer cancel()
	return o.dist.be.Load(ctx, o.key, v)
}

// fromBackendLocked returns the frames that lead from version h.v of epoch h.epoch to the
// published version, from snap (the backend's answer to a load since h.v) and, for the
// versions this node published after snap's, from the history. ok is false unless they
// are all there and o is still in that epoch. The caller holds pub.
func (o *object) fromBackendLocked(h heldKey, snap Snapshot) (frames [][]byte, ok bool) {
	if o.gone.Load() || h.epoch != o.epoch || !o.epochBackend || h.v > o.version || snap.State != nil || snap.Version < h.v ||
		uint64(len(snap.Patches)) != snap.Version-h.v {
		return nil, false
	}
	top := min(snap.Version, o.version)
	for i, p := range snap.Patches[:top-h.v] {
		frames = append(frames, appendPatchFrame(nil, o.patchHd, p, h.v+uint64(i)+1))
	}
	if top < o.version {
		rest, ok := o.hist.since(top, o.version)
		if !ok {
			return nil, false
		}
		frames = append(frames, rest...)
	}
	return frames, true
}
