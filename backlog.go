package wssync

// Defaults of WithEventBacklog.
const (
	DefaultBacklogMessages = 32
	DefaultBacklogBytes    = 64 << 10
)

// backlog keeps the addressed messages sent to a disconnected session, for its next
// connection to this node. It is bounded by count and bytes; a message that does not fit
// is refused (reported NotConnected to its sender), never one queued earlier, whose
// sender was told Queued. The session's mu guards it.
type backlog struct {
	msgs  []Message
	bytes int
}

// push keeps m if it fits within max messages and maxBytes bytes (Session.backlogBounds).
func (b *backlog) push(m Message, max, maxBytes int) bool {
	n := m.size()
	if len(b.msgs) >= max || b.bytes+n > maxBytes {
		return false
	}
	b.msgs = append(b.msgs, m)
	b.bytes += n
	return true
}

// take empties the backlog and returns what it held, in the order it was sent.
func (b *backlog) take() []Message {
	msgs := b.msgs
	*b = backlog{}
	return msgs
}

// WithEventBacklog sets how many addressed messages (Manager.Send), and how many bytes of
// them, a disconnected session keeps for its next connection (DefaultBacklogMessages,
// DefaultBacklogBytes). 0 messages keeps none: every message to a disconnected session is
// NotConnected. The backlog never holds more than half of what the send queue takes
// (Limits MaxQueuedFrames and MaxQueuedBytes), so all of it is delivered on reconnect,
// with room left for what is sent while it is written. The backlog lives on the node that holds the session; a session that
// expires or moves to another node drops it (Stats.MessagesDropped counts them).
// Session.Send, Toast and the other direct sends never queue.
func WithEventBacklog(messages, bytes int) SessionOption {
	return func(c *config) {
		c.backlogMessages, c.backlogBytes = max(messages, 0), max(bytes, 0)
	}
}
