package wssync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/wssync/wssync/internal/patch"
	"github.com/wssync/wssync/internal/proto"
)

// object is the type-erased core of one registered struct: its lock, its last published
// snapshot and version, and who receives its frames.
//
// Lock order (the package's whole order is in doc.go, "Concurrency"): the session's
// dispatchMu, a connection's resync budget, the session's mu, a connection's writeMu, then
// pub, then state, then hmu, then a connection's outQueue.mu. pub is held across backend
// calls and session-store saves; deliver, under pub, only queues. Nothing that holds a
// connection's queue lock ever takes pub.
type object struct {
	key     string
	val     reflect.Value                                             // the struct, addressable
	fields  []boundField                                              // synced fields, then computed values
	replay  bool                                                      // send _SET on every connect
	naming  func(string) string                                       // the registration's naming rule, also for params
	veto    func(ctx context.Context, prev, next reflect.Value) error // the validation hooks of T, nil without any
	rules   bool                                                      // a field has a role or owner rule (writerules.go)
	writes  bool                                                      // a field is writable: clients may write, and get echoes
	diffOpt patch.Options
	events  map[string]eventHandler // the session events of its key, shared by every session that joins

	scope       string // the Scope prefix of Register, "" or ending in "/" (for Schema)
	runningWire string // the wire name of WithRunningTasks, "" without it (for Schema)

	// maxState bounds what client writes may grow the encoded state to (WithMaxStateSize).
	maxState int64

	// state guards the struct's fields: the user's Update/Lock and the library's reads.
	state sync.RWMutex

	// hmu guards the handler tables and running tasks.
	hmu     sync.RWMutex
	actions map[string]*actionEntry
	tasks   map[string]*taskDef

	// pub serializes snapshot, diff and publish, and guards everything below.
	pub      sync.Mutex
	last     [][]byte // encoded value of each field as last published
	version  uint64
	setCache *frame                  // the _SET frame for version, built on demand
	subs     map[subscriber]*objView // each subscriber's view; nil: the object's own
	subList  []subscriber            // the keys of subs, in the order they came: delivery without a map walk
	views    *viewSet                // WithViews; nil for an object every subscriber sees whole
	gone     atomic.Bool             // unregistered
	enc      fieldEncoder
	lists    []*listCache // per field: the cache of a long slice of cacheable elements (listcache.go), else nil
	logs     []*logCache  // per field: the cache of a List (listlog.go), else nil
	memos    []*fieldMemo // per field: the memo of its last encoded value (fieldmemo.go), else nil
	lastSync time.Time    // when a patch was last published, for SyncThrottled
	trailing *time.Timer  // SyncThrottled's pending sync
	patchHd  []byte       // the head of its _PATCH frames, up to the ops' [ (patchHead)
	dist     *distLink    // the object's backend, nil for an object of this process only (see replication.go)
	owner    *Session     // the session of Register, whose store keeps the object; nil if shared
	echo     *writeEcho   // the client write being published, if any
	quiet    *conn        // the connection whose dispatcher publishes now and writes the frame itself (syncFor)

	// epoch names the incarnation of the key's history that version counts in: a
	// (epoch, version) pair is one state. Random for an object of this process (set at
	// registration, and again when a session store restores the object); the backend's
	// incarnation of the key while epochBackend (see adoptEpochLocked).
	epoch        string
	epochBackend bool
	hist         history                  // the latest published patches, for clients that resume
	observer     atomic.Pointer[Observer] // WithObserver of the session it was registered with, or first joined
	record       fieldRecord              // when each field last changed, for stale writes (writebase.go)
	stale        StalePolicy              // WithStaleWrites
}

// boundField is a field (or computed value) with its wire name fixed by a registration.
type boundField struct {
	spec     *fieldSpec // nil for a computed value
	compute  func() any // non-nil for a computed value
	wire     string     // wire name
	member   []byte     // `"wire":` ready to append
	pointer  string     // "/wire", RFC 6901-escaped
	writable bool
}

// subscriber receives an object's published frames. deliver is called with the object's
// pub lock held, in version order, and must not block.
type subscriber interface {
	deliver(o *object, f *frame)
	resync(o *object)
}

