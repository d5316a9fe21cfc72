package wsredis

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// dropExpiredLua sets now to the time of Redis's clock in ms and removes the entries of
// room KEYS[1] (expiry) and KEYS[2] (data) that expired by then. Scripts that start with
// it may read TIME: Redis 7 replicates a script's effects, not the script.
const dropExpiredLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
	redis.call('ZREM', KEYS[1], id)
	redis.call('HDEL', KEYS[2], id)
end
`

// setPresenceScript adds or refreshes the entries ARGV[4], ARGV[5], … (id, data pairs),
// each expiring ARGV[1] ms from now, keeps both keys a minute past the last expiry, and
// publishes on channel ARGV[2] with ARGV[3] (PUBLISH or SPUBLISH) when an entry is new or
// its data changed.
var setPresenceScript = redis.NewScript(dropExpiredLua + `
local expiry = now + tonumber(ARGV[1])
local changed = false
for i = 4, #ARGV, 2 do
	local id, data = ARGV[i], ARGV[i + 1]
	if redis.call('ZADD', KEYS[1], expiry, id) == 1 then
		changed = true
	elseif redis.call('HGET', KEYS[2], id) ~= data then
		changed = true
	end
	redis.call('HSET', KEYS[2], id, data)
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local keep = tonumber(last[2]) - now + 60000
redis.call('PEXPIRE', KEYS[1], keep)
redis.call('PEXPIRE', KEYS[2], keep)
if changed then
	redis.call(ARGV[3], ARGV[2], 'set')
end
return changed and 1 or 0
`)

// removePresenceScript removes the entries ARGV[3], ARGV[4], … and publishes on channel
// ARGV[1] with ARGV[2] (PUBLISH or SPUBLISH) when one of them was there.
var removePresenceScript = redis.NewScript(`
local n = 0
for i = 3, #ARGV do
	n = n + redis.call('ZREM', KEYS[1], ARGV[i])
	redis.call('HDEL', KEYS[2], ARGV[i])
end
if n > 0 then
	redis.call(ARGV[2], ARGV[1], 'remove')
end
return n
`)

// presenceScript returns the unexpired entries as HGETALL does.
var presenceScript = redis.NewScript(dropExpiredLua + `
return redis.call('HGETALL', KEYS[2])
`)

// SetPresence adds or refreshes entries of room, each expiring ttl from now by Redis's
// clock (ttl must be positive), and publishes to the room's watchers when an entry is new
// or its data changed; a refresh with the same data publishes nothing. Expired entries of
// the room are dropped on the way. One script run.
func (b *Backend) SetPresence(ctx context.Context, room string, entries map[string][]byte, ttl time.Duration) error {
	ms, err := ttlMillis(ttl)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	args := make([]any, 0, 3+2*len(entries))
	args = append(args, ms, b.presenceChannel(room), b.publishCommand())
	for id, data := range entries {
		args = append(args, id, data)
	}
	err = setPresenceScript.Run(ctx, b.client, b.presenceKeys(room), args...).Err()
	if err != nil {
		return fmt.Errorf("wsredis: set presence in %q: %w", room, err)
	}
	return nil
}

// RemovePresence removes entries of room and publishes to the room's watchers when one of
// them was there. One script run.
func (b *Backend) RemovePresence(ctx context.Context, room string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	args := make([]any, 0, 2+len(ids))
	args = append(args, b.presenceChannel(room), b.publishCommand())
	for _, id := range ids {
		args = append(args, id)
	}
	if err := removePresenceScript.Run(ctx, b.client, b.presenceKeys(room), args...).Err(); err != nil {
		return fmt.Errorf("wsredis: remove presence in %q: %w", room, err)
	}
	return nil
}

// Presence returns room's unexpired entries, dropping the expired ones from Redis. One
// script run.
func (b *Backend) Presence(ctx context.Context, room string) (map[string][]byte, error) {
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	res, err := presenceScript.Run(ctx, b.client, b.presenceKeys(room)).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("wsredis: presence in %q: %w", room, err)
	}
	out := make(map[string][]byte, len(res)/2)
	for i := 0; i+1 < len(res); i += 2 {
		out[res[i]] = []byte(res[i+1])
	}
	return out, nil
}

// WatchPresence calls changed, from the backend's goroutine and one call at a time, after
// each notification that entries of room were added, changed or removed on any node, and
// after every interruption of the subscription once it is back. It blocks like Subscribe,
// and changed shares the goroutine of deliver functions: it must return quickly and must
// not call its own stop. stop ends the watch and waits for a running changed call to
// return; calling it more than once is harmless. With Options.ShardedPubSub the room's
// channel is a shard channel, like an object's (see Subscribe).
func (b *Backend) WatchPresence(room string, changed func()) (stop func()) {
	return b.subscribeFeed(b.presenceChannel(room), func(string, bool) { changed() })
}

func (b *Backend) presenceKeys(room string) []string {
	return []string{b.presenceExpiryKey(room), b.presenceDataKey(room)}
}
