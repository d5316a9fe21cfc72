package wssync_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

type calcParams struct {
	Mode string `json:"mode"`
	Size int    `json:"size,omitempty"`
}

type calcOut struct {
	Sum  int    `json:"sum"`
	Text string `json:"text,omitempty"`
}

// newCalc registers RES with a TaskResult "calc" whose mode picks how it ends; mode
// "wait" waits for release first.
func newCalc(t *testing.T) (*wssync.Session, string, chan struct{}) {
	t.Helper()
	sess := wssync.NewSession()
	s, err := wssync.Register(sess, "RES", &resumeDoc{})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	err = wssync.TaskResult(s, "calc", func(ctx context.Context, p calcParams) (any, error) {
		switch p.Mode {
		case "fail":
			return calcOut{Sum: 1}, errors.New("no sum")
		case "block":
			<-ctx.Done()
			return calcOut{Sum: 2}, ctx.Err()
		case "func":
			return func() {}, nil // does not marshal
		case "wait":
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return calcOut{Sum: 42, Text: strings.Repeat("x", p.Size)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sess, serve(t, sess), release
}

// resultStatus waits for the next `_TASK_STATUS:RES` and returns it with its raw result.
func resultStatus(t *testing.T, c *wssynctest.Client, want string) (status, json.RawMessage, bool) {
	t.Helper()
	f := waitType(t, c, "_TASK_STATUS:RES")
	var st status
	var raw map[string]json.RawMessage
	if json.Unmarshal(f.Data, &st) != nil || json.Unmarshal(f.Data, &raw) != nil || st.Status != want {
		t.Fatalf("task status %s, want %s", f.Data, want)
	}
	r, ok := raw["result"]
	return st, r, ok
}

// TestTaskResultOnDone: done carries the result; failed and cancelled carry none; a result
// that does not marshal is failed with code internal.
func TestTaskResultOnDone(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		mode, want string
		result     string // "" = no result member
		code       wssync.Code
	}{
		{"ok", wssync.TaskDone, `{"sum":42}`, ""},
		{"fail", wssync.TaskFailed, "", wssync.CodeTaskFailed},
		{"block", wssync.TaskCancelled, "", ""},
		{"func", wssync.TaskFailed, "", wssync.CodeInternal},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			_, url, _ := newCalc(t)
			c := dial(t, url)
			waitType(t, c, "_SET:RES")
			_ = c.Send("_TASK_START:RES", map[string]any{"type": "calc", "mode": tt.mode})
			resultStatus(t, c, wssync.TaskStarted)
			if tt.mode == "block" {
				_ = c.Send("_TASK_CANCEL:RES", map[string]any{"type": "calc"})
			}
			st, r, ok := resultStatus(t, c, tt.want)
			if tt.result == "" && ok || tt.result != "" && string(r) != tt.result {
				t.Fatalf("result %s (present %v), want %q", r, ok, tt.result)
			}
			if tt.code != "" && (st.Error == nil || st.Error.Code != tt.code || st.Error.Action != "calc") {
				t.Fatalf("error %+v, want %s", st.Error, tt.code)
			}
		})
	}
}

// TestTaskResultNewsAfterReconnect: a result that ended while the client was away comes
// with the news; one over MaxTaskNewsResult is not kept, the news says done without it.
func TestTaskResultNewsAfterReconnect(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		size int
		kept bool
	}{
		{"small", 10, true},
		{"over the bound", wssync.MaxTaskNewsResult, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sess, url, release := newCalc(t)
			c := dial(t, url)
			waitType(t, c, "_SET:RES")
			_ = c.Send("_TASK_START:RES", map[string]any{"type": "calc", "mode": "wait", "size": tt.size})
			resultStatus(t, c, wssync.TaskStarted)
			_ = c.Close()
			waitUntil(t, func() bool { return !sess.Connected() })
			release <- struct{}{}
			wstest.Eventually(t, "the task's end", func() bool { return sess.Stats().TasksRunning == 0 })

			c = dial(t, url)
			waitType(t, c, "_SET:RES")
			_, r, ok := resultStatus(t, c, wssync.TaskDone)
			if ok != tt.kept {
				t.Fatalf("result present %v, want %v (%d bytes)", ok, tt.kept, len(r))
			}
			var out calcOut
			if tt.kept && (json.Unmarshal(r, &out) != nil || out.Sum != 42 || len(out.Text) != tt.size) {
				t.Fatalf("result %s", r)
			}
		})
	}
}

// TestTaskResultLiveOverTheBound: a large result still reaches the connection that is
// live when the task ends.
func TestTaskResultLiveOverTheBound(t *testing.T) {
	t.Parallel()
	_, url, _ := newCalc(t)
	c := dial(t, url)
	waitType(t, c, "_SET:RES")
	_ = c.Send("_TASK_START:RES", map[string]any{"type": "calc", "mode": "ok", "size": wssync.MaxTaskNewsResult})
	resultStatus(t, c, wssync.TaskStarted)
	_, r, _ := resultStatus(t, c, wssync.TaskDone)
	if len(r) <= wssync.MaxTaskNewsResult {
		t.Fatalf("live result of %d bytes", len(r))
	}
}

// TestTaskResultSchema: a TaskResult task's schema has its Result; a Task's has none.
func TestTaskResultSchema(t *testing.T) {
	t.Parallel()
	sess, _, _ := newCalcTyped(t)
	sc, err := sess.Schema()
	if err != nil {
		t.Fatal(err)
	}
	k := sc.Keys[0]
	if len(k.Tasks) != 2 || k.Tasks[0].Name != "plain" || k.Tasks[0].Result != nil {
		t.Fatalf("tasks %+v", k.Tasks)
	}
	r := k.Tasks[1].Result
	js, _ := json.Marshal(r)
	if k.Tasks[1].Name != "sum" || r == nil || !strings.Contains(string(js), `"sum"`) {
		t.Fatalf("result schema %+v", r)
	}
}

func newCalcTyped(t *testing.T) (*wssync.Session, string, chan struct{}) {
	t.Helper()
	sess := wssync.NewSession()
	t.Cleanup(sess.Close)
	s, err := wssync.Register(sess, "RES", &resumeDoc{})
	if err != nil {
		t.Fatal(err)
	}
	if err := wssync.TaskResult(s, "sum", func(ctx context.Context, p struct{}) (calcOut, error) { return calcOut{}, nil }); err != nil {
		t.Fatal(err)
	}
	if err := wssync.Task(s, "plain", func(ctx context.Context, p struct{}) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return sess, "", nil
}
