package wssync

import (
	"context"
	"errors"
	"time"
)

// Backend carries shared objects across processes: it holds the authoritative state of
// each key, orders every change to it under one global version, and tells every process
// what changed. A shared object is attached to a backend with WithBackend; without one, an
// object lives in its process only.
//
// The package wsredis (github.com/wssync/wssync/wsredis) implements Backend and
// SessionStore on Redis; the package wsmemory implements them in memory, for one process
// that runs several nodes (tests, or a development setup). Both also implement the
// presence store of the package wspresence.
//
// Implementations must be safe for concurrent use.
type Backend interface {
	// Load returns the state of key. When since > 0 is a version of key as the backend
	// holds it now, and the backend still holds every patch after it, Load may return those
	// instead of the whole state (Snapshot.Patches); for any other since (0, or a version
	// the key had before the backend lost its data) it returns the whole state. A key never
	// committed, or lost with the backend's data, has version 0 and no state.
	Load(ctx context.Context, key string, since uint64) (Snapshot, error)

	// Commit makes p.State the next version of key, if and only if the stored version is
	// p.Base, and then publishes p.Patch (the RFC 6902 patch from version p.Base) to the
	// key's subscribers. A stored version other than p.Base is ErrVersionConflict, and
	// nothing changes. Any other error means the outcome is unknown to the caller, who
	// learns it with Outcome.
	//
	// The next version is p.Base+1, except for base 0: then Commit creates the key at a
	// version the backend chooses, greater than 0, which the caller learns with a Load. A
	// backend that can lose its data (a Redis restarted without persistence) must choose
	// one above every version it ever handed out for that key, so no version is used twice:
	// a node that still holds a version from before never gets patches of the new key for
	// it, and a commit based on it is a conflict. So a key's versions need not start at 1:
	// wsredis starts each key at the time of Redis's clock in microseconds, wsmemory at 1
	// (and, after it lost its data, above every version it handed out).
	//
	// Commits are idempotent: the backend remembers the ID of each of the key's recent
	// commits (at least the last 1024) with the version it made, and a Commit whose ID it
	// holds changes nothing and returns nil. A Commit whose ID was fenced by Outcome
	// changes nothing and returns ErrVersionConflict.
	Commit(ctx context.Context, key string, p Proposal) error

	// Outcome reports what became of the commit with id, proposed from version base of
	// key, whose Commit returned an error other than ErrVersionConflict: the version it
	// made when it landed, or 0 when it did not land in the key's present incarnation.
	// Before answering 0 it fences id, so the commit cannot land later (a Redis that was
	// stopped runs the commands queued meanwhile when it resumes). When the backend no
	// longer remembers enough to tell (the key made more commits since base than it keeps
	// IDs of), Outcome returns ErrOutcomeUnknown. Any other error: try again later.
	Outcome(ctx context.Context, key, id string, base uint64) (version uint64, err error)

	// Subscribe calls deliver with every change committed to key from now on, one call
	// at a time, until stop is called. Deliveries are at most once: after any interruption
	// the backend delivers a Change with Lost set once it is subscribed again, so the
	// subscriber reloads. stop waits for a running deliver call to return.
	Subscribe(key string, deliver func(Change)) (stop func())
}

// Snapshot is a key's state as Backend.Load returns it: either the whole state (State)
// or the patches that lead to Version from the version the caller had (Patches).
type Snapshot struct {
	Version uint64
	State   []byte   // the whole state at Version; nil when Patches is set or Version is 0
	Patches [][]byte // the patches to versions since+1 … Version, in order

	// Set with State: Epoch is the first version of the key's present incarnation (the
	// version its creating commit made), Origin the Proposal.Origin of that commit. A
	// caller at a version below Epoch held an earlier incarnation, lost with the backend's
	// data, of which the present one kept everything up to version Origin.
	Epoch, Origin uint64
}

