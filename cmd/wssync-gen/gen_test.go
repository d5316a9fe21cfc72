package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// The golden file is also the fixture of @wssync/react's type tests (test/typed.test.ts),
// so tsc checks that what the generator writes types the hooks as promised.
var (
	update = flag.Bool("update", false, "rewrite the golden file")
	golden = filepath.Join("..", "..", "web", "react-hook", "test", "schema.gen.ts")
)

type Note struct {
	ID     string    `json:"id"`
	Text   string    `json:"text" doc:"what the note says"`
	Tags   []string  `json:"tags,omitempty"`
	Edited time.Time `json:"edited"`
	Reply  *Note     `json:"reply"`
}

type Board struct {
	Title    string            `sync:"title,write" doc:"the board's title" validate:"required,max=60"`
	Notes    []Note            `sync:"notes" validate:"required"`
	Archived []Note            `sync:"archived"`
	Priority string            `sync:"priority,write" validate:"oneof=low high"`
	Meta     map[string]string `sync:"meta"`
	Owner    *string           `sync:"owner"`
	Count    int               `sync:"count"`
	Pinned   wssync.List[Note] `sync:"pinned"`
}

type Presence struct {
	Online []string `sync:"online"`
	Topic  string   `sync:"topic,write=host|moderator"`
}

type renameParams struct {
	ID   string `json:"id"`
	Text string `json:"text" validate:"min=1,max=200"`
}

type exportParams struct {
	Format string `json:"format" validate:"oneof=csv json"`
	Limit  int    `json:"limit,omitempty"`
}

// Events the fixture's server sends.
var (
	_ = wssync.DefineEvent[struct {
		By    string `json:"by"`
		Title string `json:"title"`
	}]("note_added")
	_ = wssync.DefineEvent[int]("unread")
)

// fixtureSchema registers a session's board (in a scope), a shared object, actions with
// and without results, a task, running tasks, a computed value, custom events, and (above) the events the server sends.
func fixtureSchema(t *testing.T) *wssync.Schema {
	t.Helper()
	sess := wssync.NewSession()
	t.Cleanup(sess.Close)
	b, err := wssync.Register(sess.Scope("room-7"), "BOARD", &Board{Notes: []Note{}}, wssync.WithRunningTasks("runningTasks"),
		wssync.WithComputed("noteCount", func() any { return 0 }))
	if err != nil {
		t.Fatal(err)
	}
	must(t, wssync.ActionResult(b, "rename", func(ctx context.Context, p renameParams) (Note, error) { return Note{}, nil }))
	must(t, wssync.Action(b, "clear", func(ctx context.Context, p struct{}) error { return nil }))
	must(t, wssync.ActionResult(b, "count", func(ctx context.Context, p struct{}) (int, error) { return 0, nil }))
	must(t, wssync.Task(b, "export", func(ctx context.Context, p exportParams) error { return nil }))
	must(t, wssync.TaskResult(b, "summarize", func(ctx context.Context, p struct{}) (Note, error) { return Note{}, nil }))
	shared, err := wssync.NewShared("PRESENCE", &Presence{})
	if err != nil {
		t.Fatal(err)
	}
	must(t, shared.Join(sess))
	must(t, wssync.On(sess, "typing", func(ctx context.Context, p struct {
		Field string `json:"field"`
	}) error {
		return nil
	}))
	must(t, wssync.On(sess, "heartbeat", func(ctx context.Context, n int) error { return nil }))
	sc, err := sess.Schema()
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestGolden: the fixture's schema, through JSON as a server prints it, generates the
// golden file byte for byte (go test ./cmd/wssync-gen -update rewrites it).
func TestGolden(t *testing.T) {
	data, err := json.Marshal(fixtureSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(in, "", nil, &out); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("output differs from %s (run with -update after checking):\n%s", golden, out.String())
	}
	if !strings.HasPrefix(out.String(), "// Code generated ") || !strings.Contains(strings.SplitN(out.String(), "\n", 2)[0], "DO NOT EDIT.") {
		t.Error("no generated-code header")
	}
}

// TestGeneratedShapes pins the promises one by one, so a golden file rewritten by mistake
// does not hide a broken one.
func TestGeneratedShapes(t *testing.T) {
	ts, err := generate(fixtureSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"export interface Room7BoardState {",
		"  /** the board's title (the server checks `validate:\"required,max=60\"`) */\n  title: string;", // writable: no readonly
		"  readonly notes: Note[];",                          // validate:"required": never null
		"  readonly archived: Note[] | null;",                // a nil slice is null
		"  readonly pinned: Note[];",                         // a List: never null
		`  priority: "low" | "high";`,                        // oneof
		"  readonly meta: { [key: string]: string } | null;", // map
		"  readonly owner: string | null;",                   // pointer
		"  readonly runningTasks: string[];",                 // WithRunningTasks
		"  readonly noteCount: number;",                      // computed, typed by its value
		"  tags?: string[] | null;",                          // omitempty in a nested struct
		"  reply: Note | null;",                              // recursive pointer
		"  rename: { params: {\n    id: string;\n    /** The server checks `validate:\"min=1,max=200\"`. */\n    text: string;\n  }; result: Note };",
		"  clear: { params: {}; result: null };",
		"  count: { params: {}; result: number };",
		"  export: { params: {\n    /** The server checks `validate:\"oneof=csv json\"`. */\n    format: \"csv\" | \"json\";\n    limit?: number;\n  } };",
		`  "room-7/BOARD": { state: Room7BoardState; actions: Room7BoardActions; tasks: Room7BoardTasks };`,
		"  PRESENCE: { state: PresenceState; actions: PresenceActions; tasks: PresenceTasks };",
		"  heartbeat: number;",
		"  typing: {\n    field: string;\n  };",
		`export const keys = ["PRESENCE", "room-7/BOARD"] as const;`,
		"  CloseUnauthorized: 4004; // terminal: do not reconnect on your own",
		"export interface PresenceActions {}",
		"  /** Writable by the roles host, moderator only. */\n  topic: string;", // a write rule: writable, by some
		`  | "read_only"`,
	} {
		if !strings.Contains(ts, want) {
			t.Errorf("missing %q in:\n%s", want, ts)
		}
	}
	if strings.Count(ts, "export interface Note {") != 1 {
		t.Error("Note, used by the state and a result, is not declared exactly once")
	}
}

// TestRunRefusesOtherVersions: a schema of another layout is refused, not misread.
func TestRunRefusesOtherVersions(t *testing.T) {
	var out bytes.Buffer
	err := run("", "", strings.NewReader(`{"version":99,"keys":[]}`), &out)
	if err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("err %v", err)
	}
	if err := run("", "", strings.NewReader(`{"version":`), &out); err == nil {
		t.Error("truncated JSON accepted")
	}
}

// TestRunWritesOnlyChanges: -out leaves an up-to-date file alone.
func TestRunWritesOnlyChanges(t *testing.T) {
	data, err := json.Marshal(fixtureSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "x.gen.ts")
	must(t, run("", out, bytes.NewReader(data), nil))
	old := time.Now().Add(-time.Hour)
	must(t, os.Chtimes(out, old, old))
	must(t, run("", out, bytes.NewReader(data), nil))
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().Equal(old) {
		t.Error("an unchanged file was rewritten")
	}
}
