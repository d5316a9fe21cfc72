package wsclient

import (
	"encoding/json"
	"log/slog"

	"github.com/wssync/wssync/internal/jsontree"
	"github.com/wssync/wssync/internal/proto"
)

// keyState is the client's copy of one key's state, kept by the rules of docs/protocol.md
// ("Versions"). Its fields are guarded by the Client's mu.
type keyState struct {
	key      string
	tree     any    // the decoded state, patched in place; nil when untrustworthy
	raw      []byte // the JSON of the last good state (what bindings decode)
	loaded   bool   // raw holds a state
	v        uint64 // the version of raw, when hasV
	hasV     bool
	epoch    string // the epoch of the latest _SET ("" from a server without resume)
	live     bool   // a _SET arrived on the current connection, or _RESUMED listed it as patched
	resuming bool   // named in this connection's _RESUME: its missed patches apply before _RESUMED
	wrote    bool   // a local write was applied since the last _SET (see resumable)
	awaiting bool   // a gap was seen: patches are skipped until the _SET asked for
	bound    binder // the Binding of this key, if any
	gaps     int    // gaps repaired so far (Binding.Stats)
}

// binder is what a Binding[T] implements for the untyped client.
type binder interface {
	// changed is called with c.mu held after raw changed.
	changed(raw []byte, v uint64, hasV bool)
}

// onSet replaces the state (rule 1): a _SET is always a new base, whatever its version.
func (k *keyState) onSet(data []byte, v *uint64, epoch string, log *slog.Logger) {
	tree, err := jsontree.Decode(data)
	if err != nil {
		log.Warn("wsclient: undecodable state", "key", k.key, "err", err)
		return
	}
	k.tree, k.live, k.awaiting, k.resuming, k.epoch, k.wrote = tree, true, false, false, epoch, false
	k.hasV = v != nil
	if v != nil {
		k.v = *v
	}
	k.commit(append([]byte(nil), data...))
}

// onPatch applies a patch (rules 2 to 4) and reports whether a fresh _SET must be asked
// for (a gap, a patch that does not apply, a patch before any _SET).
func (k *keyState) onPatch(data []byte, v *uint64, log *slog.Logger) (needGet bool) {
	if k.awaiting {
		return false // the _SET asked for is on its way
	}
	if k.tree == nil || !(k.live || k.resuming) {
		return k.startRepair(log, "a patch without a base")
	}
	switch proto.Classify(k.v, k.hasV, v) {
	case proto.Stale:
		return false
	case proto.Gap:
		return k.startRepair(log, "a version gap")
	}
	tree, err := jsontree.Apply(k.tree, data)
	if err != nil {
		k.tree = nil // patched halfway: no trustworthy base until the _SET
		return k.startRepair(log, "a patch that does not apply: "+err.Error())
	}
	k.tree = tree
	if v != nil {
		k.v, k.hasV = *v, true
	}
	raw, err := json.Marshal(tree)
	if err != nil { // a decoded tree always marshals
		return k.startRepair(log, err.Error())
	}
	k.commit(raw)
	return false
}

// startRepair skips patches until a fresh _SET, which the caller asks for with _GET.
func (k *keyState) startRepair(log *slog.Logger, why string) bool {
	k.awaiting = true
	k.gaps++
	log.Info("wsclient: resynchronising a key", "key", k.key, "why", why)
	return true
}

// commit makes raw the key's current state and tells its binding.
func (k *keyState) commit(raw []byte) {
	k.raw, k.loaded = raw, true
	if k.bound != nil {
		k.bound.changed(raw, k.v, k.hasV)
	}
}

// disconnected: the connection ended. The state stays (stale) until the next
// connection's _SET.
func (k *keyState) disconnected() { k.live, k.awaiting, k.resuming = false, false, false }

// resumable reports whether the key can be named in a _RESUME: a trustworthy state at a
// version of a known epoch. A key the client wrote since its last _SET is not: the write
// was applied locally at once, and the client cannot tell whether the server took it
// before the connection ended (a write lost on the way leaves the held state off the
// server's at any version), so such a key gets a _SET.
func (k *keyState) resumable() bool {
	return k.tree != nil && k.loaded && k.hasV && k.epoch != "" && !k.awaiting && !k.wrote
}
