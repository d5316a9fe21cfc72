package wssync

import "sync/atomic"

// Stats is a snapshot of a Manager's (or a lone Session's) counters and gauges. Counters
// only grow; gauges (Connections, Sessions, TasksRunning) go up and down. Publish it with
// expvar if you like:
//
//	expvar.Publish("wssync", expvar.Func(func() any { return mgr.Stats() }))
type Stats struct {
	Connections   int64          `json:"connections"`   // live WebSocket connections
	Sessions      int64          `json:"sessions"`      // sessions held (connected or awaiting expiry)
	FramesIn      int64          `json:"framesIn"`      // frames read from clients
	BytesIn       int64          `json:"bytesIn"`       // bytes of those frames
	FramesOut     int64          `json:"framesOut"`     // frames written to clients
	BytesOut      int64          `json:"bytesOut"`      // bytes of those frames
	Patches       int64          `json:"patches"`       // _PATCH frames written
	Resyncs       int64          `json:"resyncs"`       // _SET frames written (connects, _GET, refused writes, slow clients)
	SlowDrops     int64          `json:"slowDrops"`     // times queued patches were replaced by a resync for a slow client
	SlowCloses    int64          `json:"slowCloses"`    // connections closed as slow consumers (4001), once each
	RateLimited   int64          `json:"rateLimited"`   // frames dropped by the inbound rate limit
	TasksStarted  int64          `json:"tasksStarted"`  // tasks started
	TasksRunning  int64          `json:"tasksRunning"`  // tasks running now
	ErrorsByCode  map[Code]int64 `json:"errorsByCode"`  // refusals sent to clients, by code
	SessionsTotal int64          `json:"sessionsTotal"` // sessions ever created
	SessionsMoved int64          `json:"sessionsMoved"` // sessions let go because another node serves them (WithSessionStore)
	ResyncsHeld   int64          `json:"resyncsHeld"`   // client-requested _SETs (_GET, refused writes) held back by Limits.ResyncPerSecond, sent later merged per key
	Resumed       int64          `json:"resumed"`       // keys a `_RESUME` brought up to date with patches (or nothing), instead of a _SET
	ResumeSets    int64          `json:"resumeSets"`    // keys a `_RESUME` listed that got a _SET (another epoch, a version beyond the history)

	// Addressed messages (Manager.Send), counted per session they reached on this node.
	MessagesDelivered int64 `json:"messagesDelivered"` // taken by a live connection's send queue, at once or from the backlog
	MessagesQueued    int64 `json:"messagesQueued"`    // kept in a disconnected session's backlog
	MessagesDropped   int64 `json:"messagesDropped"`   // lost after being accepted: a backlog dropped with its session, or a connection too slow to take one
	MessagesDuplicate int64 `json:"messagesDuplicate"` // messages this node had delivered already (same ID), dropped
}

// metrics holds the live counters behind Stats. One instance is shared by a Manager and
// all its sessions; a lone Session has its own.
type metrics struct {
	connections, sessions, sessionsTotal    atomic.Int64
	sessionsMoved, resyncsHeld              atomic.Int64
	resumed, resumeSets                     atomic.Int64
	framesIn, bytesIn, framesOut, bytesOut  atomic.Int64
	patches, resyncs, slowDrops, slowCloses atomic.Int64
	rateLimited, tasksStarted, tasksRunning atomic.Int64
	messagesDelivered, messagesQueued       atomic.Int64
	messagesDropped, messagesDuplicate      atomic.Int64
	errors                                  map[Code]*atomic.Int64 // fixed key set: no lock
}

func newMetrics() *metrics {
	m := &metrics{errors: make(map[Code]*atomic.Int64, len(allCodes))}
	for _, c := range allCodes {
		m.errors[c] = new(atomic.Int64)
	}
	return m
}

func (m *metrics) countError(c Code) {
	if n, ok := m.errors[c]; ok {
		n.Add(1)
	}
}

func (m *metrics) snapshot() Stats {
	s := Stats{
		Connections: m.connections.Load(), Sessions: m.sessions.Load(), SessionsTotal: m.sessionsTotal.Load(),
		SessionsMoved: m.sessionsMoved.Load(), ResyncsHeld: m.resyncsHeld.Load(),
		Resumed: m.resumed.Load(), ResumeSets: m.resumeSets.Load(),
		FramesIn: m.framesIn.Load(), BytesIn: m.bytesIn.Load(), FramesOut: m.framesOut.Load(), BytesOut: m.bytesOut.Load(),
		Patches: m.patches.Load(), Resyncs: m.resyncs.Load(), SlowDrops: m.slowDrops.Load(), SlowCloses: m.slowCloses.Load(),
		RateLimited: m.rateLimited.Load(), TasksStarted: m.tasksStarted.Load(), TasksRunning: m.tasksRunning.Load(),
		ErrorsByCode:      make(map[Code]int64),
		MessagesDelivered: m.messagesDelivered.Load(), MessagesQueued: m.messagesQueued.Load(),
		MessagesDropped: m.messagesDropped.Load(), MessagesDuplicate: m.messagesDuplicate.Load(),
	}
	for c, n := range m.errors {
		if v := n.Load(); v > 0 {
			s.ErrorsByCode[c] = v
		}
	}
	return s
}

// Stats returns the session's counters. For a session created by a Manager they are the
// Manager's, shared by all its sessions.
func (s *Session) Stats() Stats { return s.metrics.snapshot() }
