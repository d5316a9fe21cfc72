package wssync

import (
	"cmp"
	"encoding/json"
	"slices"
	"sync"

	"github.com/wssync/wssync/internal/proto"
)

// This file delivers task statuses across reconnects (docs/protocol.md, "Tasks after a
// reconnect"): a task that ends while its session has no connection, or whose status frame
// was still queued on a connection that closed, is reported on the next connect; a task
// still running is reported running.

// TaskRunning is the status of a task that is still running, sent on a (re)connect for
// each task the session started that has not ended (see TaskStarted for the others).
const TaskRunning = "running"

// maxTaskNews bounds the statuses a session keeps for its next connection. There is at
// most one per task name and key, so registrations bound it already; this bounds a session
// that joins many shared objects with tasks.
const maxTaskNews = 256

// MaxTaskNewsResult is the largest encoded result (in bytes) of a TaskResult task that a
// session keeps for its next connection. A larger result is sent only to the connection
// live when the task ends; the news sent on a later connect says done without a result.
const MaxTaskNewsResult = 64 << 10

// taskNews holds a session's final task statuses that no connection has written yet. Its
// lock is taken after a connection's writeMu (a written status is forgotten from the
// writer) and before its outQueue's lock; nothing else is taken under it.
type taskNews struct {
	mu      sync.Mutex
	seq     uint64
	pending map[taskRef]*taskNote
}

type taskRef struct{ key, name string }

// taskNote is one final status: its frame for later connections (without a result too
// large to keep), and the connection it was queued on last.
type taskNote struct {
	f      *frame
	seq    uint64 // age, for maxTaskNews
	queued *conn
}

// noteTaskEnd records the final status frame f of task ref and queues it on the live
// connection, unless that connection holds for a resume (it then gets it with its state).
// The status is forgotten once a connection has written it. news, if not nil, replaces f
// for later connections; only f is kept until then.
func (s *Session) noteTaskEnd(ref taskRef, f, news *frame) {
	n := &s.news
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pending == nil {
		n.pending = make(map[taskRef]*taskNote)
	}
	if _, ok := n.pending[ref]; !ok && len(n.pending) >= maxTaskNews {
		n.dropOldestLocked()
	}
	n.seq++
	note := &taskNote{f: f, seq: n.seq}
	if news != nil {
		note.f = news
	}
	n.pending[ref] = note
	if c := s.live.Load(); c != nil && !c.hold.holding() {
		n.queueLocked(c, ref, note, f)
	}
}

// queueLocked queues f, the frame of note, on c. The caller holds n.mu.
func (n *taskNews) queueLocked(c *conn, ref taskRef, note *taskNote, f *frame) {
	note.queued = c
	c.sendTracked(f, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.pending[ref] == note {
			delete(n.pending, ref)
		}
	})
}

func (n *taskNews) dropOldestLocked() {
	var oldest taskRef
	var seq uint64
	for ref, note := range n.pending {
		if seq == 0 || note.seq < seq {
			oldest, seq = ref, note.seq
		}
	}
	delete(n.pending, oldest)
}

// deliverTaskNews sends c, after the state it was sent, the session's task news: running
// for each task the session started that still runs, and each final status no connection
// has written yet (of keys still registered), in key and name order.
func (s *Session) deliverTaskNews(c *conn) {
	s.mu.Lock()
	objs := make(map[string]*object, len(s.objects))
	for k, o := range s.objects {
		objs[k] = o
	}
	s.mu.Unlock()
	var running []taskRef
	for key, o := range objs {
		for _, name := range o.runningTasksOf(s) {
			running = append(running, taskRef{key, name})
		}
	}
	slices.SortFunc(running, compareRefs)
	for _, ref := range running {
		if f, err := taskStatusFrame(ref.key, taskStatus{Type: ref.name, Status: TaskRunning}); err == nil {
			c.send(f)
		}
	}
	n := &s.news
	n.mu.Lock()
	defer n.mu.Unlock()
	refs := make([]taskRef, 0, len(n.pending))
	for ref := range n.pending {
		if objs[ref.key] == nil {
			delete(n.pending, ref) // unregistered, or left: nobody to tell
			continue
		}
		refs = append(refs, ref)
	}
	slices.SortFunc(refs, compareRefs)
	for _, ref := range refs {
		if note := n.pending[ref]; note.queued != c {
			n.queueLocked(c, ref, note, note.f)
		}
	}
}

func compareRefs(a, b taskRef) int {
	return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.name, b.name))
}

// runningTasksOf returns the names of o's running tasks that session s started.
func (o *object) runningTasksOf(s *Session) []string {
	o.hmu.RLock()
	defer o.hmu.RUnlock()
	var names []string
	for name, t := range o.tasks {
		if t.running != nil && t.running.sess == s {
			names = append(names, name)
		}
	}
	return names
}

// taskStatusFrame encodes `_TASK_STATUS:KEY`.
func taskStatusFrame(key string, st taskStatus) (*frame, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return eventFrame(proto.Keyed(proto.TaskStatus, key), data), nil
}

// sendTracked queues f and calls sent once it is written; a client too far behind to
// take it is closed, as for send.
func (c *conn) sendTracked(f *frame, sent func()) {
	if c.closing() || c.q.pushTracked(f, sent) {
		return
	}
	if c.closeWith(CloseSlowConsumer, "client too slow", nil) {
		c.sess.metrics.slowCloses.Add(1)
		c.log.Warn("wssync: slow consumer: closing")
	}
}
