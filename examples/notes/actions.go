package main

import (
	"context"
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
func registerNoteActions(notes *wssync.Synced[Notes], r *room) error {
	// add returns the new note, so a caller that sent a request id gets it in `_RESULT`.
	if err := wssync.ActionResult(notes, "add", func(ctx context.Context, p addParams) (Note, error) {
		author := r.name(ctx)
		var note Note
		var err error
		_ = notes.Update(func(n *Notes) { note, err = n.add(strings.TrimSpace(p.Text), author) })
		if err != nil {
			return Note{}, err
		}
		r.toastOthers(ctx, wssync.ToastInfo, fmt.Sprintf("%s added “%s”", author, note.Text))
		return note, nil
	}); err != nil {
		return err
	}
	if err := wssync.Action(notes, "remove", func(ctx context.Context, p removeParams) error {
		var found bool
		_ = notes.Update(func(n *Notes) {
			if i := n.find(p.ID); i >= 0 {
				n.Notes = append(n.Notes[:i], n.Notes[i+1:]...)
				found = true
			}
		})
		if !found {
			return errNoNote(p.ID)
		}
		return nil
	}); err != nil {
		return err
	}
	return wssync.Action(notes, "rename", func(ctx context.Context, p renameParams) error {
		var found bool
		_ = notes.Update(func(n *Notes) {
			if i := n.find(p.ID); i >= 0 {
				n.Notes[i].Text = strings.TrimSpace(p.Text)
				found = true
			}
		})
		if !found {
			return errNoNote(p.ID)
		}
		return nil
	})
}

// errNoNote is what a tab sees when it acts on a note another tab removed meanwhile.
func errNoNote(id string) error {
	return fmt.Errorf("note %s no longer exists (another tab may have removed it)", id)
}