// fieldEncoder marshals field values into a reused buffer, so an unchanged field costs an
// encode and a compare but no allocation.
type fieldEncoder struct {
	buf     bytes.Buffer
	enc     *json.Encoder
	scratch []byte // for the encoders that need no json.Encoder (fieldmemo.go)
}

func (e *fieldEncoder) encode(v any) ([]byte, error) {
	if e.enc == nil {
		e.enc = json.NewEncoder(&e.buf)
	}
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	b := e.buf.Bytes()
	return b[:len(b)-1], nil // Encode ends with '\n'
}

// valueOf returns the value to marshal for field f: a pointer for struct fields (so methods
// with pointer receivers marshal as encoding/json would for an addressable value).
func (o *object) valueOf(f *boundField) any {
	if f.compute != nil {
		return f.compute()
	}
	return o.val.FieldByIndex(f.spec.index).Addr().Interface()
}

// snapshotChanged encodes every field and reports the new encodings; for a field that did
// not change, the entry is the previous slice itself. changed reports whether any differs.
// The caller holds pub; snapshotChanged takes the state read lock.
func (o *object) snapshotChanged() (cur [][]byte, changed bool, err error) {
	o.state.RLock()
	defer o.state.RUnlock()
	return o.snapshotLocked()
}

// snapshotLocked is snapshotChanged for a caller that holds pub and the state lock.
func (o *object) snapshotLocked() (cur [][]byte, changed bool, err error) {
	i := 0
	defer func() { // one recover for the whole snapshot: a panicking MarshalJSON is an error
		if r := recover(); r != nil {
			cur, changed, err = nil, false, fmt.Errorf("wssync: key %q field %q: panic while encoding: %v", o.key, o.fields[i].wire, r)
		}
	}()
	for ; i < len(o.fields); i++ {
		b, owned, err := o.encodeSnapshot(i)
		if err != nil {
			return nil, false, fmt.Errorf("wssync: key %q field %q: %w", o.key, o.fields[i].wire, bare(err))
		}
		same := o.last != nil && (reused(b, o.last[i]) || !owned && bytes.Equal(b, o.last[i]))
		if cur == nil { // nothing changed so far: allocate only at the first change
			if same {
				continue
			}
			cur = make([][]byte, len(o.fields))
			if o.last != nil {
				copy(cur[:i], o.last[:i])
			}
		}
		switch {
		case same:
			cur[i] = o.last[i]
		case owned:
			cur[i] = b
		default:
			cur[i] = bytes.Clone(b)
		}
	}
	if cur == nil {
		return o.last, false, nil
	}
	return cur, true, nil
}

// encodeSnapshot encodes field i for snapshotLocked: through its list cache when it has
// one, else through its memo when it has one (then owned: b is the caller's to keep, or
// the published encoding itself when unchanged), else into the shared buffer.
func (o *object) encodeSnapshot(i int) (b []byte, owned bool, err error) {
	f := &o.fields[i]
	var last []byte
	if o.last != nil {
		last = o.last[i]
	}
	var m *fieldMemo
	if o.memos != nil {
		m = o.memos[i]
	}
	if o.logs != nil && o.logs[i] != nil {
		l := o.val.FieldByIndex(f.spec.index).Addr().Interface().(recordedList)
		b, err := o.logs[i].snapshot(l, &o.enc, last)
		return b, true, err
	}
	if o.lists != nil && o.lists[i] != nil {
		b, ok, err := o.lists[i].snapshot(o.val.FieldByIndex(f.spec.index), &o.enc, last)
		if ok || err != nil {
			if m != nil && m.enc != nil {
				m.forget() // the list cache keeps the field now
			}
			return b, true, err
		}
	}
	if m != nil {
		b, err = m.snapshot(unsafe.Add(o.val.Addr().UnsafePointer(), m.off), &o.enc, last)
		return b, true, err
	}
	b, err = o.enc.encode(o.valueOf(f))
	return b, false, err
}

// encodeField marshals one field; a panic in a user MarshalJSON or computed value becomes
// an error rather than taking the process down.
func (o *object) encodeField(f *boundField) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("wssync: key %q field %q: panic while encoding: %v", o.key, f.wire, r)
		}
	}()
	b, err = o.enc.encode(o.valueOf(f))
	if err != nil {
		return nil, fmt.Errorf("wssync: key %q field %q: %w", o.key, f.wire, bare(err))
	}
	return b, nil
}

