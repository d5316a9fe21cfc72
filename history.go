package wssync

// This file keeps each key's latest published patches, so that a client that reconnects
// with the version it holds gets only the patches it missed (resume.go).

// Defaults of WithHistory: how many of a key's latest patches are kept for clients that
// resume, and how many bytes of them at most. 64 matches the log wsredis keeps per key, so
// a server and its backend reach back equally far; 256 KiB per key bounds what a busy key
// with large patches costs.
const (
	DefaultHistoryPatches = 64
	DefaultHistoryBytes   = 256 << 10
)

// history is a bounded run of consecutive published patches of one key: the `_PATCH`
// frames (whole, as sent) that lead from version base to base+n. It is guarded by the
// object's pub lock.
//
// A version that does not follow the run (the state jumped: a reload, a restore, a
// publish nobody was sent) starts a new run; the patches of the old one cannot lead to a
// state the client may hold at the new version.
type history struct {
	maxLen   int // patches kept at most; 0 keeps none (no resume)
	maxBytes int // bytes of frames kept at most

	ring  [][]byte // capacity maxLen; frames[i] is ring[(start+i)%maxLen]
	start int
	n     int
	bytes int
	base  uint64 // the version the first kept frame applies to
	known bool   // base is meaningful: some version was recorded since the last reset
}

// newHistory returns the empty history of an object just registered, at version 0.
func newHistory(patches, bytes int) history {
	return history{maxLen: max(patches, 0), maxBytes: max(bytes, 0), known: true}
}

// enabled reports whether the history keeps anything.
func (h *history) enabled() bool { return h.maxLen > 0 && h.maxBytes > 0 }

// add records the frame f of the patch that made version v. A v that does not follow the
// last recorded version starts the run again from v-1.
func (h *history) add(v uint64, f []byte) {
	if !h.enabled() {
		return
	}
	if !h.known || v != h.base+uint64(h.n)+1 {
		h.resetAt(v - 1)
	}
	if h.ring == nil {
		h.ring = make([][]byte, h.maxLen)
	}
	if h.n == h.maxLen {
		h.dropOldest()
	}
	h.ring[(h.start+h.n)%h.maxLen] = f
	h.n++
	h.bytes += cap(f) // what the frame holds in memory, not only its length
	for h.bytes > h.maxBytes && h.n > 0 {
		h.dropOldest() // a frame larger than maxBytes empties the run: the base moves past it
	}
}

// dropOldest forgets the oldest kept frame.
func (h *history) dropOldest() {
	h.bytes -= cap(h.ring[h.start])
	h.ring[h.start] = nil
	h.start = (h.start + 1) % h.maxLen
	h.n--
	h.base++
}

// resetAt forgets every frame; the run starts again at version v (known: a client at v
// is up to date).
func (h *history) resetAt(v uint64) {
	h.reset()
	h.base, h.known = v, true
}

// reset forgets every frame and the base: nothing can be resumed until the next add.
func (h *history) reset() {
	clear(h.ring)
	h.start, h.n, h.bytes, h.base, h.known = 0, 0, 0, 0, false
}

// since returns the frames that lead from version v to version cur, the published one:
// ok is false unless the run holds every one of them (v between the run's base and its
// end, and the run ends at cur).
func (h *history) since(v, cur uint64) (frames [][]byte, ok bool) {
	if !h.enabled() || !h.known || h.base+uint64(h.n) != cur || v < h.base || v > cur {
		return nil, false
	}
	skip := int(v - h.base)
	frames = make([][]byte, 0, h.n-skip)
	for i := skip; i < h.n; i++ {
		frames = append(frames, h.ring[(h.start+i)%h.maxLen])
	}
	return frames, true
}

// size reports the bytes and frames kept, for tests and metrics.
func (h *history) size() (frames, bytes int) { return h.n, h.bytes }

// recordLocked keeps f, the patch frame every subscriber of o got for its published
// version, in o's history. An object with views keeps none: its subscribers got their
// views' frames, not f. The caller holds pub.
func (o *object) recordLocked(f *frame) {
	if o.views == nil {
		o.hist.add(o.version, f.data)
	}
}
