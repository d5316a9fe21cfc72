package wssync

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"time"

	"github.com/wssync/wssync/internal/proto"
)

// taskDef is one registered task of an object, with its running instance if any.
type taskDef struct {
	params   *paramDecoder
	result   reflect.Type                                            // R of TaskResult, for Schema; nil for Task
	run      func(ctx context.Context, p reflect.Value) (any, error) // p is a *P
	onCancel func()
	running  *taskRun
}

type taskRun struct {
	cancel context.CancelFunc
	sess   *Session // the session that started it
}

// Task registers run as the long-running task name of s's object. `_TASK_START:KEY` with
// `{"type": name, ...params}` decodes the params (as for Action) and runs run in its own
// goroutine; `_TASK_CANCEL:KEY` with `{"type": name}` cancels its ctx. At most one instance
// per name per object runs at a time: a second start is refused with CodeTaskRunning.
//
// The client is told `_TASK_STATUS:KEY` {"type": name, "status": ...}: "started", then
// "done", "failed" (with the error) or "cancelled". ctx is also cancelled when the session
// that started the task closes (Close waits for its tasks) or the object is unregistered.
// The object is synced when the task starts and ends; progress is ordinary state: mutate
// with Update, or use SyncThrottled to publish at most every interval.
func Task[T, P any](s *Synced[T], name string, run func(ctx context.Context, p P) error, opts ...TaskOption) error {
	def := &taskDef{run: func(ctx context.Context, p reflect.Value) (any, error) { return nil, run(ctx, *p.Interface().(*P)) }}
	for _, opt := range opts {
		opt(def)
	}
	return s.o.addTask(name, reflect.TypeFor[P](), def)
}

// TaskResult is Task for tasks with a result: the `done` status frame carries
// `"result": R`, encoded with encoding/json (a failed or cancelled task has none). A result
// that does not marshal is reported `failed` with CodeInternal and logged. A result larger
// than MaxTaskNewsResult still reaches the connection live when the task ends, but is not
// kept for a later connection: the news of such a task says `done` without a result.
func TaskResult[T, P, R any](s *Synced[T], name string, run func(ctx context.Context, p P) (R, error), opts ...TaskOption) error {
	def := &taskDef{result: reflect.TypeFor[R](), run: func(ctx context.Context, p reflect.Value) (any, error) { return run(ctx, *p.Interface().(*P)) }}
	for _, opt := range opts {
		opt(def)
	}
	return s.o.addTask(name, reflect.TypeFor[P](), def)
}

func (o *object) addTask(name string, pt reflect.Type, def *taskDef) error {
	dec, err := o.callParams("task", name, pt)
	if err != nil {
		return err
	}
	def.params = dec
	return addCall(o, "task", name, &o.tasks, def)
}

// RunningTasks returns the names of the object's running tasks, sorted.
func (s *Synced[T]) RunningTasks() []string { return s.o.runningTasks() }

func (o *object) runningTasks() []string {
	o.hmu.RLock()
	defer o.hmu.RUnlock()
	names := []string{}
	for name, t := range o.tasks {
		if t.running != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// handleTaskStart dispatches `_TASK_START:KEY`.
func handleTaskStart(o *object) eventHandler {
	return func(c *conn, in *inbound) error {
		name, members, perr := parseCall(in.data, in.event)
		if perr != nil {
			return perr
		}
		o.hmu.RLock()
		def := o.tasks[name]
		o.hmu.RUnlock()
		if def == nil {
			return o.unknownTask(name)
		}
		// Params are decoded (and their Validate run) without holding hmu.
		p, perr := def.params.decodeMembers(members, in.bin)
		if perr != nil {
			return withAction(perr, name)
		}
		o.hmu.Lock()
		if o.tasks[name] != def {
			o.hmu.Unlock()
			return o.unknownTask(name)
		}
		if def.running != nil {
			o.hmu.Unlock()
			return withAction(errorf(CodeTaskRunning, "", "task %q is already running", name), name)
		}
		sess := c.sess
		ctx, cancel := context.WithCancel(sess.ctx)
		run := &taskRun{cancel: cancel, sess: sess}
		def.running = run
		sess.tasks.Add(1)
		o.hmu.Unlock()
		sess.metrics.tasksStarted.Add(1)
		sess.metrics.tasksRunning.Add(1)

		c.acknowledge(in)
		sess.sendTaskStatus(o, name, TaskStarted, nil)
		_ = o.sync() // publish runningTasks
		go o.runTask(sess, name, def, run, ctx, p)
		return nil
	}
}

// runTask runs one task instance to its end and reports how it ended.
func (o *object) runTask(sess *Session, name string, def *taskDef, run *taskRun, ctx context.Context, p reflect.Value) {
	defer sess.tasks.Done()
	defer sess.metrics.tasksRunning.Add(-1)
	result, err := callSafely(func() (any, error) { return def.run(ctx, p) })
	cancelled := ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
	run.cancel()
	if cancelled && def.onCancel != nil {
		_, _ = callSafely(func() (any, error) { def.onCancel(); return nil, nil })
	}
	o.hmu.Lock()
	if def.running == run {
		def.running = nil
	}
	o.hmu.Unlock()
	_ = o.sync()
	switch {
	case cancelled:
		sess.sendTaskStatus(o, name, TaskCancelled, nil)
	case err != nil:
		sess.cfg.logger.Info("wssync: task failed", "key", o.key, "task", name, "err", err)
		sess.sendTaskStatus(o, name, TaskFailed, withAction(handlerError(CodeTaskFailed, err), name))
	case def.result == nil:
		sess.sendTaskStatus(o, name, TaskDone, nil)
	default:
		data, merr := json.Marshal(result)
		if merr != nil {
			sess.cfg.logger.Error("wssync: task result does not marshal", "key", o.key, "task", name, "err", merr)
			sess.sendTaskStatus(o, name, TaskFailed, withAction(errorf(CodeInternal, "", "the result of %q could not be encoded", name), name))
			return
		}
		sess.sendTaskResult(o, name, data)
	}
}

// handleTaskCancel dispatches `_TASK_CANCEL:KEY`.
func handleTaskCancel(o *object) eventHandler {
	return func(c *conn, in *inbound) error {
		name, _, perr := parseCall(in.data, in.event)
		if perr != nil {
			return perr
		}
		o.hmu.RLock()
		def := o.tasks[name]
		var run *taskRun
		if def != nil {
			run = def.running
		}
		o.hmu.RUnlock()
		switch {
		case def == nil:
			return o.unknownTask(name)
		case run == nil:
			return withAction(errorf(CodeTaskNotRunning, "", "task %q is not running", name), name)
		}
		run.cancel()
		c.acknowledge(in)
		return nil
	}
}

func (o *object) unknownTask(name string) *Error {
	return withAction(errorf(CodeUnknownTask, "", "no task %q on key %q", name, o.key), name)
}

// cancelTasksLocked cancels every running task of the object. The caller holds hmu.
func (o *object) cancelTasksLocked() {
	for _, t := range o.tasks {
		if t.running != nil {
			t.running.cancel()
		}
	}
}

// sendTaskStatus tells the session's client that task name of o reached status. A final
// status is also kept until a connection has written it (noteTaskEnd), so a client that
// was away when the task ended learns it on its next connect.
func (s *Session) sendTaskStatus(o *object, name, status string, err *Error) {
	if err != nil {
		err.Event = proto.Keyed(proto.TaskStart, o.key)
	}
	st := taskStatus{Type: name, Status: status, Error: err}
	if status == TaskStarted {
		_ = s.sendEventValue(proto.Keyed(proto.TaskStatus, o.key), st)
		return
	}
	if f, ferr := taskStatusFrame(o.key, st); ferr == nil {
		s.noteTaskEnd(taskRef{o.key, name}, f, nil)
	}
}

// sendTaskResult tells the session's client that task name of o is done with result (JSON).
// A result over MaxTaskNewsResult is sent live only: the news kept for a later connection
// says done without it, so a session does not hold large results for a client that left.
func (s *Session) sendTaskResult(o *object, name string, result json.RawMessage) {
	f, err := taskStatusFrame(o.key, taskStatus{Type: name, Status: TaskDone, Result: result})
	if err != nil {
		return
	}
	var news *frame
	if len(result) > MaxTaskNewsResult {
		if news, err = taskStatusFrame(o.key, taskStatus{Type: name, Status: TaskDone}); err != nil {
			return
		}
	}
	s.noteTaskEnd(taskRef{o.key, name}, f, news)
}

// SyncThrottled publishes changes at most once per interval (ws-sync's
// sync(if_since_last=…)): if the last publish is older than interval it syncs now;
// otherwise it makes sure one sync runs when the interval is over, so the last change is
// always delivered. For progress updates from tasks.
func (s *Synced[T]) SyncThrottled(interval time.Duration) error {
	o := s.o
	o.pub.Lock()
	defer o.pub.Unlock()
	if wait := interval - time.Since(o.lastSync); wait > 0 {
		if o.trailing == nil {
			o.trailing = time.AfterFunc(wait, func() {
				o.pub.Lock()
				o.trailing = nil
				_ = o.syncLocked()
				o.pub.Unlock()
			})
		}
		return nil
	}
	return o.syncLocked()
}
