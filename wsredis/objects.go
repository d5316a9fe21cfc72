package wsredis

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
)

// commitScript makes ARGV[3] the next version of an object whose version is ARGV[1],
// keeps its patch in the log and publishes it (with ARGV[10], PUBLISH or SPUBLISH, on
// channel ARGV[6]). It returns {1, version set} on success (or
// when the commit's ID, ARGV[7], already made that version), {0, stored version} when the
// stored version is another or the ID was fenced (outcomeScript). Versions are decimal
// strings, compared as strings (go-redis writes a uint64 argument in decimal).
//
// The next version is ARGV[2] (ARGV[1]+1), except when the commit creates the object
// (ARGV[1] = 0 and the key does not exist): then it is the time of Redis's clock in
// microseconds since the Unix epoch, so that an object created again after Redis lost its
// data (a restart without persistence) never reuses a version of its earlier incarnation.
// The number is built from TIME's two parts as strings, so it is exact. The creating
// commit also stores that first version (f) and ARGV[8], the version of the earlier
// incarnation its state derives from (o), and starts the ID set afresh.
//
// The ID set (KEYS[3]) holds the IDs of the object's latest ARGV[9] commits (at least),
// each scored with the version it made, and the IDs fenced by Outcome ("x:" + ID, scored
// with the version at the time). Beyond ARGV[9] and an eighth, the lowest are popped down
// to ARGV[9], and t keeps the highest version popped, so Outcome knows when it can no
// longer tell.
//
// The log holds consecutive versions ending at the current one, each a patch from a version
// of the object's present incarnation: the commit that creates the object deletes the log
// and does not enter its patch, which leads from nothing (Load sends the state to a caller
// that has nothing) and would otherwise follow a version of an earlier incarnation one
// below the new first version. With no log (ARGV[5] = 0) every commit deletes it.
var commitScript = redis.NewScript(`
local done = redis.call('ZSCORE', KEYS[3], ARGV[7])
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if done then
	return {1, string.format('%d', tonumber(done))}
end
if v ~= ARGV[1] or redis.call('ZSCORE', KEYS[3], 'x:' .. ARGV[7]) then
	return {0, v}
end
local nv = ARGV[2]
if v == '0' then
	local t = redis.call('TIME')
	nv = ` + timeVersion + `
	redis.call('DEL', KEYS[3])
	redis.call('HSET', KEYS[1], 'f', nv, 'o', ARGV[8], 't', '0')
end
redis.call('HSET', KEYS[1], 'v', nv, 's', ARGV[3])
redis.call('ZADD', KEYS[3], nv, ARGV[7])
` + trimIDs("ARGV[9]") + `
local msg = nv .. ' ' .. ARGV[4]
local n = tonumber(ARGV[5])
if v == '0' or n == 0 then
	redis.call('DEL', KEYS[2])
elseif n > 0 then
	redis.call('LPUSH', KEYS[2], msg)
	redis.call('LTRIM', KEYS[2], 0, n - 1)
end
redis.call(ARGV[10], ARGV[6], msg)
return {1, nv}
`)

// publishCommand is the command with which commitScript publishes a change, and the
// presence scripts a room's: SPUBLISH with Options.ShardedPubSub, so that the message
// stays on the shard that owns the object's or room's slot (the channel shares its hash
// tag), else PUBLISH.
func (b *Backend) publishCommand() string {
	if b.opts.ShardedPubSub {
		return "SPUBLISH"
	}
	return "PUBLISH"
}

// trimIDs returns the Lua that keeps the ID set KEYS[3] at most limit (an ARGV) long plus
// an eighth, popping the lowest down to limit in one call once it is longer, and recording
// in the state hash (t) the highest version it popped.
func trimIDs(limit string) string {
	return `
local n = redis.call('ZCARD', KEYS[3]) - tonumber(` + limit + `)
if n > math.floor(tonumber(` + limit + `) / 8) then
	local old = redis.call('ZPOPMIN', KEYS[3], n)
	local top = tonumber(old[#old])
	if top > tonumber(redis.call('HGET', KEYS[1], 't') or '0') then
		redis.call('HSET', KEYS[1], 't', string.format('%d', top))
	end
end
`
}

