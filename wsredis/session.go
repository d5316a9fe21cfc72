package wsredis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wssync/wssync"
)

// objectField prefixes an object's field in a session hash, so that no object key can
// collide with the fields _user and _gen.
const objectField = "o:"

// saveSessionScript stores ARGV[3] as field ARGV[2] of a session bound to user ARGV[1]
// (binding it when it is not), bumps _gen, sets the expiry to ARGV[4] ms and returns the
// new generation; or returns -1, changing nothing, when the session is bound to another
// user.
var saveSessionScript = redis.NewScript(`
local u = redis.call('HGET', KEYS[1], '_user')
if u and u ~= ARGV[1] then
	return -1
end
redis.call('HSET', KEYS[1], '_user', ARGV[1], ARGV[2], ARGV[3])
local g = redis.call('HINCRBY', KEYS[1], '_gen', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return g
`)

// bindSessionScript binds the session to user ARGV[1] unless it is bound (HSETNX of
// _user), and returns {owner, generation}: when the owner is ARGV[1], after setting the
// expiry to ARGV[2] ms; when it is another user, with generation 0 and nothing changed.
var bindSessionScript = redis.NewScript(`
redis.call('HSETNX', KEYS[1], '_user', ARGV[1])
local u = redis.call('HGET', KEYS[1], '_user')
if u ~= ARGV[1] then
	return {u, 0}
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {u, tonumber(redis.call('HGET', KEYS[1], '_gen') or '0')}
`)

// touchSessionScript sets the expiry to ARGV[1] ms and returns _gen, or 0 when the
// session has no record.
var touchSessionScript = redis.NewScript(`
if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then
	return 0
end
return tonumber(redis.call('HGET', KEYS[1], '_gen') or '0')
`)

// errTTL is the error of session and presence writes with a TTL that is not positive.
var errTTL = errors.New("wsredis: ttl must be positive")

// ttlMillis returns ttl in whole milliseconds, at least 1.
func ttlMillis(ttl time.Duration) (int64, error) {
	if ttl <= 0 {
		return 0, errTTL
	}
	return max(ttl.Milliseconds(), 1), nil
}

// BindSession binds session id to user unless it is bound already (an HSETNX of the
// record's _user field, so the binding is the record), and returns the user it is bound
// to. When that is user, the record expires ttl from now (ttl must be positive) and its
// generation is returned (0 before any SaveSession); otherwise nothing changes. One script
// run.
func (b *Backend) BindSession(ctx context.Context, id, user string, ttl time.Duration) (string, uint64, error) {
	ms, err := ttlMillis(ttl)
	if err != nil {
		return "", 0, err
	}
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	res, err := bindSessionScript.Run(ctx, b.client, []string{b.sessionKey(id)}, user, ms).Slice()
	if err != nil {
		return "", 0, fmt.Errorf("wsredis: bind session %q: %w", id, err)
	}
	var owner string
	var gen int64
	ok := len(res) == 2
	if ok {
		owner, ok = res[0].(string)
	}
	if ok {
		gen, ok = res[1].(int64)
	}
	if !ok || gen < 0 {
		return "", 0, fmt.Errorf("wsredis: bind session %q: unexpected reply %v", id, res)
	}
	return owner, uint64(gen), nil
}

// SaveSession stores obj as key of session id, owned by user, bumps and returns the
// session's generation, and makes the whole record expire ttl from now (ttl must be
// positive; it is rounded down to milliseconds, at least 1). A session not bound yet is
// bound to user; one bound to another user is refused with wssync.ErrForeignSession and
// left as it is. One script run.
func (b *Backend) SaveSession(ctx context.Context, id, user, key string, obj wssync.StoredObject, ttl time.Duration) (uint64, error) {
	ms, err := ttlMillis(ttl)
	if err != nil {
		return 0, err
	}
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	value := make([]byte, 0, 21+len(obj.State))
	value = strconv.AppendUint(value, obj.Version, 10)
	value = append(value, ' ')
	value = append(value, obj.State...)
	gen, err := saveSessionScript.Run(ctx, b.client, []string{b.sessionKey(id)},
		user, objectField+key, value, ms).Int64()
	if err != nil {
		return 0, fmt.Errorf("wsredis: save session %q: %w", id, err)
	}
	if gen < 0 {
		return 0, fmt.Errorf("wsredis: save session %q: %w", id, wssync.ErrForeignSession)
	}
	return uint64(gen), nil
}

