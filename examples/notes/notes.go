package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wssync/wssync"
)

// Limits that keep one browser from filling the shared list without bound. They are
// checked on the server: the browser's own checks are a convenience, never the guard.
const (
	maxTitleLen = 60  // runes in the title
	maxNoteLen  = 200 // runes in one note
	maxNotes    = 100 // notes in the list
	maxActivity = 20  // entries kept in the admins' activity log
)

// Notes is the shared state: one list and one title for every session of the server.
// It is synced with wssync.NewShared, so a change is diffed and encoded once and the same
// frame reaches every browser tab.
type Notes struct {
	Title string `sync:"title,write"` // any tab may rename the list; ValidateWrite bounds it
	// Notes is writable, but only a note's text, by its author or an admin (see
	// ValidateWriteContext in edits.go): adding and removing go through actions.
	Notes []Note `sync:"notes,write"`
	// Activity is who did what, newest last. Only admins see it: the guest view of the
	// shared object hides it (see newApp), so no byte of it reaches a guest's tab.
	Activity []string `sync:"activity"`

	nextID int // unexported, so not synced: the source of note ids
	// renamed hears the notes a client write renamed, once ValidateWriteContext let it
	// through (see edits.go); nil in tests that build a bare Notes.
	renamed func(by string, texts map[string]string)
}

// Note is one entry of the list.
type Note struct {
	ID     string `json:"id"`     // stable across renames and removals of other notes
	Text   string `json:"text"`   // what the note says
	Author string `json:"author"` // display name of the tab that added it
	// Owner tells the author's tabs apart from the others' (ownerOf of its user id) without
	// showing the id: only the author, or an admin, may rename or remove the note.
	Owner string `json:"owner"`
}

// ValidateWrite vetoes client writes to the title (notes are checked by
// ValidateWriteContext, which knows the writer). It runs with
// the object locked, on a copy with the write applied; a refusal leaves Notes untouched
// and the writer gets a `rejected` error pointing at /title, then the current state.
func (n *Notes) ValidateWrite(next *Notes) error {
	if strings.TrimSpace(next.Title) == "" {
		return &wssync.FieldError{Path: "/title", Message: "The title cannot be empty."}
	}
	if l := utf8.RuneCountInString(next.Title); l > maxTitleLen {
		return &wssync.FieldError{Path: "/title", Message: fmt.Sprintf("The title is %d characters long; at most %d are allowed.", l, maxTitleLen)}
	}
	return nil
}

// find returns the index of the note with id, or -1. The caller holds the object's lock.
func (n *Notes) find(id string) int {
	for i := range n.Notes {
		if n.Notes[i].ID == id {
			return i
		}
	}
	return -1
}

// highestID returns the largest number among the ids "nN" of the list.
func (n *Notes) highestID() int {
	high := 0
	for _, note := range n.Notes {
		if k, err := strconv.Atoi(strings.TrimPrefix(note.ID, "n")); err == nil {
			high = max(high, k)
		}
	}
	return high
}

// add appends a note by author (display name) and owner (ownerOf) and returns it. The
// caller holds the object's lock.
func (n *Notes) add(text, author, owner string) (Note, error) {
	if len(n.Notes) >= maxNotes {
		return Note{}, fmt.Errorf("the list is full (%d notes); remove one first", maxNotes)
	}
	// Past every id in the list too: with -redis, another server may have added notes.
	n.nextID = max(n.nextID, n.highestID()) + 1
	note := Note{ID: fmt.Sprintf("n%d", n.nextID), Text: text, Author: author, Owner: owner}
	n.Notes = append(n.Notes, note)
	return note, nil
}

// log records an entry of the admins' activity log, dropping the oldest past maxActivity.
// The caller holds the object's lock.
func (n *Notes) log(entry string) {
	n.Activity = append(n.Activity, time.Now().Format("15:04:05")+" "+entry)
	if over := len(n.Activity) - maxActivity; over > 0 {
		n.Activity = append(n.Activity[:0:0], n.Activity[over:]...)
	}
}

// newNotes returns the list the server starts with.
func newNotes() *Notes {
	n := &Notes{Title: "Team notes"}
	// The server's notes have no owner: only an admin may rename or remove them.
	_, _ = n.add("Edit the title: every tab sees it", "server", "")
	_, _ = n.add("Open a second tab and add a note", "server", "")
	return n
}
