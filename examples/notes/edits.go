package main

import (
	"context"
	"strconv"

	"github.com/wssync/wssync"
)

// ValidateWriteContext lets a tab edit the text of a note it may change (its author's tabs,
// or an admin's, see mayChange) by writing the list itself, as the page's draft updates do
// (`replace /notes/3/text`), and refuses every other change to the list. Two tabs that edit
// different notes therefore both keep their edit: each write replaces one text, not the list.
//
// The library's `owner=` rule does not fit here: it compares an element's owner member with
// the writer's user id, and a note carries only ownerOf of it, a hash, because the user id
// is half of what resumes a session. So the same rule is written out: the list keeps its
// length and every note its id, author and owner (adding and removing go through the add
// and remove actions, which number, bound and log the notes); a changed text must belong to
// a note the writer may change, and is bounded like the rename action's.
//
// Refusals: another user's note, or a change to anything but a text, is `read_only` at the
// note's path (or /notes when the length changes); a blank or too long text is `rejected`
// at /notes/i/text. The write is then dropped whole, the state untouched.
//
// An accepted write's renames go to the admins' activity log, as the rename action's do:
// the validator holds the object's lock, so it hands them to renamed, which logs them
// through Update once the write is in (see logRenames).
func (n *Notes) ValidateWriteContext(ctx context.Context, prev, next *Notes) error {
	if err := checkNoteEdits(prev.Notes, next.Notes, func(note Note) bool { return mayChange(ctx, note) }); err != nil {
		return err
	}
	texts := map[string]string{}
	for i, note := range next.Notes {
		if note.Text != prev.Notes[i].Text {
			texts[note.ID] = note.Text
		}
	}
	if len(texts) > 0 && n.renamed != nil {
		n.renamed(nameOf(ctx), texts)
	}
	return nil
}

// logRenames returns the renamed hook of the shared list: it logs each rename by a client
// write in the activity log, as the rename action does ("NAME renamed ID"). It runs on its
// own goroutine, which waits for the write's lock to be released and ends after one Update;
// a note whose text is no longer the written one (removed, or the write did not land) is
// not logged.
func logRenames(notes func() *wssync.Synced[Notes]) func(by string, texts map[string]string) {
	return func(by string, texts map[string]string) {
		go func() {
			_ = notes().Update(func(n *Notes) {
				for _, note := range n.Notes {
					if text, ok := texts[note.ID]; ok && note.Text == text {
						n.log(by + " renamed " + note.ID)
					}
				}
			})
		}()
	}
}

// checkNoteEdits is ValidateWriteContext's rule on the lists before and after a write, with
// may telling whether the writer may change a note (apart from ctx, so it can be fuzzed).
func checkNoteEdits(prev, next []Note, may func(Note) bool) error {
	if len(next) != len(prev) {
		return &wssync.Error{Code: wssync.CodeReadOnly, Path: "/notes", Message: "notes are added and removed through the add and remove actions"}
	}
	for i := range next {
		was, now := prev[i], next[i]
		path := "/notes/" + strconv.Itoa(i)
		switch {
		case now.ID != was.ID || now.Author != was.Author || now.Owner != was.Owner:
			return &wssync.Error{Code: wssync.CodeReadOnly, Path: path, Message: "only a note's text may be written"}
		case now.Text == was.Text:
		case !may(was):
			return &wssync.Error{Code: wssync.CodeReadOnly, Path: path, Message: errNotYours.Error()}
		default:
			if err := checkNoteText(now.Text); err != nil {
				return &wssync.FieldError{Path: path + "/text", Message: err.(*wssync.FieldError).Message}
			}
		}
	}
	return nil
}