// LoadSession returns the record of session id (one HGETALL); ok is false when there is
// none, or it expired.
func (b *Backend) LoadSession(ctx context.Context, id string) (wssync.SessionRecord, bool, error) {
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	fields, err := b.client.HGetAll(ctx, b.sessionKey(id)).Result()
	if err != nil {
		return wssync.SessionRecord{}, false, fmt.Errorf("wsredis: load session %q: %w", id, err)
	}
	if len(fields) == 0 {
		return wssync.SessionRecord{}, false, nil
	}
	rec := wssync.SessionRecord{Objects: make(map[string]wssync.StoredObject)}
	for f, v := range fields {
		switch {
		case f == "_user":
			rec.User = v
		case f == "_gen":
			rec.Generation, err = strconv.ParseUint(v, 10, 64)
			if err != nil {
				return wssync.SessionRecord{}, false, fmt.Errorf("wsredis: load session %q: generation %q", id, v)
			}
		case strings.HasPrefix(f, objectField):
			vs, state, ok := strings.Cut(v, " ")
			version, err := strconv.ParseUint(vs, 10, 64)
			if !ok || err != nil {
				return wssync.SessionRecord{}, false, fmt.Errorf("wsredis: load session %q: object %q is not \"<version> <state>\"", id, f[len(objectField):])
			}
			rec.Objects[f[len(objectField):]] = wssync.StoredObject{Version: version, State: []byte(state)}
		}
	}
	return rec, true, nil
}

// TouchSession makes the record of session id expire ttl from now (ttl must be positive)
// and returns its generation, or 0 when there is no record. One script run.
func (b *Backend) TouchSession(ctx context.Context, id string, ttl time.Duration) (uint64, error) {
	ms, err := ttlMillis(ttl)
	if err != nil {
		return 0, err
	}
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	gen, err := touchSessionScript.Run(ctx, b.client, []string{b.sessionKey(id)}, ms).Int64()
	if err != nil {
		return 0, fmt.Errorf("wsredis: touch session %q: %w", id, err)
	}
	return uint64(gen), nil
}

// ClaimSession announces that c.Claimant (a node) now serves session c.ID for c.User,
// as "<length of ID> <ID><length of User> <User><Claimant>" (see the package
// documentation). A Backend whose subscription is broken at the time misses the claim
// (delivery is at most once).
//
// Without Options.ShardedPubSub the claim goes to the one claims channel, which every
// WatchClaims callback of every Backend with the same Prefix receives, the claimant's own
// included. The PUBLISH runs in a script on the Redis node that owns the session's key
// (routedPublish), so that every claim of one session is published by one server: its
// subscribers, and on a Redis Cluster the other nodes it relays the message to over one
// connection each, get the claims of a session in the order that server ran them. A plain
// PUBLISH would go to whichever cluster node the client picked, and two claims of one
// session published on two nodes reach subscribers in different orders. Claims of
// different sessions have no common order on a cluster, and need none.
//
// With Options.ShardedPubSub the claim is one SPUBLISH on the session's own shard channel
// (ClaimsBySession), which only the WatchSessionClaims callbacks of that session hear: on a
// Redis Cluster it stays on the primary that owns the session, which orders its claims.
func (b *Backend) ClaimSession(ctx context.Context, c wssync.SessionClaim) error {
	ctx, cancel := b.opContext(ctx)
	defer cancel()
	var err error
	if b.opts.ShardedPubSub {
		err = b.client.SPublish(ctx, b.sessionClaimsChannel(c.ID), claimMessage(c)).Err()
	} else {
		err = routedPublish.Run(ctx, b.client, []string{b.sessionKey(c.ID)}, b.claimsChannel(), claimMessage(c)).Err()
	}
	if err != nil {
		return fmt.Errorf("wsredis: claim session %q: %w", c.ID, err)
	}
	return nil
}

