package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/wssync/wssync"
)

// Params of the shared list's actions. wssync decodes `{"type": NAME, ...params}` into
// them with type checks, refuses unknown or missing members, and calls Validate before
// the handler: a refusal reaches the browser as `bad_params` with the param's path.
type (
	addParams struct {
		Text string `json:"text"`
	}
	removeParams struct {
		ID string `json:"id"`
	}
	renameParams struct {
		ID   string `json:"id"`
		Text string `json:"text"`
	}
)

func (p addParams) Validate() error    { return checkNoteText(p.Text) }
func (p renameParams) Validate() error { return checkNoteText(p.Text) }

func checkNoteText(text string) error {
	if strings.TrimSpace(text) == "" {
		return &wssync.FieldError{Path: "/text", Message: "A note needs some text."}
	}
	if l := utf8.RuneCountInString(text); l > maxNoteLen {
		return &wssync.FieldError{Path: "/text", Message: fmt.Sprintf("A note is at most %d characters; this one has %d.", maxNoteLen, l)}
	}
	return nil
}

// registerNoteActions adds the list's actions to the shared object: they serve every
// session that joined it. Handlers only mutate; wssync publishes the change (one patch,
// fanned out to every tab) when they return.
//
// toastOthers tells every tab of the list but the caller's (see app.toastOthers).
func registerNoteActions(notes *wssync.Synced[Notes], toastOthers func(ctx context.Context, text string)) error {
	// add returns the new note, so a caller that sent a request id gets it in `_RESULT`.
	if err := wssync.ActionResult(notes, "add", func(ctx context.Context, p addParams) (Note, error) {
		author := nameOf(ctx)
		id, _ := wssync.IdentityFrom(ctx)
		var note Note
		var err error
		_ = notes.Update(func(n *Notes) {
			if note, err = n.add(strings.TrimSpace(p.Text), author, ownerOf(id)); err == nil {
				n.log(fmt.Sprintf("%s added %s “%s”", author, note.ID, note.Text))
			}
		})
		if err != nil {
			return Note{}, err
		}
		toastOthers(ctx, fmt.Sprintf("%s added “%s”", author, note.Text))
		return note, nil
	}); err != nil {
		return err
	}
	if err := wssync.Action(notes, "remove", func(ctx context.Context, p removeParams) error {
		return change(ctx, notes, p.ID, func(n *Notes, i int) string {
			n.Notes = append(n.Notes[:i], n.Notes[i+1:]...)
			return "removed"
		})
	}); err != nil {
		return err
	}
	return wssync.Action(notes, "rename", func(ctx context.Context, p renameParams) error {
		return change(ctx, notes, p.ID, func(n *Notes, i int) string {
			n.Notes[i].Text = strings.TrimSpace(p.Text)
			return "renamed"
		})
	})
}

// change applies edit to the note with id when the caller may change it (its author or an
// admin, see mayChange), and logs it. The check and the edit run under one lock, so a
// note cannot change hands between them.
func change(ctx context.Context, notes *wssync.Synced[Notes], id string, edit func(n *Notes, i int) string) error {
	err := errNoNote(id)
	_ = notes.Update(func(n *Notes) {
		i := n.find(id)
		switch {
		case i < 0:
		case !mayChange(ctx, n.Notes[i]):
			err = errNotYours
		default:
			n.log(fmt.Sprintf("%s %s %s", nameOf(ctx), edit(n, i), id))
			err = nil
		}
	})
	return err
}

// errNotYours is what a tab sees when it acts on another author's note.
var errNotYours = errors.New("only its author (or an admin) may change this note")

// errNoNote is what a tab sees when it acts on a note another tab removed meanwhile.
func errNoNote(id string) error {
	return fmt.Errorf("note %s no longer exists (another tab may have removed it)", id)
}
