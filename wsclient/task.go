package wsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wssync/wssync/internal/proto"
)

// Task statuses of `_TASK_STATUS:KEY`.
const (
	TaskStarted   = "started"
	TaskDone      = "done"
	TaskFailed    = "failed"
	TaskCancelled = "cancelled"
)

// TaskStatus is one `_TASK_STATUS:KEY` frame: a step of task Name's lifecycle on Key.
type TaskStatus struct {
	Key    string `json:"-"`
	Name   string `json:"type"`
	Status string `json:"status"`          // TaskStarted, TaskDone, TaskFailed or TaskCancelled
	Error  *Error `json:"error,omitempty"` // with TaskFailed: why
	// Result is what a wssync.TaskResult task returned, with TaskDone (JSON; absent for a
	// plain Task, and in news after a reconnect when it was over wssync.MaxTaskNewsResult).
	Result json.RawMessage `json:"result,omitempty"`
}

// StartTask starts the task name of key with params and waits for the server to accept
// it (`_TASK_START` with a request id and its `_RESULT`): nil once the task runs, a
// *Error otherwise (task_running, bad_params, unknown_task). Its outcome comes in
// `_TASK_STATUS` frames (OnTaskStatus, RunTask); its output through the key's state.
func (c *Client) StartTask(ctx context.Context, key, name string, params any) error {
	_, err := c.request(ctx, proto.Keyed(proto.TaskStart, key), name, params)
	return err
}

// CancelTask asks the server to cancel the running task name of key and waits for the
// request to be accepted (task_not_running when it is not running).
func (c *Client) CancelTask(ctx context.Context, key, name string) error {
	_, err := c.request(ctx, proto.Keyed(proto.TaskCancel, key), name, nil)
	return err
}

// OnTaskStatus calls fn for every `_TASK_STATUS` of key, on the dispatcher. It returns a
// function that removes fn.
func (c *Client) OnTaskStatus(key string, fn func(TaskStatus)) (remove func()) {
	return c.OnEvent(proto.Keyed(proto.TaskStatus, key), func(data json.RawMessage) {
		var s TaskStatus
		if json.Unmarshal(data, &s) == nil {
			s.Key = key
			fn(s)
		}
	})
}

// RunTask starts the task name of key and waits until it ends: nil when it is done, the
// task's *Error (task_failed) when it failed, ErrTaskCancelled when it was cancelled, and
// ErrConnectionLost when the connection ended before the outcome arrived (the task may
// still be running on the server). Cancelling ctx cancels the wait, not the task: use
// CancelTask for that.
func (c *Client) RunTask(ctx context.Context, key, name string, params any) error {
	_, err := c.runTask(ctx, key, name, params)
	return err
}

// RunTaskResult runs the task name of key as RunTask does and, when it is done, decodes
// the result a wssync.TaskResult task returned into R. A task that sent no result (a plain
// wssync.Task) gives the zero R; a result that does not decode into R gives an error.
func RunTaskResult[R any](ctx context.Context, c *Client, key, name string, params any) (R, error) {
	var r R
	s, err := c.runTask(ctx, key, name, params)
	if err != nil {
		return r, err
	}
	if len(s.Result) == 0 {
		return r, nil
	}
	if err := json.Unmarshal(s.Result, &r); err != nil {
		return r, fmt.Errorf("wsclient: result of task %q on %q does not decode into %T: %w", name, key, r, err)
	}
	return r, nil
}

// runTask starts the task and waits for its final status.
func (c *Client) runTask(ctx context.Context, key, name string, params any) (TaskStatus, error) {
	end := make(chan TaskStatus, 1)
	remove := c.OnTaskStatus(key, func(s TaskStatus) {
		if s.Name == name && s.Status != TaskStarted {
			select {
			case end <- s:
			default:
			}
		}
	})
	defer remove()
	cn, _, err := c.requestOn(ctx, proto.Keyed(proto.TaskStart, key), name, params)
	if err != nil {
		return TaskStatus{}, err
	}
	select {
	case s := <-end:
		return s, taskOutcome(s)
	case <-cn.ended:
		// The outcome may sit in the dispatcher's queue still: let it run first.
		if c.disp.flush(c.done) {
			select {
			case s := <-end:
				return s, taskOutcome(s)
			default:
			}
		}
		return TaskStatus{}, ErrConnectionLost
	case <-ctx.Done():
		return TaskStatus{}, ctx.Err()
	case <-c.done:
		return TaskStatus{}, c.Err()
	}
}

// taskOutcome turns a final status into RunTask's result.
func taskOutcome(s TaskStatus) error {
	switch s.Status {
	case TaskDone:
		return nil
	case TaskCancelled:
		return ErrTaskCancelled
	}
	if s.Error != nil {
		return s.Error
	}
	return errors.New("wsclient: task ended with status " + s.Status)
}
