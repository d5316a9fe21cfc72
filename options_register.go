package wssync

import "github.com/wssync/wssync/internal/patch"

// DefaultMaxStateSize is the default of WithMaxStateSize: 4 MiB, the default outbound queue
// of a connection (Limits.MaxQueuedBytes), so that the `_SET` of any state a client can build fits
// in it.
const DefaultMaxStateSize = 4 << 20

// WithMaxStateSize bounds what client writes can make of the key's state: a `_SET` or
// `_PATCH` from a client that grows the state is refused with CodeTooLarge when the state
// would then encode to more than n bytes (the JSON object a `_SET` carries; default
// DefaultMaxStateSize). Besides, one client write may grow the encoded state by at most the
// frame limit (Limits.ReadLimit), and the copy ops of one patch may build at most as many
// bytes as the patch has, so that each frame adds at most its own weight in bytes, never a
// multiple of the state. The state and growth bounds apply only to client writes that grow
// the state; the server's own changes are never refused.
func WithMaxStateSize(n int) RegisterOption {
	return func(r *registration) {
		if n > 0 {
			r.maxState = int64(n)
		}
	}
}

// RegisterOption changes how Register syncs an object.
type RegisterOption func(*registration)

type registration struct {
	naming   func(goName string) string
	computed []boundField
	noReplay bool
	diff     patch.Options
	backend  Backend
	maxState int64
	views    *viewConfig
	stale    StalePolicy

	runningTasks string

	historyPatches, historyBytes int
}

// WithNaming sets the naming rule for fields without a `sync` or `json` tag name (default:
// the Go name with its leading upper-case run lowered, "NoteCount" → "noteCount",
// "ID" → "id", "URLPath" → "urlPath"). Tagged names are used as they are.
func WithNaming(rule func(goName string) string) RegisterOption {
	return func(r *registration) { r.naming = rule }
}

// WithComputed adds a read-only value computed at every sync (ws-sync's @property):
// value is called with the object's lock held (the read lock for a publish, the write
// lock while a client write or a catch-up reads the current values) and its result
// marshalled as the field name. It must not lock the object.
func WithComputed(name string, value func() any) RegisterOption {
	return func(r *registration) {
		r.computed = append(r.computed, boundField{wire: name, compute: value})
	}
}

// WithoutReplay opts the key out of the _SET sent on every connect; the client asks for
// the state with _GET:KEY when it wants it. Until then it receives no patches for the key.
func WithoutReplay() RegisterOption {
	return func(r *registration) { r.noReplay = true }
}

// WithRunningTasks adds a read-only field name listing the object's running tasks, sorted
// (ws-sync's expose_running_tasks), e.g. WithRunningTasks("runningTasks").
func WithRunningTasks(name string) RegisterOption {
	return func(r *registration) { r.runningTasks = name }
}

// WithHistory bounds the key's history: the latest published patches kept so that a
// client that reconnects with the version it holds gets only the patches it missed
// (docs/protocol.md, "Resume"), at most patches of them and at most bytes bytes of their
// frames, whichever is reached first (defaults DefaultHistoryPatches, 64, and
// DefaultHistoryBytes, 256 KiB; the frames are those already built for the subscribers,
// so the history costs no copy). A patch larger than bytes empties the history. Either
// bound 0 turns the history off: every resume of the key gets a `_SET`. An object with
// views (WithViews) keeps no history whatever this says: each view's patches differ.
//
// For a shared object with a backend, a client whose version is older than this history
// reaches is served from the backend's own log of the key (Backend.Load with since), so it
// resumes also on a node that started after it left.
func WithHistory(patches, bytes int) RegisterOption {
	return func(r *registration) {
		r.historyPatches, r.historyBytes = max(patches, 0), max(bytes, 0)
	}
}

// WithMaxArrayEdits bounds the array diff: an array changed by more than n inserted and
// removed elements is sent as one replace of the whole array (default 64).
func WithMaxArrayEdits(n int) RegisterOption {
	return func(r *registration) { r.diff.MaxEditDistance = n }
}

// newRegistration applies opts over the defaults.
func newRegistration(opts []RegisterOption) registration {
	reg := registration{naming: lowerCamel, maxState: DefaultMaxStateSize,
		historyPatches: DefaultHistoryPatches, historyBytes: DefaultHistoryBytes}
	for _, opt := range opts {
		opt(&reg)
	}
	return reg
}

// WithBackend attaches a shared object (NewShared) to a Backend, so that every process
// that creates the same key with the same backend holds the same object: a change made in
// any of them reaches the subscribers of all, in one order, under versions global to the
// key. At NewShared the object takes the backend's state when it has one, and otherwise
// stores its own as the key's first version, which the backend chooses (wsmemory: 1;
// wsredis: the time of Redis's clock in microseconds, so versions are not reused after
// Redis lost its data): a shared object's version jumps from 0 to that number at NewShared.
//
// While the backend is unreachable the object keeps serving its local subscribers
// (versions then count locally); once it is back, the object learns whether the commit
// that failed landed after all (Backend.Outcome), reloads, makes every edit published
// meanwhile again on the backend's state, as the edit it was (an Update's function, a
// client's ops, a Sync's patch), commits each, and sends every local subscriber a _SET.
// An edit that cannot be kept is counted (BackendStatus.Lost), logged and reported to
// its writer; see docs/scale-out.md, "Faults". Register (an object of one session) does
// not take a backend; see WithSessionStore for sessions that move between processes.
//
// Computed values (WithComputed, WithRunningTasks) are published like fields, so on an
// object with a backend they should depend on the synced state only: a value that differs
// between nodes (the tasks running on this node, say) makes each node commit its own.
// An object with a backend runs one goroutine, ended by Unregister.
func WithBackend(b Backend) RegisterOption {
	return func(r *registration) { r.backend = b }
}
