package wsredis

import "strings"

// Key layout, with the default prefix "wssync:" (see the package documentation):
//
//	wssync:{KEY}:state              hash: v (version), s (state), f (first version), o (origin), t (highest version of a forgotten ID)
//	wssync:{KEY}:log                list: "<version> <patch>", newest first, LogLength long
//	wssync:{KEY}:ids                sorted set: commit ID, score = the version it made; "x:"+ID fenced by Outcome
//	wssync:{KEY}:changes            channel: "<version> <patch>" for every commit
//	wssync:session:{ID}             hash: _user (set once, by BindSession or SaveSession), _gen, and "o:"+object key → "<version> <state>"
//	wssync:sessions:claims          channel: "<byte length of ID> <ID><byte length of user> <user><claimant>" for every claim
//	wssync:events                   channel: every addressed message (wssync.Manager.Send, Publisher.Send), as wssync encodes it
//	wssync:presence:{ROOM}:expiry   sorted set: entry id, score = expiry in ms of Redis's clock
//	wssync:presence:{ROOM}:data     hash: entry id → data
//	wssync:presence:{ROOM}:changes  channel: a message whenever an entry is new, changed or removed
//
// The braces are Redis Cluster hash tags: all keys of one object, session or room hash to
// the same slot, as the scripts that touch several of them require. KEY, ID and ROOM are
// the caller's strings as they are (see tag for the one exception). One containing '}'
// ends the hash tag early ("a}b" hashes as "a"), which still puts all of its keys in one
// slot, because they share everything up to that brace; and two different keys never make
// the same name, because no suffix is a suffix of another.

// tag returns s as it goes between the braces: s itself, except that an empty s, or one
// starting with '}' or '\', gets a '\' in front. Redis ignores an empty hash tag ("{}")
// and hashes the whole name instead, which would put an object's keys in different slots;
// the backslash keeps the tag non-empty, and escaping a leading '\' too keeps two
// different strings from making the same name.
func tag(s string) string {
	if s == "" || s[0] == '}' || s[0] == '\\' {
		return `\` + s
	}
	return s
}

func (b *Backend) objectName(key, suffix string) string {
	return b.opts.Prefix + "{" + tag(key) + "}:" + suffix
}

func (b *Backend) stateKey(key string) string       { return b.objectName(key, "state") }
func (b *Backend) logKey(key string) string         { return b.objectName(key, "log") }
func (b *Backend) idsKey(key string) string         { return b.objectName(key, "ids") }
func (b *Backend) changesChannel(key string) string { return b.objectName(key, "changes") }

func (b *Backend) sessionKey(id string) string {
	return b.opts.Prefix + "session:{" + tag(id) + "}"
}

// claimsChannel is the one channel of every session claim. It has no hash tag: PUBLISH
// and SUBSCRIBE reach every node of a Redis Cluster whatever the name's slot.
func (b *Backend) claimsChannel() string { return b.opts.Prefix + "sessions:claims" }

// sessionClaimsChannel is the shard channel of one session's claims, with
// Options.ShardedPubSub: it shares the hash tag of the session's key, so its messages
// stay on the primary that owns the session.
func (b *Backend) sessionClaimsChannel(id string) string { return b.sessionKey(id) + ":claims" }

// eventsChannel is the one channel of every addressed message (PublishEvent). It has no
// hash tag either, for the same reason.
func (b *Backend) eventsChannel() string { return b.opts.Prefix + "events" }

func (b *Backend) presenceName(room, suffix string) string {
	return b.opts.Prefix + "presence:{" + tag(room) + "}:" + suffix
}

func (b *Backend) presenceExpiryKey(room string) string { return b.presenceName(room, "expiry") }
func (b *Backend) presenceDataKey(room string) string   { return b.presenceName(room, "data") }
func (b *Backend) presenceChannel(room string) string   { return b.presenceName(room, "changes") }

// validPrefix reports whether prefix keeps the hash tags working: it must not contain a
// brace.
func validPrefix(prefix string) bool { return !strings.ContainsAny(prefix, "{}") }
