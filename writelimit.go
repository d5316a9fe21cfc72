package wssync

import "fmt"

// DefaultMaxStateSize is the default of WithMaxStateSize: 4 MiB, the default outbound queue
// of a connection (WithSendQueue), so that the `_SET` of any state a client can build fits
// in it.
const DefaultMaxStateSize = 4 << 20

// WithMaxStateSize bounds what client writes can make of the key's state: a `_SET` or
// `_PATCH` from a client that grows the state is refused with CodeTooLarge when the state
// would then encode to more than n bytes (the JSON object a `_SET` carries; default
// DefaultMaxStateSize). Besides, one client write may grow the encoded state by at most the
// frame limit (WithReadLimit), and the copy ops of one patch may build at most as many
// bytes as the patch has, so that each frame adds at most its own weight in bytes, never a
// multiple of the state. Writes that do not grow the state are not refused by size, nor
// are the server's own changes.
func WithMaxStateSize(n int) RegisterOption {
	return func(r *registration) {
		if n > 0 {
			r.maxState = int64(n)
		}
	}
}

// sizeTally adds up what one client write does to the encoded size of the state.
type sizeTally struct {
	maxState    int64 // the state may not grow beyond this
	growthLimit int64 // the write may add this many bytes at most
	size        int64 // the state's size as published
	growth      int64 // bytes the write adds to the fields it changes
}

// newTally starts the tally of a client write that may add growth bytes. The caller holds
// pub, which guards the published snapshot.
func (o *object) newTally(growth int64) *sizeTally {
	n := int64(o.size())
	return &sizeTally{maxState: o.maxState, growthLimit: growth, size: n}
}

// add counts a field changed from an encoding of cur bytes to one of next bytes.
func (t *sizeTally) add(next, cur int) { t.growth += int64(next - cur) }

// check refuses a write that grows the state beyond its bounds.
func (t *sizeTally) check() error {
	if t.growth <= 0 {
		return nil
	}
	if t.growth > t.growthLimit {
		return tooLarge("", "the write would add %d bytes to the state; one write may add at most %d (the frame limit)", t.growth, t.growthLimit)
	}
	if after := t.size + t.growth; after > t.maxState {
		return tooLarge("", "the state would take %d bytes; client writes may make it at most %d", after, t.maxState)
	}
	return nil
}

// tooLarge is a CodeTooLarge refusal.
func tooLarge(path, format string, args ...any) *Error {
	return &Error{Code: CodeTooLarge, Path: path, Message: fmt.Sprintf(format, args...)}
}
