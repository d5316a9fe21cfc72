package proto

// Verdict is what a `_PATCH` with a version does to a state held at another version
// (docs/protocol.md, "Versions", rule 2).
type Verdict int

// The verdicts of Classify.
const (
	Apply Verdict = iota // the next version, or a frame without a version: apply it
	Stale                // a version already held: a duplicate
	Gap                  // versions are missing in between: the state needs a fresh _SET
)

// Classify decides a patch's fate by its version v, for a client holding version local
// (hasLocal false: a state without a version). Frames without "v" (a ws-sync Python
// server) apply as they come. Both Go clients use it: wsclient repairs a gap, wssynctest
// records it.
func Classify(local uint64, hasLocal bool, v *uint64) Verdict {
	if v == nil || !hasLocal {
		return Apply
	}
	switch {
	case *v == local+1:
		return Apply
	case *v <= local:
		return Stale
	default:
		return Gap
	}
}
