package wsprom

import (
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/proto"
)

// Namespace is the prefix of every metric name.
const Namespace = "wssync"

// Source is what Metrics reads at each scrape: a *wssync.Manager, or a lone
// *wssync.Session.
type Source interface {
	Stats() wssync.Stats
}

// sessionLister is a Source that lists its sessions (a Manager), for the queue gauges.
type sessionLister interface {
	Sessions() []*wssync.Session
}

// queuer is a Source with its own send queue (a lone Session).
type queuer interface {
	Queued() (frames, bytes int)
}

// BackendReporter is an object whose backend link is reported: any *wssync.Synced[T].
type BackendReporter interface {
	Key() string
	BackendStatus() wssync.BackendStatus
}

// Metrics is a prometheus.Collector for one or more wssync Managers (summed). Register it
// with a prometheus.Registerer. Its methods are safe for concurrent use.
type Metrics struct {
	syncDuration  prometheus.Histogram
	syncErrors    prometheus.Counter
	fanOutLatency prometheus.Histogram

	mu       sync.Mutex
	sources  []Source
	backends []BackendReporter
}

// Option configures New.
type Option func(*options)

type options struct {
	syncBuckets, fanOutBuckets []float64
}

// WithSyncBuckets replaces the buckets of wssync_sync_duration_seconds (default
// DefaultSyncBuckets).
func WithSyncBuckets(b ...float64) Option {
	return func(o *options) { o.syncBuckets = slices.Clone(b) }
}

// WithFanOutBuckets replaces the buckets of wssync_fanout_latency_seconds (default
// DefaultFanOutBuckets).
func WithFanOutBuckets(b ...float64) Option {
	return func(o *options) { o.fanOutBuckets = slices.Clone(b) }
}

var (
	// DefaultSyncBuckets: 50 µs to about 1.6 s, doubling. A Sync of a small object takes
	// microseconds; one with a backend takes a round trip.
	DefaultSyncBuckets = prometheus.ExponentialBuckets(50e-6, 2, 16)
	// DefaultFanOutBuckets: 100 µs to about 3.3 s, doubling: from a patch handed to an idle
	// writer to one queued behind a slow client.
	DefaultFanOutBuckets = prometheus.ExponentialBuckets(100e-6, 2, 16)
)

// New returns the metrics, watching nothing yet: pass Observer to the Manager, then Watch it.
func New(opts ...Option) *Metrics {
	o := options{syncBuckets: DefaultSyncBuckets, fanOutBuckets: DefaultFanOutBuckets}
	for _, opt := range opts {
		opt(&o)
	}
	return &Metrics{
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "sync_duration_seconds",
			Help:    "Time a Sync or Update of an object took: snapshot, diff, and the backend commit or session-store save when there is one.",
			Buckets: o.syncBuckets,
		}),
		syncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "sync_errors_total",
			Help: "Syncs and Updates that returned an error (a field that failed to marshal, a lost race to other nodes 32 times, ...).",
		}),
		fanOutLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "fanout_latency_seconds",
			Help:    "Time from a patch's publish until a connection wrote it to its socket, once per subscriber.",
			Buckets: o.fanOutBuckets,
		}),
	}
}

// Observer returns the wssync.Observer that feeds the histograms: pass it to the Manager
// (or Session) with wssync.WithObserver.
func (m *Metrics) Observer() wssync.Observer {
	return wssync.Observer{
		SyncDone: func(_ string, took time.Duration, err error) {
			// No key label: keys may be per user (scopes), an unbounded label set.
			m.syncDuration.Observe(took.Seconds())
			if err != nil {
				m.syncErrors.Inc()
			}
		},
		PatchWritten: func(_ string, latency time.Duration) {
			m.fanOutLatency.Observe(latency.Seconds())
		},
	}
}

// Watch adds a Manager (or a lone Session) whose counters are read at each scrape. The
// counters of several sources are summed.
func (m *Metrics) Watch(src Source) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sources = append(m.sources, src)
}

// WatchBackend adds an object with a backend (wssync.WithBackend): its link's state and
// counters are reported with a key label. Watch only a bounded set of objects (the shared
// rooms a process serves), as each adds a label value.
func (m *Metrics) WatchBackend(obj BackendReporter) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.backends = append(m.backends, obj)
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