// WatchClaims calls claimed with every claim announced by ClaimSession on any node from
// now on, from the backend's goroutine and one call at a time, until stop is called.
// claimed shares that goroutine with deliver functions: it must return quickly and must not
// call its own stop. With Options.ShardedPubSub claims go to each session's channel
// instead (WatchSessionClaims), and WatchClaims hears none: a wssync.Manager does not call
// it then, and a wrapper of the Backend that hides ClaimsBySession from the Manager is
// reported in the log.
//
// WatchClaims blocks like Subscribe until Redis confirms the subscription (at most
// OpTimeout), so a claim published after it returns is delivered. Claims published while
// the subscription is broken are lost: nothing is redelivered, and the watch resumes once
// the backend is subscribed again. A malformed message on the channel is logged and
// skipped. stop ends the watch and waits for a running claimed call to return; calling it
// more than once is harmless.
func (b *Backend) WatchClaims(claimed func(wssync.SessionClaim)) (stop func()) {
	if b.opts.ShardedPubSub {
		b.log.Warn("wsredis: WatchClaims on a Backend with ShardedPubSub hears no claim: they go to each session's channel (WatchSessionClaims); does a wrapper of the Backend hide ClaimsBySession?")
	}
	return b.hub.subscribe(b.claimsChannel(), b.claimHandler(b.claimsChannel(), claimed))
}

// ClaimsBySession implements wssync.ClaimsBySession: with Options.ShardedPubSub each claim
// goes to its session's shard channel, and a node hears only the sessions it watches.
func (b *Backend) ClaimsBySession() bool { return b.opts.ShardedPubSub }

// WatchSessionClaims implements wssync.ClaimsBySession: it calls claimed with every claim
// of session id announced from now on, one call at a time, until stop is called. With
// Options.ShardedPubSub it subscribes the session's shard channel, on the connection of the
// primary that owns it (see Sharded pub/sub in the package documentation); without, it
// subscribes the one claims channel and skips the claims of other sessions, which costs
// each watch a call per claim of any session. It blocks like Subscribe until Redis confirms
// the subscription (at most OpTimeout); claims published while it is broken are lost.
func (b *Backend) WatchSessionClaims(id string, claimed func(wssync.SessionClaim)) (stop func()) {
	only := func(c wssync.SessionClaim) {
		if c.ID == id {
			claimed(c)
		}
	}
	if !b.opts.ShardedPubSub {
		return b.hub.subscribe(b.claimsChannel(), b.claimHandler(b.claimsChannel(), only))
	}
	ch := b.sessionClaimsChannel(id)
	return b.subscribeFeed(ch, b.claimHandler(ch, only))
}

// claimHandler decodes the claims on channel for claimed, skipping a lost notice (nothing
// is redelivered) and logging a malformed message.
func (b *Backend) claimHandler(channel string, claimed func(wssync.SessionClaim)) func(payload string, lost bool) {
	return func(payload string, lost bool) {
		if lost {
			return
		}
		c, ok := parseClaim(payload)
		if !ok {
			b.log.Warn("wsredis: malformed message on a claims channel; skipped", "channel", channel, "message", payload)
			return
		}
		claimed(c)
	}
}

// claimMessage encodes a claim as "<byte length of ID> <ID><byte length of User>
// <User><Claimant>", which keeps any bytes in any of the strings apart.
func claimMessage(c wssync.SessionClaim) string {
	return strconv.Itoa(len(c.ID)) + " " + c.ID + strconv.Itoa(len(c.User)) + " " + c.User + c.Claimant
}

// parseClaim decodes a claimMessage.
func parseClaim(payload string) (c wssync.SessionClaim, ok bool) {
	c.ID, payload, ok = cutCounted(payload)
	if ok {
		c.User, c.Claimant, ok = cutCounted(payload)
	}
	return c, ok
}

// cutCounted splits "<byte length n> <n bytes>rest" into the n bytes and rest.
func cutCounted(s string) (head, rest string, ok bool) {
	ls, rest, ok := strings.Cut(s, " ")
	if !ok {
		return "", "", false
	}
	n, err := strconv.ParseUint(ls, 10, 64)
	if err != nil || n > uint64(len(rest)) {
		return "", "", false
	}
	return rest[:n], rest[n:], true
}
