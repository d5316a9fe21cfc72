package wspresence

import (
	"context"
	"time"
)

// Store keeps who is in each room, across nodes. Each entry carries its own expiry, so the
// entries of a node that stops refreshing them (it crashed) disappear. wsredis.Backend and
// wsmemory.Backend implement it.
//
// Implementations must be safe for concurrent use.
type Store interface {
	// SetPresence adds or refreshes entries of room (id → data), each expiring ttl from
	// now, and notifies the room's watchers when an entry is new or its data changed.
	SetPresence(ctx context.Context, room string, entries map[string][]byte, ttl time.Duration) error

	// RemovePresence removes entries of room and notifies the room's watchers.
	RemovePresence(ctx context.Context, room string, ids ...string) error

	// Presence returns room's unexpired entries.
	Presence(ctx context.Context, room string) (map[string][]byte, error)

	// WatchPresence calls changed, one call at a time, after entries of room were added,
	// changed or removed (and after any interruption of the watch), until stop is called.
	// Expiry is not announced: readers poll for it.
	WatchPresence(room string, changed func()) (stop func())
}
