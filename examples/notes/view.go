package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wssync/wssync"
)

// View is the private state of one session (one browser tab): registered per session, so
// no other tab sees it, and kept by the server across reconnects and reloads of the tab.
type View struct {
	Name       string `sync:"name"`         // this tab's display name (read-only)
	Me         string `sync:"me"`           // the Owner of this tab's notes (ownerOf)
	Tab        string `sync:"tab"`          // this tab's tag in the online list (tabOf)
	Admin      bool   `sync:"admin"`        // an admin may change every note and sees the log
	Filter     string `sync:"filter,write"` // the list shows only notes containing it
	Progress   int    `sync:"progress"`     // percent done of the running review task
	LastReview string `sync:"lastReview"`   // summary of the last review that finished
}

const maxFilterLen = 100

// ValidateWrite bounds the filter, the only field a client may write.
func (v *View) ValidateWrite(next *View) error {
	if utf8.RuneCountInString(next.Filter) > maxFilterLen {
		return &wssync.FieldError{Path: "/filter", Message: fmt.Sprintf("The filter is at most %d characters.", maxFilterLen)}
	}
	return nil
}

// reviewParams are the params of the review task. StepMs is optional (omitempty), so
// `{"type": "review"}` starts a review at the default pace.
type reviewParams struct {
	StepMs int `json:"stepMs,omitempty"` // time per step; 0 means defaultReviewStep
}

func (p reviewParams) Validate() error {
	if p.StepMs < 0 || p.StepMs > 1000 {
		return &wssync.FieldError{Path: "/stepMs", Message: "stepMs must be between 0 and 1000."}
	}
	return nil
}

const (
	reviewSteps       = 50
	defaultReviewStep = 120 * time.Millisecond // 50 steps: a 6 s task, long enough to cancel
	progressInterval  = 100 * time.Millisecond // at most 10 progress patches a second
)

// tab is one session's private side: its View and what the review task needs.
type tab struct {
	sess  *wssync.Session
	v     *View
	view  *wssync.Synced[View]
	notes *Notes                // the shared list, read under shared's lock
	share *wssync.Synced[Notes] // its handle
}

// registerView registers the session's private View under VIEW, with its review task and
// the running tasks exposed as the read-only field runningTasks (so a reloaded tab knows a
// review is still running).
func registerView(sess *wssync.Session, name string, notes *Notes, share *wssync.Synced[Notes]) error {
	id := sess.Identity()
	t := &tab{sess: sess, v: &View{Name: name, Me: ownerOf(id), Tab: tabOf(id.Session), Admin: id.HasRole(adminRole)}, notes: notes, share: share}
	var err error
	if t.view, err = wssync.Register(sess, "VIEW", t.v, wssync.WithRunningTasks("runningTasks")); err != nil {
		return err
	}
	return wssync.Task(t.view, "review", t.review, wssync.OnCancel(t.cancelled))
}

// review pretends to proof-read the shared list slowly: it is the example's long-running,
// cancellable task. Progress is ordinary synced state, published with SyncThrottled so a
// fast task does not flood the browser; the last value is always delivered.
func (t *tab) review(ctx context.Context, p reviewParams) error {
	step := defaultReviewStep
	if p.StepMs > 0 {
		step = time.Duration(p.StepMs) * time.Millisecond
	}
	t.share.RLock()
	count, words := len(t.notes.Notes), 0
	for _, n := range t.notes.Notes {
		words += len(strings.Fields(n.Text))
	}
	t.share.RUnlock()
	if count == 0 {
		return errors.New("there is nothing to review: the list is empty") // status "failed"
	}
	_ = t.view.Update(func(v *View) { v.Progress = 0 })
	tick := time.NewTicker(step)
	defer tick.Stop()
	for i := 1; i <= reviewSteps; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err() // reported to the client as "cancelled"
		case <-tick.C:
		}
		t.view.Lock()
		t.v.Progress = i * 100 / reviewSteps
		t.view.Unlock()
		_ = t.view.SyncThrottled(progressInterval)
	}
	summary := fmt.Sprintf("%d notes, %d words, reviewed at %s", count, words, time.Now().Format("15:04:05"))
	_ = t.view.Update(func(v *View) { v.Progress, v.LastReview = 0, summary })
	_ = t.sess.Toast(wssync.ToastSuccess, "Review finished: "+summary+".")
	return nil
}

// cancelled runs after a cancelled review returned (wssync.OnCancel), so progress is final.
func (t *tab) cancelled() {
	var at int
	_ = t.view.Update(func(v *View) { at, v.Progress = v.Progress, 0 })
	_ = t.sess.Toast(wssync.ToastWarning, fmt.Sprintf("Review cancelled at %d%%.", at))
}
