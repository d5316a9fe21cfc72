package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wssync/wssync"
	"github.com/wssync/wssync/wssynctest"
)

// stateJSON is the shared list as the server holds it, encoded.
func stateJSON(t *testing.T, a *app) string {
	t.Helper()
	var b []byte
	var err error
	a.share.Read(func(n *Notes) { b, err = json.Marshal(n) })
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// edits.go: "a tab [may] edit the text of a note it may change ... by writing the list
// itself", and two tabs that edit different notes both keep their edit.
func TestNoteTextWrites(t *testing.T) {
	a, srv := startServer(t)
	alice, bob := dial(t, srv, "alice", "s-alice"), dial(t, srv, "bob", "s-bob")
	request(t, alice, "_ACTION:NOTES", "a1", map[string]any{"type": "add", "text": "alice's"})
	request(t, bob, "_ACTION:NOTES", "b1", map[string]any{"type": "add", "text": "bob's"})
	waitNotes(t, alice, func(n Notes) bool { return len(n.Notes) == 4 })
	waitNotes(t, bob, func(n Notes) bool { return len(n.Notes) == 4 })

	// Both write at once, each the text of its own note, from the same list.
	if err := alice.Patch("NOTES", wssynctest.Replace("/notes/2/text", "alice edited")); err != nil {
		t.Fatal(err)
	}
	if err := bob.Patch("NOTES", wssynctest.Replace("/notes/3/text", "bob edited")); err != nil {
		t.Fatal(err)
	}
	both := func(n Notes) bool {
		return len(n.Notes) == 4 && n.Notes[2].Text == "alice edited" && n.Notes[3].Text == "bob edited"
	}
	waitNotes(t, alice, both)
	waitNotes(t, bob, both)

	admin := dialAdmin(t, srv, "s-admin")
	if err := admin.Patch("NOTES", wssynctest.Replace("/notes/3/text", "moderated")); err != nil {
		t.Fatal(err)
	}
	waitNotes(t, bob, func(n Notes) bool { return n.Notes[3].Text == "moderated" })

	refusals := []struct {
		name string
		op   wssynctest.Op
		code string
		path string
	}{
		{"another user's note", wssynctest.Replace("/notes/3/text", "taken over"), "read_only", "/notes/3"},
		{"the server's note", wssynctest.Replace("/notes/0/text", "mine now"), "read_only", "/notes/0"},
		{"the owner", wssynctest.Replace("/notes/2/owner", "someone"), "read_only", "/notes/2"},
		{"the id", wssynctest.Replace("/notes/2/id", "n1"), "read_only", "/notes/2"},
		{"an added note", wssynctest.Op{Op: "add", Path: "/notes/-", Value: map[string]any{"id": "n9", "text": "x", "author": "a", "owner": "b"}}, "read_only", "/notes"},
		{"a removed note", wssynctest.Op{Op: "remove", Path: "/notes/2"}, "read_only", "/notes"},
		{"blank text", wssynctest.Replace("/notes/2/text", "  "), "rejected", "/notes/2/text"},
		{"too long", wssynctest.Replace("/notes/2/text", strings.Repeat("x", maxNoteLen+1)), "rejected", "/notes/2/text"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := stateJSON(t, a)
			if err := alice.Patch("NOTES", tc.op); err != nil {
				t.Fatal(err)
			}
			f, err := alice.WaitFrame(testCtx(t), func(f wssynctest.Frame) bool { return f.Type == "_ERROR" })
			if err != nil {
				t.Fatal(err)
			}
			if code, path := errorCode(t, f.Data); code != tc.code || path != tc.path {
				t.Errorf("_ERROR = %s, want %s at %s", f.Data, tc.code, tc.path)
			}
			if after := stateJSON(t, a); after != before {
				t.Errorf("a refused write changed the state:\n%s\n%s", before, after)
			}
		})
	}
	// Nothing refused reached bob.
	waitNotes(t, bob, func(n Notes) bool {
		return len(n.Notes) == 4 && n.Notes[0].Text == newNotes().Notes[0].Text && n.Notes[2].Text == "alice edited" && n.Notes[3].Text == "moderated"
	})
}