// Proposal is one change offered to Backend.Commit.
type Proposal struct {
	Base  uint64 // the version State derives from; 0 creates the key
	State []byte // the whole state after the change
	Patch []byte // the RFC 6902 patch from version Base to State
	ID    string // unique to this change (at most 64 bytes); a retry of the change reuses it

	// Origin is, for a commit that creates the key (Base 0) again after the backend lost
	// its data, the version of the earlier incarnation that State derives from; else 0.
	Origin uint64
}

// Change is one committed change as a Backend delivers it.
type Change struct {
	Version uint64 // the version the patch leads to
	Patch   []byte // RFC 6902 patch from Version-1; for the commit that created the key, the patch given to Commit with base 0
	Lost    bool   // deliveries may have been missed: reload; Version and Patch are unset
}

// ErrVersionConflict is the error of Backend.Commit when another node committed first.
var ErrVersionConflict = errors.New("wssync: version conflict")

// ErrOutcomeUnknown is the error of Backend.Outcome when the backend no longer remembers
// whether a commit landed.
var ErrOutcomeUnknown = errors.New("wssync: commit outcome unknown")

// SessionStore keeps the synced state of sessions' own objects, so a session picked up by
// another node (its client reconnected through the load balancer to another process)
// continues where it was, and binds each session id to the user it belongs to, on every
// node. Each record expires after the TTL given with the last write.
//
// A session id is bound to a user by the first BindSession or SaveSession that names it,
// and stays bound to that user for as long as its record lives: a record and its binding
// are one, created by the binding (with no objects and generation 0), extended by every
// BindSession, SaveSession and TouchSession of its user, gone when it expires.
type SessionStore interface {
	// BindSession binds session id to user unless it is bound already, atomically, and
	// returns the user it is bound to. When that is user, the record's expiry is extended
	// to ttl from now and generation is the record's (0 before any SaveSession); when it
	// is another user, nothing changes and generation is 0.
	BindSession(ctx context.Context, id, user string, ttl time.Duration) (owner string, generation uint64, err error)

	// SaveSession stores obj as key of session id, owned by user, and bumps the
	// session's generation, which it returns. The whole record expires after ttl. A
	// session not bound yet is bound to user; one bound to another user is refused with
	// ErrForeignSession (wrapped or not), and nothing changes.
	SaveSession(ctx context.Context, id, user, key string, obj StoredObject, ttl time.Duration) (generation uint64, err error)

	// LoadSession returns the record of session id; ok is false when there is none (the
	// session is not bound).
	LoadSession(ctx context.Context, id string) (rec SessionRecord, ok bool, err error)

	// TouchSession extends the record's expiry to ttl from now and returns its
	// generation (0 when there is no record, or no SaveSession yet).
	TouchSession(ctx context.Context, id string, ttl time.Duration) (generation uint64, err error)

	// ClaimSession announces that c.Claimant (a node) now serves session c.ID for user
	// c.User: every WatchClaims callback of every node is called with it, the claimant's
	// own included (or, on a store that announces claims per session, every
	// WatchSessionClaims callback of c.ID: see ClaimsBySession). Delivery is at most once, like a Backend's changes, and in one order:
	// every callback sees the claims it gets in the same order (a Manager takes a foreign
	// claim that comes before its own claim back as stale). Claimant is opaque to the
	// store.
	ClaimSession(ctx context.Context, c SessionClaim) error

	// WatchClaims calls claimed, one call at a time, with every claim announced from now
	// on, until stop is called. stop waits for a running call to return.
	WatchClaims(claimed func(SessionClaim)) (stop func())
}

// SessionClaim is a node's announcement that it serves a session: the session id, the
// user it serves it for, and the node.
type SessionClaim struct {
	ID       string // the session id
	User     string // the user the session is served for
	Claimant string // the node that serves it (a Manager adds the claim's number)
}

// ErrForeignSession is the error of SessionStore.SaveSession when the session id is bound
// to another user.
var ErrForeignSession = errors.New("wssync: the session belongs to another identity")

// SessionRecord is a session as a SessionStore holds it.
type SessionRecord struct {
	User       string
	Generation uint64 // bumped by every SaveSession
	Objects    map[string]StoredObject
}

// StoredObject is one object's published state and version.
type StoredObject struct {
	Version uint64
	State   []byte
}