// The metrics read at scrape time.
var (
	descConnections    = desc("connections", "Live WebSocket connections.")
	descSessions       = desc("sessions", "Sessions held, connected or awaiting expiry.")
	descTasksRunning   = desc("tasks_running", "Tasks running now.")
	descQueuedFrames   = desc("queued_frames", "Frames waiting in the send queues of all live connections.")
	descQueuedBytes    = desc("queued_bytes", "Bytes of the frames waiting in the send queues of all live connections.")
	descQueueMax       = desc("queue_frames_max", "Frames waiting in the longest send queue of a live connection.")
	descSessionsTotal  = desc("sessions_created_total", "Sessions ever created.")
	descSessionsMoved  = desc("sessions_moved_total", "Sessions let go because another node serves them (WithSessionStore).")
	descFramesIn       = desc("frames_received_total", "Frames read from clients.")
	descBytesIn        = desc("received_bytes_total", "Bytes of the frames read from clients.")
	descFramesOut      = desc("frames_sent_total", "Frames written to clients.")
	descBytesOut       = desc("sent_bytes_total", "Bytes of the frames written to clients.")
	descPatches        = desc("patches_sent_total", proto.Patch+" frames written to clients.")
	descResyncs        = desc("resyncs_sent_total", proto.Set+" frames written to clients (connects, "+proto.Get+", refused writes, slow clients).")
	descResyncsHeld    = desc("resyncs_held_total", "Client-requested _SETs held back by the resync budget, sent later merged per key.")
	descSlowDrops      = desc("slow_drops_total", "Times queued patches were replaced by one _SET for a client that fell behind.")
	descSlowCloses     = desc("slow_consumer_closes_total", "Connections closed as slow consumers (close code 4001).")
	descRateLimited    = desc("rate_limited_frames_total", "Inbound frames dropped by the per-connection rate limit.")
	descTasksStarted   = desc("tasks_started_total", "Tasks started.")
	descErrors         = desc("errors_total", "Refusals sent to clients (_ERROR frames and failed _RESULTs), by error code.", "code")
	descCloses         = desc("closes_total", "Connections closed, by the WebSocket close code the server closed them with (1000 when the client closed).", "code")
	descMessages       = desc("messages_total", "Addressed messages (Manager.Send) per session reached on this node, by outcome: delivered, queued (in a disconnected session's backlog), dropped, duplicate.", "outcome")
	descBackendOffline = desc("backend_offline", "1 while the object's backend is unreachable (changes are published locally only), else 0.", "key")
	descBackend        = map[string]*prometheus.Desc{
		"commits":   desc("backend_commits_total", "Changes this process committed to the object's backend.", "key"),
		"conflicts": desc("backend_conflicts_total", "Commits lost to another node, then retried.", "key"),
		"applied":   desc("backend_applied_total", "Changes of other nodes applied as patches.", "key"),
		"reloads":   desc("backend_reloads_total", "Whole-state loads (late join, gap, interruption, reconnect).", "key"),
		"dropped":   desc("backend_dropped_total", "Local edits that did not apply to a newer state and were dropped.", "key"),
		"outages":   desc("backend_outages_total", "Times the object went offline.", "key"),
		"landed":    desc("backend_landed_total", "Commits that timed out and were found on reconnect to have landed.", "key"),
		"replayed":  desc("backend_replayed_total", "Edits made again on the backend's state (made offline, or lost with the backend's data).", "key"),
		"lost":      desc("backend_lost_total", "Published edits that could not be kept: logged and reported to their writer.", "key"),
		"checks":    desc("backend_checks_total", "Version checks made after a quiet spell, on a backend that asks for them.", "key"),
		"missed":    desc("backend_missed_total", "Version checks that found the backend ahead: a change's delivery went missing with no sign, and the object caught up.", "key"),
	}
)

// Describe sends the descriptors of every metric (prometheus.Collector).
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descConnections, descSessions, descTasksRunning, descQueuedFrames, descQueuedBytes, descQueueMax,
		descSessionsTotal, descSessionsMoved, descFramesIn, descBytesIn, descFramesOut, descBytesOut,
		descPatches, descResyncs, descResyncsHeld, descSlowDrops, descSlowCloses, descRateLimited,
		descTasksStarted, descErrors, descCloses, descMessages, descBackendOffline,
	} {
		ch <- d
	}
	for _, d := range descBackend {
		ch <- d
	}
	m.syncDuration.Describe(ch)
	m.syncErrors.Describe(ch)
	m.fanOutLatency.Describe(ch)
}

