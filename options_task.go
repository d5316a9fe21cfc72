package wssync

// TaskOption configures a task.
type TaskOption func(*taskDef)

// OnCancel sets a hook that runs after a cancelled task has returned (ws-sync's
// @task.cancel), in the task's goroutine.
func OnCancel(hook func()) TaskOption {
	return func(t *taskDef) { t.onCancel = hook }
}