// syncLocked publishes the difference between the struct and the last published snapshot
// as one _PATCH frame, or nothing when nothing changed. The caller holds pub.
func (o *object) syncLocked() error { return o.publishLocked(nil) }

// publishLocked is syncLocked for a change ch that can be made again (see edit; nil for a
// plain Sync). On an object with a backend the change is committed there first
// (distLink.commitLocked), and after a lost race to another node the snapshot and diff run
// again on the newer state. The caller holds pub.
func (o *object) publishLocked(ch *edit) error {
	if o.gone.Load() {
		return ErrUnregistered
	}
	for attempt := 1; ; attempt++ {
		cur, changed, err := o.snapshotChanged()
		if err != nil {
			return err
		}
		if !changed {
			o.echoUnpublished()
			return nil
		}
		if len(o.subs) == 0 && !o.dist.attached() {
			// Nobody to tell: the next subscriber starts from a _SET anyway.
			o.advanceLocked(cur)
			o.hist.reset() // no patch leads to this version
			return nil
		}
		buf, n, err := o.patchFrame(cur)
		if err != nil {
			return err
		}
		if n == 0 {
			// Bytes differed but values did not (cannot happen with encoding/json's
			// canonical output, but a custom MarshalJSON may vary its spacing). Adopt them.
			o.last = cur
			o.setCache = nil
			o.echoUnpublished()
			return nil
		}
		retry, err := o.dist.commitLocked(o, ch, cur, buf[len(o.patchHd)-1:], attempt)
		if err != nil {
			return err
		}
		if retry {
			continue
		}
		var echo *echoPlan
		if o.echo != nil && o.echo.live() && attempt == 1 {
			if echo, err = o.residualPlan(o.echo, cur, o.version+1); err != nil {
				return err
			}
		}
		fork := o.forkLocked()
		o.advanceLocked(cur)
		f := &frame{data: appendVersionTail(buf, o.version), shared: len(o.subs) > 1, published: o.lastSync}
		if fork {
			// The first local publish while the backend is away: the versions from
			// here on are this node's only, so every subscriber starts the new epoch
			// from a _SET.
			o.resyncAllLocked()
			return nil
		}
		o.recordLocked(f)
		if o.echo == nil || !o.echo.live() {
			o.deliverLocked(f)
			return nil
		}
		o.deliverWrite(f, echo)
		return nil
	}
}

// deliverWrite publishes a client write's patch f: every subscriber but the writer gets
// f; the writer's connection gets the residual echo (see writeEcho), or, when echo is nil
// because the write was rebased onto another node's changes (whose patches reached the
// writer computed against a state it no longer holds), a fresh _SET. On an object with
// views, each subscriber gets its view's frame and a writer of a view the echo computed
// in that view. The caller holds pub.
func (o *object) deliverWrite(f *frame, echo *echoPlan) {
	w := o.echo
	if o.views != nil {
		o.deliverViewsLocked(f, w.sess)
		if v := o.viewOfLocked(w.sess); v != nil {
			echo = nil
			if v.subs > 0 && v.before != nil && v.version == o.version {
				echo = o.viewEcho(w, v, v.before, v.after, o.version)
			}
		}
	} else {
		o.deliverOthers(f, w)
	}
	if echo == nil {
		w.c.q.resync(o)
		return
	}
	w.c.q.pushEcho(o, echo, w.paths)
}

// deliverOthers hands f to every subscriber but the writer of w. The caller holds pub.
func (o *object) deliverOthers(f *frame, w *writeEcho) {
	for s := range o.subs {
		if s != subscriber(w.sess) {
			s.deliver(o, f)
		}
	}
}

// echoUnpublished answers a client write that published nothing: a writer whose view
// differs from the published state anyway (its ops were normalised away) gets a _SET.
// The caller holds pub.
func (o *object) echoUnpublished() {
	if w := o.echo; w != nil && w.live() && o.viewDiffers(w) {
		w.c.q.resync(o)
	}
}