// Collect reads the watched sources and sends every metric (prometheus.Collector). It
// lists a Manager's sessions to sum their send queues: O(sessions) per scrape.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	sources, backends := slices.Clone(m.sources), slices.Clone(m.backends)
	m.mu.Unlock()

	var st wssync.Stats
	errs, closes := map[wssync.Code]int64{}, map[int]int64{}
	var qFrames, qBytes, qMax int
	for _, src := range sources {
		add(&st, src.Stats(), errs, closes)
		queue := func(f, b int) { qFrames, qBytes, qMax = qFrames+f, qBytes+b, max(qMax, f) }
		switch s := src.(type) {
		case sessionLister:
			for _, sess := range s.Sessions() {
				queue(sess.Queued())
			}
		case queuer:
			queue(s.Queued())
		}
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(descConnections, float64(st.Connections))
	gauge(descSessions, float64(st.Sessions))
	gauge(descTasksRunning, float64(st.TasksRunning))
	gauge(descQueuedFrames, float64(qFrames))
	gauge(descQueuedBytes, float64(qBytes))
	gauge(descQueueMax, float64(qMax))
	counter(descSessionsTotal, float64(st.SessionsTotal))
	counter(descSessionsMoved, float64(st.SessionsMoved))
	counter(descFramesIn, float64(st.FramesIn))
	counter(descBytesIn, float64(st.BytesIn))
	counter(descFramesOut, float64(st.FramesOut))
	counter(descBytesOut, float64(st.BytesOut))
	counter(descPatches, float64(st.Patches))
	counter(descResyncs, float64(st.Resyncs))
	counter(descResyncsHeld, float64(st.ResyncsHeld))
	counter(descSlowDrops, float64(st.SlowDrops))
	counter(descSlowCloses, float64(st.SlowCloses))
	counter(descRateLimited, float64(st.RateLimited))
	counter(descTasksStarted, float64(st.TasksStarted))
	for c, n := range errs {
		counter(descErrors, float64(n), string(c))
	}
	for c, n := range closes {
		counter(descCloses, float64(n), strconv.Itoa(c))
	}
	counter(descMessages, float64(st.MessagesDelivered), "delivered")
	counter(descMessages, float64(st.MessagesQueued), "queued")
	counter(descMessages, float64(st.MessagesDropped), "dropped")
	counter(descMessages, float64(st.MessagesDuplicate), "duplicate")
	for _, b := range backends {
		collectBackend(ch, b.Key(), b.BackendStatus())
	}
	m.syncDuration.Collect(ch)
	m.syncErrors.Collect(ch)
	m.fanOutLatency.Collect(ch)
}

// add sums s into st, and its maps into errs and closes.
func add(st *wssync.Stats, s wssync.Stats, errs map[wssync.Code]int64, closes map[int]int64) {
	st.Connections += s.Connections
	st.Sessions += s.Sessions
	st.TasksRunning += s.TasksRunning
	st.SessionsTotal += s.SessionsTotal
	st.SessionsMoved += s.SessionsMoved
	st.FramesIn += s.FramesIn
	st.BytesIn += s.BytesIn
	st.FramesOut += s.FramesOut
	st.BytesOut += s.BytesOut
	st.Patches += s.Patches
	st.Resyncs += s.Resyncs
	st.ResyncsHeld += s.ResyncsHeld
	st.SlowDrops += s.SlowDrops
	st.SlowCloses += s.SlowCloses
	st.RateLimited += s.RateLimited
	st.TasksStarted += s.TasksStarted
	st.MessagesDelivered += s.MessagesDelivered
	st.MessagesQueued += s.MessagesQueued
	st.MessagesDropped += s.MessagesDropped
	st.MessagesDuplicate += s.MessagesDuplicate
	for c, n := range s.ErrorsByCode {
		errs[c] += n
	}
	for c, n := range s.ClosesByCode {
		closes[c] += n
	}
}

func collectBackend(ch chan<- prometheus.Metric, key string, s wssync.BackendStatus) {
	if !s.Attached {
		return // an object without a backend has nothing to report
	}
	offline := 0.0
	if s.Offline {
		offline = 1
	}
	ch <- prometheus.MustNewConstMetric(descBackendOffline, prometheus.GaugeValue, offline, key)
	for name, v := range map[string]uint64{
		"commits": s.Commits, "conflicts": s.Conflicts, "applied": s.Applied, "reloads": s.Reloads,
		"dropped": s.Dropped, "outages": s.Outages, "landed": s.Landed, "replayed": s.Replayed, "lost": s.Lost,
		"checks": s.Checks, "missed": s.Missed,
	} {
		ch <- prometheus.MustNewConstMetric(descBackend[name], prometheus.CounterValue, float64(v), key)
	}
}