// checkNoteEdits accepts a list only when it differs from the one before in the texts of
// the writer's notes, each 1 to maxNoteLen runes; for anything else it names a path inside
// /notes. Fuzzed with lists decoded from JSON, as a client's write would carry them.
func FuzzCheckNoteEdits(f *testing.F) {
	prev := []Note{
		{ID: "n1", Text: "the server's", Author: "server"},
		{ID: "n2", Text: "mine", Author: "Guest a", Owner: "me"},
		{ID: "n3", Text: "theirs", Author: "Guest b", Owner: "them"},
	}
	mine := func(n Note) bool { return n.Owner == "me" }
	seed, _ := json.Marshal(prev)
	f.Add(seed)
	f.Add([]byte(`[{"id":"n1","text":"the server's","author":"server"},{"id":"n2","text":"edited","author":"Guest a","owner":"me"},{"id":"n3","text":"theirs","author":"Guest b","owner":"them"}]`))
	f.Add([]byte(`[{"id":"n1","text":"x","author":"server"},{"id":"n2","text":"mine","author":"Guest a","owner":"me"},{"id":"n3","text":"theirs","author":"Guest b","owner":"me"}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var next []Note
		if json.Unmarshal(data, &next) != nil {
			return
		}
		err := checkNoteEdits(prev, next, mine)
		if err != nil {
			var we *wssync.Error
			var fe *wssync.FieldError
			switch {
			case errors.As(err, &we):
				if we.Code != wssync.CodeReadOnly || !strings.HasPrefix(we.Path, "/notes") {
					t.Fatalf("refusal %v, want read_only inside /notes", err)
				}
			case errors.As(err, &fe):
				if !strings.HasPrefix(fe.Path, "/notes/") || !strings.HasSuffix(fe.Path, "/text") {
					t.Fatalf("refusal %v, want a text's path", err)
				}
			default:
				t.Fatalf("refusal of an unknown type: %v", err)
			}
			return
		}
		if len(next) != len(prev) {
			t.Fatalf("accepted a list of %d notes, had %d", len(next), len(prev))
		}
		for i := range next {
			was, now := prev[i], next[i]
			was.Text, now.Text = "", ""
			if was != now {
				t.Fatalf("accepted a change of note %d beyond its text: %+v", i, next[i])
			}
			if next[i].Text != prev[i].Text && (!mine(prev[i]) || checkNoteText(next[i].Text) != nil) {
				t.Fatalf("accepted text %q for note %d", next[i].Text, i)
			}
		}
	})
}

// edits.go: an accepted write's renames go to the admins' activity log, as the rename
// action's do; a refused write logs nothing.
func TestRenameByWriteIsLogged(t *testing.T) {
	_, srv := startServer(t)
	alice := dial(t, srv, "alice", "s-alice")
	admin := dialAdmin(t, srv, "s-admin")
	request(t, alice, "_ACTION:NOTES", "a1", map[string]any{"type": "add", "text": "draft"})
	waitNotes(t, alice, func(n Notes) bool { return len(n.Notes) == 3 })
	renames := func(n Notes, id string) int {
		c := 0
		for _, e := range n.Activity {
			if strings.HasSuffix(e, " renamed "+id) {
				c++
			}
		}
		return c
	}
	var n Notes
	if err := alice.Decode("NOTES", &n); err != nil {
		t.Fatal(err)
	}
	id := n.Notes[2].ID

	if err := alice.Patch("NOTES", wssynctest.Replace("/notes/2/text", "renamed by a write")); err != nil {
		t.Fatal(err)
	}
	waitNotes(t, admin, func(n Notes) bool { return renames(n, id) == 1 })
	// A refused write (blank text) is not logged; the rename action after it is, once more.
	if err := alice.Patch("NOTES", wssynctest.Replace("/notes/2/text", " ")); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.WaitFrame(testCtx(t), func(f wssynctest.Frame) bool { return f.Type == "_ERROR" }); err != nil {
		t.Fatal(err)
	}
	request(t, alice, "_ACTION:NOTES", "a2", map[string]any{"type": "rename", "id": id, "text": "by the action"})
	waitNotes(t, admin, func(n Notes) bool { return renames(n, id) == 2 && n.Notes[2].Text == "by the action" })
}
