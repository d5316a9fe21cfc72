package wssync_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wssynctest"
)

type jobParams struct {
	Fail bool `json:"fail"`
}

// newJobs registers DOC with a task "job" that runs until release gets a value.
func newJobs(t *testing.T) (*wssync.Session, string, chan struct{}) {
	t.Helper()
	sess := wssync.NewSession()
	s, err := wssync.Register(sess, "DOC", &resumeDoc{})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	err = wssync.Task(s, "job", func(ctx context.Context, p jobParams) error {
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		if p.Fail {
			return errors.New("it broke")
		}
		return s.Update(func(d *resumeDoc) { d.N++ })
	})
	if err != nil {
		t.Fatal(err)
	}
	return sess, serve(t, sess), release
}

// statuses returns the `_TASK_STATUS:DOC` statuses the client got, in order.
func statuses(c *wssynctest.Client) []string {
	var out []string
	for _, f := range c.Frames() {
		if f.Type == "_TASK_STATUS:DOC" {
			var st struct{ Type, Status string }
			_ = json.Unmarshal(f.Data, &st)
			out = append(out, st.Type+":"+st.Status)
		}
	}
	return out
}

// TestTaskNewsAfterReconnect: a task that ended while the client was away is reported on
// the next connect, once, after the state; one still running is reported running.
func TestTaskNewsAfterReconnect(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		fail   bool
		resume bool
		want   string
	}{
		{"done", false, false, "job:done"},
		{"failed", true, false, "job:failed"},
		{"done, resumed", false, true, "job:done"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sess, url, release := newJobs(t)
			c := dial(t, url)
			waitType(t, c, "_SET:DOC")
			_ = c.Send("_TASK_START:DOC", map[string]any{"type": "job", "fail": tt.fail})
			waitType(t, c, "_TASK_STATUS:DOC")
			h := c.Held()
			_ = c.Close()
			waitUntil(t, func() bool { return !sess.Connected() })

			// Away: the task is still running.
			c = dial(t, url)
			waitType(t, c, "_TASK_STATUS:DOC")
			if got := statuses(c); !slices.Equal(got, []string{"job:running"}) {
				t.Fatalf("statuses %v, want job:running", got)
			}
			if h2 := c.Held(); h2 != nil {
				h = h2
			}
			_ = c.Close()
			waitUntil(t, func() bool { return !sess.Connected() })
			release <- struct{}{}
			wstest.Eventually(t, "the task's end", func() bool { return sess.Stats().TasksRunning == 0 })

			var opts []wssynctest.DialOption
			if tt.resume {
				opts = append(opts, wssynctest.WithResume(h))
			}
			c = wstest.Dial(t, url, opts...)
			f := waitType(t, c, "_TASK_STATUS:DOC")
			if got := statuses(c); !slices.Equal(got, []string{tt.want}) {
				t.Fatalf("statuses %v, want %s", got, tt.want)
			}
			if tt.fail && errorOf(t, wssynctest.Frame{Type: "_RESULT", Error: field(t, f.Data, "error")}).Code != wssync.CodeTaskFailed {
				t.Fatalf("failed status without its error: %s", f.Data)
			}
			// The state came first: the client already holds the task's outcome.
			types := frameTypes(c.Frames())
			if tt.resume && !startsWith(types, "_PATCH:DOC,_RESUMED,_TASK_STATUS:DOC") && !startsWith(types, "_RESUMED,_TASK_STATUS:DOC") {
				t.Fatalf("frames %s", types)
			}
			if !tt.resume && !startsWith(types, "_SET:DOC,_TASK_STATUS:DOC") {
				t.Fatalf("frames %s", types)
			}
			_ = c.Close()
			waitUntil(t, func() bool { return !sess.Connected() })

			// Reported once: the next connect has no news.
			c = dial(t, url)
			waitType(t, c, "_SET:DOC")
			_ = c.Get("DOC")
			waitType(t, c, "_SET:DOC")
			if got := statuses(c); len(got) != 0 {
				t.Fatalf("statuses %v reported again", got)
			}
		})
	}
}

func field(t *testing.T, data []byte, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m[name]
}

func startsWith(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }
