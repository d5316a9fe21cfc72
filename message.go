package wssync

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/wssync/wssync/internal/proto"
)

// Message is a server-to-client frame to address to sessions with Manager.Send or
// Publisher.Send: a custom event (NewEvent, or typed with DefineEvent), a toast
// (NewToast), an exposed action (NewAction) or a file (NewDownload).
//
// Every message has an ID, random unless set with WithID. A node delivers a message ID at
// most once (it remembers the last DefaultSeenMessages IDs it delivered), so a Send that
// failed can be repeated with the same Message, and a copy that the event bus delivers
// twice is dropped.
type Message struct {
	id    string
	event string // the frame's type
	data  []byte // the frame's data, JSON
	key   string // for an exposed action: only sessions that have this key take it

	transient bool // not kept for a disconnected session
}

// MaxMessageID bounds the length of a message ID.
const MaxMessageID = 64

// ErrReservedEvent is the error of NewEvent for a name the protocol reserves: a name that
// starts with "_" (the protocol's own events, such as _SET) or is "pong" (the answer to
// the application-level ping).
var ErrReservedEvent = errors.New("wssync: event name reserved by the protocol")

// NewEvent makes a custom event {"type": name, "data": data}, data as encoding/json
// marshals it. The React hook passes it to useEvent(name, handler).
func NewEvent(name string, data any) (Message, error) {
	if name == "" || strings.HasPrefix(name, "_") || name == proto.Pong {
		return Message{}, fmt.Errorf("%w: %q", ErrReservedEvent, name)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return Message{}, fmt.Errorf("wssync: data of %q: %w", name, err)
	}
	return newMessage(name, b, ""), nil
}

// NewToast makes a `_TOAST` notification.
func NewToast(kind ToastKind, text string) (Message, error) {
	if !kind.known() {
		return Message{}, fmt.Errorf("wssync: unknown toast kind %q", kind)
	}
	b, _ := json.Marshal(toastData{kind, text}) // strings only: cannot fail
	return newMessage(proto.Toast, b, ""), nil
}

// NewAction makes an exposed action of key (`_ACTION:KEY` with {"type": name, ...params}).
// params must marshal to a JSON object, or be nil. Only sessions that have key take it;
// the others the target names count as Delivery.Skipped.
func NewAction(key, name string, params any) (Message, error) {
	if err := checkKey(key); err != nil {
		return Message{}, err
	}
	b, err := mergeType(name, params)
	if err != nil {
		return Message{}, err
	}
	return newMessage(proto.Keyed(proto.Action, key), b, key), nil
}

// NewDownload makes a `_DOWNLOAD` frame: a file for the browser to save.
func NewDownload(filename string, data []byte) Message {
	b, _ := json.Marshal(newDownload(filename, data)) // strings only: cannot fail
	return newMessage(proto.Download, b, "")
}

func newMessage(event string, data []byte, key string) Message {
	return Message{id: newMessageID(), event: event, data: data, key: key}
}

// newMessageID returns 16 random bytes in base64url: unique without coordination.
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ID returns the message's ID.
func (m Message) ID() string { return m.id }

// Event returns the frame's type: the custom event's name, or the protocol's name of a
// toast, an exposed action of a key, or a download.
func (m Message) Event() string { return m.event }

// WithID returns m with the ID id (at most MaxMessageID bytes; an empty or longer id keeps
// the random one): an ID derived from what the message is about (a job's ID, a row's
// version) makes a message sent twice, by a retry or by two processes, arrive once.
func (m Message) WithID(id string) Message {
	if id != "" && len(id) <= MaxMessageID {
		m.id = id
	}
	return m
}

// Transient returns m marked as not worth keeping for a disconnected session (a typing
// indicator, a cursor): a session without a connection counts it as NotConnected instead
// of queueing it in its backlog.
func (m Message) Transient() Message {
	m.transient = true
	return m
}

// frame builds the frame the message travels as.
func (m Message) frame() *frame { return eventFrame(m.event, m.data) }

// size is what the message weighs in a session's backlog.
func (m Message) size() int { return len(m.event) + len(m.data) + len(m.id) }

// Event is a typed custom event: its name and the Go type of its data, declared once and
// used wherever it is sent, so every sender sends the same shape.
//
//	var NoteAdded = wssync.DefineEvent[NoteAddedData]("note_added")
//	msg, err := NoteAdded.Message(NoteAddedData{By: "ada", Title: "Groceries"})
type Event[T any] struct{ name string }

// DefineEvent declares the server-to-client event name with data of type T, for the
// whole process: every Schema lists it under ServerEvents, so cmd/wssync-gen types it for
// the React hook's useEvent. It panics on a name NewEvent refuses, and on a name declared
// before with another type: declarations are made once, at init.
func DefineEvent[T any](name string) Event[T] {
	if _, err := NewEvent(name, nil); err != nil {
		panic(err)
	}
	t := reflect.TypeFor[T]()
	if prev, dup := serverEvents.LoadOrStore(name, t); dup && prev != t {
		panic(fmt.Sprintf("wssync: event %q declared with data %v and %v", name, prev, t))
	}
	return Event[T]{name: name}
}

// serverEvents holds the events DefineEvent declared: name → the reflect.Type of the data.
var serverEvents sync.Map

// Name returns the event's name.
func (e Event[T]) Name() string { return e.name }

// Message makes the event with data.
func (e Event[T]) Message(data T) (Message, error) { return NewEvent(e.name, data) }