// patchFrame returns the head of the _PATCH frame from the published snapshot to cur, up
// to the ops' closing ']', in a slice of its own with room for the version tail, and how
// many ops it holds (0: none, and no frame). The ops are written into the object's scratch
// buffer first, so that the frame is allocated once, at its size. The caller holds pub.
func (o *object) patchFrame(cur [][]byte) ([]byte, int, error) {
	ops, n, err := o.appendPatch(o.enc.scratch[:0], cur)
	if cap(ops) <= maxScratch {
		o.enc.scratch = ops[:0]
	}
	if err != nil || n == 0 {
		return nil, n, err
	}
	buf := make([]byte, 0, len(o.patchHd)+len(ops)+1+maxVersionTail)
	buf = append(append(append(buf, o.patchHd...), ops...), ']')
	return buf, n, nil
}

// maxScratch bounds the scratch buffer an object keeps between publishes (fieldEncoder),
// so that one large patch does not keep its size for the object's lifetime.
const maxScratch = 4 << 10

// appendPatch appends the RFC 6902 ops that turn the published snapshot into cur, and
// reports how many it wrote.
func (o *object) appendPatch(buf []byte, cur [][]byte) ([]byte, int, error) {
	n := 0
	var err error
	for i := range cur {
		if reused(cur[i], o.last[i]) {
			continue // snapshotChanged kept the published encoding: unchanged
		}
		if scalarPair(o.last[i], cur[i]) {
			// What AppendDiff would write, without its scan: a scalar against anything
			// is replaced whole. cur[i] is an encoder's output: valid JSON.
			if !bytes.Equal(o.last[i], cur[i]) {
				buf, n = patch.AppendReplace(buf, n, o.fields[i].pointer, cur[i])
			}
			continue
		}
		var known bool
		switch {
		case o.logs != nil && o.logs[i] != nil:
			buf, n, known, err = o.logs[i].appendOps(buf, n, o.fields[i].pointer, o.last[i], cur[i], &o.diffOpt)
		case o.lists != nil:
			buf, n, known, err = o.lists[i].appendOps(buf, n, o.fields[i].pointer, o.last[i], cur[i], &o.diffOpt)
		}
		if !known && err == nil {
			buf, n, err = patch.AppendDiff(buf, n, o.fields[i].pointer, o.last[i], cur[i], &o.diffOpt)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("wssync: key %q field %q: diff: %w", o.key, o.fields[i].wire, bare(err))
		}
	}
	return buf, n, nil
}

// scalarPair reports whether one of the field encodings a and b is a JSON scalar (a
// string, number, boolean or null), so that the patch between them is one replace.
func scalarPair(a, b []byte) bool {
	return len(a) > 0 && len(b) > 0 && (scalarStart(a[0]) || scalarStart(b[0]))
}

// scalarStart reports whether c starts a JSON scalar (not space: encodings with space
// around them take AppendDiff, which sees through it).
func scalarStart(c byte) bool {
	return c == '"' || c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f' || c == 'n'
}

// deliverLocked hands a published frame to every subscriber (on an object with views,
// each subscriber the frame of its view). The caller holds pub.
func (o *object) deliverLocked(f *frame) {
	if o.views != nil {
		o.deliverViewsLocked(f, nil)
		return
	}
	for _, s := range o.subList {
		s.deliver(o, f)
	}
}

// resyncAllLocked queues a fresh _SET for every subscriber, dropping the patches queued
// for them: their version no longer leads to the published one. The caller holds pub.
func (o *object) resyncAllLocked() {
	for s := range o.subs {
		s.resync(o)
	}
}

