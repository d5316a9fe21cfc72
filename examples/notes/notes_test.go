package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/wssync/wssync/wssynctest"
)

func TestSharedListActions(t *testing.T) {
	_, srv := startServer(t)
	alice, bob := dial(t, srv, "alice", "s-alice"), dial(t, srv, "bob", "s-bob")
	waitNotes(t, bob, func(n Notes) bool { return len(n.Notes) == 2 })

	res := request(t, alice, "_ACTION:NOTES", "add-1", map[string]any{"type": "add", "text": "  Buy milk "})
	var added Note
	if err := json.Unmarshal(res.Data, &added); err != nil || added.Text != "Buy milk" || added.Author != guestName("alice") {
		t.Fatalf("add result = %s (%v), want the trimmed note by %s", res.Data, err, guestName("alice"))
	}
	waitNotes(t, bob, hasNote("Buy milk"))

	// Only the others are told, and by name: the toast leaves out the session whose
	// handler runs with the action's context (app.toastOthers).
	seen(t, bob, "toast about alice's note", toast("info", guestName("alice")+" added “Buy milk”"))
	if slices.ContainsFunc(alice.Frames(), toast("info", "")) {
		t.Error("alice was told about her own note")
	}

	cases := []struct {
		name, id   string
		data       map[string]any
		code, path string
	}{
		{"empty text", "r1", map[string]any{"type": "rename", "id": added.ID, "text": "  "}, "bad_params", "/text"},
		{"missing id", "r2", map[string]any{"type": "rename", "text": "x"}, "bad_params", "/id"},
		{"unknown note", "r3", map[string]any{"type": "remove", "id": "n999"}, "action_failed", ""},
		{"too long", "r4", map[string]any{"type": "add", "text": strings.Repeat("x", maxNoteLen+1)}, "bad_params", "/text"},
		{"rename", "r5", map[string]any{"type": "rename", "id": added.ID, "text": "Buy oat milk"}, "", ""},
		{"the server's note", "r6", map[string]any{"type": "remove", "id": "n1"}, "action_failed", ""},
		{"remove", "r7", map[string]any{"type": "remove", "id": added.ID}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := request(t, alice, "_ACTION:NOTES", tc.id, tc.data)
			code, path := errorCode(t, f.Error)
			if code != tc.code || path != tc.path {
				t.Errorf("error = %q at %q, want %q at %q (frame error %s)", code, path, tc.code, tc.path, f.Error)
			}
		})
	}
	n := waitNotes(t, bob, func(n Notes) bool { return len(n.Notes) == 2 })
	if n.Notes[0].ID != "n1" || n.Notes[1].ID != "n2" {
		t.Errorf("notes after removing alice's = %+v", n.Notes)
	}
}

func TestTitleWrites(t *testing.T) {
	_, srv := startServer(t)
	alice, bob := dial(t, srv, "alice", "s-alice"), dial(t, srv, "bob", "s-bob")
	waitNotes(t, alice, func(n Notes) bool { return n.Title != "" })

	if err := alice.Patch("NOTES", wssynctest.Replace("/title", "Shopping")); err != nil {
		t.Fatal(err)
	}
	waitNotes(t, bob, func(n Notes) bool { return n.Title == "Shopping" })

	refusals := []struct {
		name, path string
		value      any
		code       string
	}{
		{"too long", "/title", strings.Repeat("t", maxTitleLen+1), "rejected"},
		{"blank", "/title", "   ", "rejected"},
		{"read-only list", "/notes", []any{}, "read_only"},
		{"wrong type", "/title", 7, "type_mismatch"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			if err := alice.Patch("NOTES", wssynctest.Replace(tc.path, tc.value)); err != nil {
				t.Fatal(err)
			}
			f, err := alice.WaitFrame(testCtx(t), func(f wssynctest.Frame) bool { return f.Type == "_ERROR" })
			if err != nil {
				t.Fatal(err)
			}
			if code, path := errorCode(t, f.Data); code != tc.code || path != tc.path {
				t.Errorf("_ERROR = %s, want %s at %s", f.Data, tc.code, tc.path)
			}
		})
	}
	// Nothing refused reached anyone: both still hold the accepted state.
	for _, c := range []*wssynctest.Client{alice, bob} {
		waitNotes(t, c, func(n Notes) bool { return n.Title == "Shopping" && len(n.Notes) == 2 })
	}
}

func TestReviewTask(t *testing.T) {
	_, srv := startServer(t)
	alice, bob := dial(t, srv, "alice", "s-alice"), dial(t, srv, "bob", "s-bob")

	t.Run("runs to the end", func(t *testing.T) {
		request(t, alice, "_TASK_START:VIEW", "start-1", map[string]any{"type": "review", "stepMs": 1})
		v := waitView(t, alice, func(v viewState) bool { return v.LastReview != "" && len(v.RunningTasks) == 0 })
		if !strings.HasPrefix(v.LastReview, "2 notes, 15 words") || v.Progress != 0 {
			t.Errorf("view after the review = %+v", v)
		}
		seen(t, alice, "toast", toast("success", "Review finished: 2 notes, 15 words"))
	})

	t.Run("cancelled", func(t *testing.T) {
		request(t, alice, "_TASK_START:VIEW", "start-2", map[string]any{"type": "review", "stepMs": 20})
		waitView(t, alice, func(v viewState) bool { return v.Progress > 0 && slices.Equal(v.RunningTasks, []string{"review"}) })
		f := request(t, alice, "_TASK_START:VIEW", "start-3", map[string]any{"type": "review"})
		if code, _ := errorCode(t, f.Error); code != "task_running" {
			t.Errorf("second start: error %s, want task_running", f.Error)
		}
		request(t, alice, "_TASK_CANCEL:VIEW", "cancel-1", map[string]any{"type": "review"})
		seen(t, alice, "cancelled status", func(f wssynctest.Frame) bool {
			return f.Type == "_TASK_STATUS:VIEW" && strings.Contains(string(f.Data), `"status":"cancelled"`)
		})
		waitView(t, alice, func(v viewState) bool { return v.Progress == 0 && len(v.RunningTasks) == 0 })
		seen(t, alice, "toast", toast("warning", "Review cancelled at "))
	})

	t.Run("bad params", func(t *testing.T) {
		f := request(t, alice, "_TASK_START:VIEW", "start-4", map[string]any{"type": "review", "stepMs": 5000})
		if code, path := errorCode(t, f.Error); code != "bad_params" || path != "/stepMs" {
			t.Errorf("error = %s, want bad_params at /stepMs", f.Error)
		}
	})

	// The view is private: bob's never moved.
	if v := waitView(t, bob, func(viewState) bool { return true }); v.LastReview != "" || v.Name != guestName("bob") {
		t.Errorf("bob's view = %+v", v)
	}
}
