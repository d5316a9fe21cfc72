package wsclient_test

import (
	"encoding/json"
	"testing"

	"github.com/wssync/wssync/internal/wstest"
	"github.com/wssync/wssync/wsclient"
)

// A wssync.TaskResult task's result arrives with its done status: RunTaskResult decodes it
// into the caller's type, and OnTaskStatus sees it as TaskStatus.Result.
func TestTaskResultIsReadOnDone(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	c := dial(t, s.url)
	seen := make(chan wsclient.TaskStatus, 4)
	defer c.OnTaskStatus("BOARD", func(st wsclient.TaskStatus) {
		if st.Status == wsclient.TaskDone {
			seen <- st
		}
	})()
	got, err := wsclient.RunTaskResult[sumResult](wstest.Context(t), c, "BOARD", "double", addParams{N: 21})
	if err != nil {
		t.Fatal(err)
	}
	if got != (sumResult{Doubled: 42, Note: "ok"}) {
		t.Fatalf("result %+v, want {42 ok}", got)
	}
	st := wstest.Receive(t, seen, "the done status")
	var r sumResult
	if st.Name != "double" || json.Unmarshal(st.Result, &r) != nil || r.Doubled != 42 {
		t.Fatalf("status %+v (result %s)", st, st.Result)
	}

	// A result that does not fit the caller's type is an error, not a silent zero.
	if _, err := wsclient.RunTaskResult[[]string](wstest.Context(t), c, "BOARD", "double", addParams{N: 1}); err == nil {
		t.Fatal("an object result decoded into []string")
	}
	// A plain Task sends no result: the zero value.
	s.releaseAll()
	n, err := wsclient.RunTaskResult[int](wstest.Context(t), c, "BOARD", "work", nil)
	if err != nil || n != 0 {
		t.Fatalf("plain task: %d, %v", n, err)
	}
}
