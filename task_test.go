package wssync_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

type Job struct {
	Progress int      `sync:"progress"`
	Running  []string `sync:"-"`
}

type ImportParams struct {
	Steps int  `json:"steps"`
	Fail  bool `json:"fail,omitempty"`
	Block bool `json:"block,omitempty"`
}

type taskFixture struct {
	sess      *wssync.Session
	s         *wssync.Synced[Job]
	c         *wssynctest.Client
	cancelled *atomic.Int32
	url       string
}

func newTasks(t *testing.T) taskFixture {
	t.Helper()
	sess := wssync.NewSession()
	job := &Job{}
	s, err := wssync.Register(sess, "JOB", job, wssync.WithRunningTasks("runningTasks"))
	if err != nil {
		t.Fatal(err)
	}
	cancelled := new(atomic.Int32)
	err = wssync.Task(s, "import", func(ctx context.Context, p ImportParams) error {
		for i := 1; i <= p.Steps; i++ {
			_ = s.Update(func(j *Job) { j.Progress = i })
		}
		if p.Fail {
			return errors.New("disk full")
		}
		if p.Block {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}, wssync.OnCancel(func() { cancelled.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, sess)
	c := dial(t, url)
	waitType(t, c, "_SET:JOB")
	return taskFixture{sess, s, c, cancelled, url}
}

type status struct {
	Type   string        `json:"type"`
	Status string        `json:"status"`
	Error  *wssync.Error `json:"error"`
}

func waitStatus(t *testing.T, c *wssynctest.Client, want string) status {
	t.Helper()
	var st status
	f := waitType(t, c, "_TASK_STATUS:JOB")
	if err := json.Unmarshal(f.Data, &st); err != nil || st.Status != want {
		t.Fatalf("task status %s, want %s", f.Data, want)
	}
	return st
}

func TestTaskRunsToCompletion(t *testing.T) {
	t.Parallel()
	f := newTasks(t)
	_ = f.c.SendFrame(map[string]any{"type": "_TASK_START:JOB", "id": "t1", "data": map[string]any{"type": "import", "steps": 3}})
	if r := waitType(t, f.c, "_RESULT"); r.ID != "t1" || r.Error != nil {
		t.Fatalf("start result %+v", r)
	}
	waitStatus(t, f.c, wssync.TaskStarted)
	waitStatus(t, f.c, wssync.TaskDone)
	type view struct {
		Progress     int      `json:"progress"`
		RunningTasks []string `json:"runningTasks"`
	}
	v, err := wssynctest.WaitState(ctxT(t), f.c, "JOB", func(v view) bool { return v.Progress == 3 && len(v.RunningTasks) == 0 })
	if err != nil {
		t.Fatalf("%v (last %+v)", err, v)
	}
	// runningTasks was published while it ran.
	sawRunning := false
	for _, fr := range f.c.Frames() {
		if fr.Type == "_PATCH:JOB" && string(fr.Data) == `[{"op":"add","path":"/runningTasks/0","value":"import"}]` {
			sawRunning = true
		}
	}
	if !sawRunning {
		t.Fatalf("runningTasks never showed the task: %s", frameTypes(f.c.Frames()))
	}
}

func TestTaskFailureIsReported(t *testing.T) {
	t.Parallel()
	f := newTasks(t)
	_ = f.c.Send("_TASK_START:JOB", map[string]any{"type": "import", "steps": 1, "fail": true})
	waitStatus(t, f.c, wssync.TaskStarted)
	st := waitStatus(t, f.c, wssync.TaskFailed)
	if st.Error == nil || st.Error.Code != wssync.CodeTaskFailed || st.Error.Message != "disk full" || st.Error.Action != "import" {
		t.Fatalf("failure %+v", st.Error)
	}
}

func TestTaskCancelAndDoubleStart(t *testing.T) {
	t.Parallel()
	f := newTasks(t)
	start := map[string]any{"type": "import", "steps": 1, "block": true}
	_ = f.c.Send("_TASK_START:JOB", start)
	waitStatus(t, f.c, wssync.TaskStarted)
	if got := f.s.RunningTasks(); len(got) != 1 || got[0] != "import" {
		t.Fatalf("RunningTasks %v", got)
	}
	_ = f.c.Send("_TASK_START:JOB", start)
	if e := errorOf(t, waitType(t, f.c, "_ERROR")); e.Code != wssync.CodeTaskRunning || e.Action != "import" {
		t.Fatalf("second start: %+v", e)
	}
	_ = f.c.SendFrame(map[string]any{"type": "_TASK_CANCEL:JOB", "id": "c1", "data": map[string]any{"type": "import"}})
	if r := waitType(t, f.c, "_RESULT"); r.ID != "c1" || r.Error != nil {
		t.Fatalf("cancel result %+v", r)
	}
	waitStatus(t, f.c, wssync.TaskCancelled)
	if f.cancelled.Load() != 1 {
		t.Fatalf("cancel hook ran %d times", f.cancelled.Load())
	}
	// Cancel of a task that is not running; unknown tasks.
	_ = f.c.Send("_TASK_CANCEL:JOB", map[string]any{"type": "import"})
	if e := errorOf(t, waitType(t, f.c, "_ERROR")); e.Code != wssync.CodeTaskNotRunning {
		t.Fatalf("got %+v", e)
	}
	_ = f.c.Send("_TASK_START:JOB", map[string]any{"type": "export"})
	if e := errorOf(t, waitType(t, f.c, "_ERROR")); e.Code != wssync.CodeUnknownTask {
		t.Fatalf("got %+v", e)
	}
	_ = f.c.Send("_TASK_START:JOB", map[string]any{"type": "import", "steps": "x"})
	if e := errorOf(t, waitType(t, f.c, "_ERROR")); e.Code != wssync.CodeBadParams || e.Path != "/steps" {
		t.Fatalf("got %+v", e)
	}
	// It can run again after the cancellation.
	_ = f.c.Send("_TASK_START:JOB", map[string]any{"type": "import", "steps": 2})
	waitStatus(t, f.c, wssync.TaskStarted)
	waitStatus(t, f.c, wssync.TaskDone)
}

// Closing the session cancels running tasks and waits for them; the leak check in TestMain
// fails the run if a task goroutine survives.
func TestSessionCloseCancelsTasks(t *testing.T) {
	t.Parallel()
	f := newTasks(t)
	_ = f.c.Send("_TASK_START:JOB", map[string]any{"type": "import", "steps": 1, "block": true})
	waitStatus(t, f.c, wssync.TaskStarted)
	f.sess.Close()
	if f.cancelled.Load() != 1 {
		t.Fatal("Close returned before the task was cancelled and ended")
	}
	if len(f.s.RunningTasks()) != 0 {
		t.Fatal("task still listed as running")
	}
}

func TestUnregisterCancelsTasks(t *testing.T) {
	t.Parallel()
	f := newTasks(t)
	_ = f.c.Send("_TASK_START:JOB", map[string]any{"type": "import", "steps": 1, "block": true})
	waitStatus(t, f.c, wssync.TaskStarted)
	f.s.Unregister()
	waitUntil(t, func() bool { return f.cancelled.Load() == 1 })
}

func TestTaskRegistrationErrors(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	s, _ := wssync.Register(sess, "K", &Job{})
	run := func(context.Context, struct{}) error { return nil }
	if err := wssync.Task(s, "t", run); err != nil {
		t.Fatal(err)
	}
	if err := wssync.Task(s, "t", run); !errors.Is(err, wssync.ErrDuplicateHandler) {
		t.Fatalf("duplicate task: %v", err)
	}
}

// SyncThrottled publishes at most once per interval and always delivers the last change.
func TestSyncThrottled(t *testing.T) {
	t.Parallel()
	sess := wssync.NewSession()
	job := &Job{}
	s, _ := wssync.Register(sess, "JOB", job)
	c := dial(t, serve(t, sess))
	waitType(t, c, "_SET:JOB")
	const updates = 500
	for i := 1; i <= updates; i++ {
		s.Lock()
		job.Progress = i
		s.Unlock()
		if err := s.SyncThrottled(time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	// The first call publishes at once; the rest wait for the hour: only one patch so far.
	// (A failure here once in CI: the client had its _SET and no patch came. The server's
	// side is reported to tell a patch not published, not queued or not written.)
	p, err := c.WaitFrame(ctxT(t), func(f wssynctest.Frame) bool { return f.Type == "_PATCH:JOB" })
	if err != nil {
		st, v := s.Published()
		t.Fatalf("waiting for _PATCH:JOB: %v (client frames: %s); server at v%d %s, session stats %+v",
			err, frameTypes(c.Frames()), v, st, sess.Stats())
	}
	if string(p.Data) != `[{"op":"replace","path":"/progress","value":1}]` {
		t.Fatalf("first patch %s", p.Data)
	}
	if v := s.Version(); v != 1 {
		t.Fatalf("version %d after throttled syncs, want 1", v)
	}

	// With a short interval the trailing sync delivers the last value.
	job2 := &Job{}
	s2, _ := wssync.Register(sess, "JOB2", job2)
	waitType(t, c, "_SET:JOB2")
	for i := 1; i <= 50; i++ {
		s2.Lock()
		job2.Progress = i
		s2.Unlock()
		_ = s2.SyncThrottled(20 * time.Millisecond)
	}
	got, err := wssynctest.WaitState(ctxT(t), c, "JOB2", func(j struct{ Progress int }) bool { return j.Progress == 50 })
	if err != nil {
		t.Fatalf("last change not delivered: %+v %v", got, err)
	}
	if v := s2.Version(); v >= 50 {
		t.Fatalf("%d patches for 50 throttled syncs: nothing was throttled", v)
	}
}