// outcomeScript reports whether the commit with ID ARGV[1], proposed from version ARGV[2],
// landed: {1, version} when it did; otherwise it fences the ID (so the commit, if Redis
// still runs it, changes nothing) and returns {0} when it did not land in the present
// incarnation and {2} when the set no longer holds the IDs of every commit after ARGV[2].
// ARGV[3] bounds the set as in commitScript; KEYS are commitScript's state and ID set.
var outcomeScript = redis.NewScript(`
local done = redis.call('ZSCORE', KEYS[3], ARGV[1])
if done then
	return {1, string.format('%d', tonumber(done))}
end
local v = redis.call('HGET', KEYS[1], 'v')
redis.call('ZADD', KEYS[3], v or '0', 'x:' .. ARGV[1])
if not v then
	return {0}
end
` + trimIDs("ARGV[3]") + `
local base = tonumber(ARGV[2])
if v ~= ARGV[2] and tonumber(redis.call('HGET', KEYS[1], 'f') or '0') <= base and tonumber(redis.call('HGET', KEYS[1], 't') or '0') > base then
	return {2}
end
return {0}
`)

// timeVersion is the Lua expression of the version that commitScript gives an object it
// creates: TIME's reply t, seconds and microseconds, as microseconds since the Unix epoch.
// It pads the microseconds to six digits and joins the two decimal strings, so no number
// is rounded or formatted.
const timeVersion = `t[1] .. string.rep('0', 6 - #t[2]) .. t[2]`

// loadScript returns {version} when the object is at version ARGV[1] or was never
// committed (version "0"), {version, {log entries, newest first}} when the log holds every
// patch after ARGV[1] (ARGV[2] is ARGV[1]+1), and {version, state} otherwise.
//
// The log holds consecutive versions ending at the current one, so the patches after
// ARGV[1] are its first cur-since entries, found only when that many are there and the
// last of them is version ARGV[2]; as it holds no patch from a version below the object's
// first (see commitScript), a version of an earlier incarnation never matches. Versions are
// below 2^53, exact as Lua numbers, for centuries; the check of the entry's version keeps
// the answer right even if one were not, and the length of the log bounds the LRANGE.
var loadScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then
	return {'0'}
end
if v == ARGV[1] then
	return {v}
end
local cur, since = tonumber(v), tonumber(ARGV[1])
if since > 0 and since < cur then
	local n = cur - since
	if n <= redis.call('LLEN', KEYS[2]) then
		local log = redis.call('LRANGE', KEYS[2], 0, n - 1)
		if #log == n and string.sub(log[n], 1, #ARGV[2] + 1) == ARGV[2] .. ' ' then
			return {v, log}
		end
	end