// reused reports whether a and b are the same slice (not merely equal bytes).
func reused(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// advanceLocked makes cur the published snapshot under the next version, and writes it
// through to the owner's session store, if any (Session.persist). The caller holds pub.
func (o *object) advanceLocked(cur [][]byte) {
	o.recordMoveLocked(cur, o.version+1)
	o.last = cur
	o.version++
	o.setCache = nil
	o.owner.persist(o)
	o.lastSync = time.Now() // after the store's save: the publish is done, and its frame is stamped with it
}

// sync publishes pending changes (Sync without the generic handle).
// The clock is read only for an observer of Syncs.
func (o *object) sync() error {
	if !o.observesSync() {
		return o.syncUnderPub()
	}
	start := time.Now()
	err := o.syncUnderPub()
	o.observeSync(start, err) // after pub is unlocked
	return err
}

// syncFor is sync run by c's dispatcher right after a handler, which then writes what the
// handler queued itself (flushInline): c's writer goroutine is not woken for the frame, so
// an action's round trip pays one goroutine wake-up (reader to dispatcher) and not two.
// Every other subscriber is woken as usual.
func (o *object) syncFor(c *conn) error {
	if !o.observesSync() {
		return o.syncQuiet(c)
	}
	start := time.Now()
	err := o.syncQuiet(c)
	o.observeSync(start, err) // after pub is unlocked
	return err
}

// syncQuiet is syncLocked under pub, with c's queue not woken for the frame.
func (o *object) syncQuiet(c *conn) error {
	o.pub.Lock()
	defer o.pub.Unlock()
	o.quiet = c
	defer func() { o.quiet = nil }() // also when a MarshalJSON panics
	return o.syncLocked()
}

// syncUnderPub is syncLocked under pub.
func (o *object) syncUnderPub() error {
	o.pub.Lock()
	defer o.pub.Unlock()
	return o.syncLocked()
}

// setFrame returns the _SET frame of the last published snapshot. The caller holds pub.
func (o *object) setFrame() *frame {
	if o.setCache == nil {
		buf := appendSetHead(make([]byte, 0, 64+o.size()), o.key)
		buf = o.appendState(buf)
		o.setCache = &frame{data: appendSetTail(buf, o.version, o.epoch), shared: len(o.subs) > 1}
	}
	return o.setCache
}

// appendState appends the last published snapshot as one JSON object.
func (o *object) appendState(buf []byte) []byte { return o.appendDoc(buf, o.last) }

// appendDoc appends the field encodings enc as one JSON object.
func (o *object) appendDoc(buf []byte, enc [][]byte) []byte {
	buf = append(buf, '{')
	for i := range o.fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, o.fields[i].member...)
		buf = append(buf, enc[i]...)
	}
	return append(buf, '}')
}

func (o *object) size() int {
	n := 2
	for i := range o.fields {
		n += len(o.fields[i].member) + len(o.last[i]) + 1
	}
	return n
}

// subscribe adds s, of no identity; it receives every frame published from now on.
func (o *object) subscribe(s subscriber) { o.subscribeAs(s, Identity{}, slog.New(slog.DiscardHandler)) }

// subscribeAs adds s, of identity id, with its view (see WithViews); it receives every
// frame published from now on. log reports a view function that fails.
func (o *object) subscribeAs(s subscriber, id Identity, log *slog.Logger) {
	o.pub.Lock()
	defer o.pub.Unlock()
	if o.subs == nil {
		o.subs = make(map[subscriber]*objView)
	}
	if o.views == nil {
		o.setSubLocked(s, nil)
		return
	}
	o.subscribeViewLocked(s, o.views.chooseView(id, log, o.key))
}

func (o *object) unsubscribe(s subscriber) {
	o.pub.Lock()
	defer o.pub.Unlock()
	if v := o.subs[s]; v != nil {
		v.subs--
	}
	if _, ok := o.subs[s]; ok {
		delete(o.subs, s)
		i := slices.Index(o.subList, s)
		o.subList = slices.Delete(o.subList, i, i+1)
	}
}

// setSubLocked makes v the view of subscriber s, adding s if it is new. The caller holds
// pub and keeps the views' counts.
func (o *object) setSubLocked(s subscriber, v *objView) {
	if _, ok := o.subs[s]; !ok {
		o.subList = append(o.subList, s)
	}
	o.subs[s] = v
}

// newHandlers builds the session events of the object's key and their handlers.
func (o *object) newHandlers() map[string]eventHandler {
	return map[string]eventHandler{
		proto.Keyed(proto.Get, o.key):        handleGet(o),
		proto.Keyed(proto.Set, o.key):        handleClientSet(o),
		proto.Keyed(proto.Patch, o.key):      handleClientPatch(o),
		proto.Keyed(proto.Action, o.key):     handleAction(o),
		proto.Keyed(proto.TaskStart, o.key):  handleTaskStart(o),
		proto.Keyed(proto.TaskCancel, o.key): handleTaskCancel(o),
	}
}

// sessions returns the sessions subscribed to the object.
func (o *object) sessions() []*Session {
	o.pub.Lock()
	defer o.pub.Unlock()
	out := make([]*Session, 0, len(o.subs))
	for s := range o.subs {
		if sess, ok := s.(*Session); ok {
			out = append(out, sess)
		}
	}
	return out
}
