package wssync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/wstest"
)

func TestStatsCount(t *testing.T) {
	t.Parallel()
	sess, s, url := newNotes(t, wssync.WithLimits(wssync.Limits{MaxQueuedFrames: 4, MaxQueuedBytes: 1 << 20}))
	_ = wssync.Task(s, "t", func(ctx context.Context, p struct{}) error { return nil })
	c := dial(t, url)
	waitType(t, c, "_SET:NOTES")
	_ = s.Update(func(n *Notes) { n.Title = "x" })
	waitType(t, c, "_PATCH:NOTES")
	_ = c.Patch("NOTES", wssyncReplace("/notes", []string{}))
	waitType(t, c, "_ERROR")
	waitType(t, c, "_SET:NOTES")
	_ = c.Send("_TASK_START:NOTES", map[string]any{"type": "t"})
	waitType(t, c, "_TASK_STATUS:NOTES")
	// A drain adds its counts once it has written its frames: the client may see the last
	// frame before they are added.
	var st wssync.Stats
	wstest.EventuallyNil(t, 5*time.Second, "five frames out", func() error {
		if st = sess.Stats(); st.FramesOut < 5 {
			return fmt.Errorf("%d frames out", st.FramesOut)
		}
		return nil
	})
	if st.Connections != 1 || st.Sessions != 1 || st.FramesIn != 2 || st.Patches < 1 || st.Resyncs != 2 ||
		st.ErrorsByCode[wssync.CodeReadOnly] != 1 || st.TasksStarted != 1 || st.BytesIn == 0 || st.FramesOut < 5 {
		b, _ := json.Marshal(st)
		t.Fatalf("stats %s", b)
	}
}