end
local s = redis.call('HMGET', KEYS[1], 's', 'f', 'o')
return {v, s[1], s[2] or '0', s[3] or '0'}
`)

// Load returns the state of key with one script run: Snapshot{} for a key never
// committed; Snapshot{Version: since}, with neither State nor Patches, when key is still at
// version since; the patches to since+1 … Version when since > 0 and the log still holds
// them all; the whole state otherwise. It blocks for one round trip to Redis.
func (b *Backend) Load(ctx context.Context, key string, since uint64) (wssync.Snapshot, error) {
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	res, err := loadScript.Run(ctx, b.client, []string{b.stateKey(key), b.logKey(key)},
		since, since+1).Slice()
	if err != nil {
		return wssync.Snapshot{}, fmt.Errorf("wsredis: load %q: %w", key, err)
	}
	snap, err := parseLoad(res, since)
	if err != nil {
		return wssync.Snapshot{}, fmt.Errorf("wsredis: load %q: %w", key, err)
	}
	return snap, nil
}

func parseLoad(res []any, since uint64) (wssync.Snapshot, error) {
	if len(res) == 0 {
		return wssync.Snapshot{}, fmt.Errorf("empty reply")
	}
	v, err := parseVersion(res[0])
	if err != nil {
		return wssync.Snapshot{}, err
	}
	if v == 0 || len(res) == 1 {
		return wssync.Snapshot{Version: v}, nil
	}
	switch x := res[1].(type) {
	case string:
		snap := wssync.Snapshot{Version: v, State: []byte(x)}
		if len(res) == 4 {
			snap.Epoch, _ = parseVersion(res[2])
			snap.Origin, _ = parseVersion(res[3])
		}
		return snap, nil
	case []any:
		patches := make([][]byte, len(x))
		for i, e := range x {
			s, _ := e.(string)
			ev, patch, ok := parseMessage(s)
			want := v - uint64(i)
			if !ok || ev != want {
				return wssync.Snapshot{}, fmt.Errorf("log entry %d is not version %d", i, want)
			}
			patches[len(x)-1-i] = patch // the log is newest first
		}
		if uint64(len(patches)) != v-since {
			return wssync.Snapshot{}, fmt.Errorf("%d patches from version %d to %d", len(patches), since, v)
		}
		return wssync.Snapshot{Version: v, Patches: patches}, nil
	default:
		return wssync.Snapshot{}, fmt.Errorf("unexpected reply %T", res[1])
	}
}

func parseVersion(x any) (uint64, error) {
	switch x := x.(type) {
	case string:
		return strconv.ParseUint(x, 10, 64)
	case int64:
		if x >= 0 {
			return uint64(x), nil
		}
	}
	return 0, fmt.Errorf("bad version %v", x)
}

// parseMessage splits "<version> <patch>", the form of log entries and of messages on an
// object's channel.
func parseMessage(s string) (version uint64, patch []byte, ok bool) {
	vs, p, ok := strings.Cut(s, " ")
	if !ok {
		return 0, nil, false
	}
	v, err := strconv.ParseUint(vs, 10, 64)
	if err != nil || v == 0 {
		return 0, nil, false
	}
	return v, []byte(p), true
}

// Commit makes p.State the next version of key and publishes p.Patch, or returns an error
// wrapping wssync.ErrVersionConflict (the message says the stored version) when key is not
// at version p.Base or p.ID was fenced by Outcome. The next version is p.Base+1, except
// when the commit creates key (base 0): then it is the time of Redis's clock in
// microseconds since the Unix epoch (about 1.8e15 in 2027), above every version that an
// earlier incarnation of the key reached unless that one made more than a commit per
// microsecond, so that no version is reused after Redis lost its data. A Load tells the
// caller which version it is. A commit whose ID is among the key's last CommitIDs changes
// nothing and returns nil. Commit is one script run: the check, the write, the log and the
// PUBLISH happen atomically. It blocks for one round trip to Redis.
func (b *Backend) Commit(ctx context.Context, key string, p wssync.Proposal) error {
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	id := p.ID
	if id == "" {
		id = rand.Text()
	}
	res, err := commitScript.Run(ctx, b.client, []string{b.stateKey(key), b.logKey(key), b.idsKey(key)},
		p.Base,
		p.Base+1,
		p.State,
		p.Patch,
		b.opts.LogLength,
		b.changesChannel(key),
		id,
		p.Origin,
		b.opts.CommitIDs,
		b.publishCommand(),
	).Slice()
	if err != nil {
		return fmt.Errorf("wsredis: commit %q: %w", key, err)
	}
	if len(res) != 2 {
		return fmt.Errorf("wsredis: commit %q: unexpected reply %v", key, res)
	}
	ok, _ := res[0].(int64)
	v, err := parseVersion(res[1])
	if err != nil {
		return fmt.Errorf("wsredis: commit %q: %w", key, err)
	}
	if ok != 1 {
		return fmt.Errorf("%w: %q is at version %d, not %d (or commit %s was fenced)", wssync.ErrVersionConflict, key, v, p.Base, id)
	}
	return nil
}

// Outcome implements wssync.Backend with one script run: the version that the commit with
// id made, or 0 after fencing id when it did not land, or an error wrapping
// wssync.ErrOutcomeUnknown when key made more than CommitIDs commits since base. It blocks
// for one round trip to Redis.
func (b *Backend) Outcome(ctx context.Context, key, id string, base uint64) (uint64, error) {
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	res, err := outcomeScript.Run(ctx, b.client, []string{b.stateKey(key), b.logKey(key), b.idsKey(key)},
		id, base, b.opts.CommitIDs).Slice()
	if err != nil {
		return 0, fmt.Errorf("wsredis: outcome %q: %w", key, err)
	}
	code, _ := res[0].(int64)
	switch {
	case code == 1 && len(res) == 2:
		v, err := parseVersion(res[1])
		if err != nil {
			return 0, fmt.Errorf("wsredis: outcome %q: %w", key, err)
		}
		return v, nil
	case code == 2:
		return 0, fmt.Errorf("%w: %q made more than %d commits since version %d", wssync.ErrOutcomeUnknown, key, b.opts.CommitIDs, base)
	}
	return 0, nil
}
