package wssync

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wssync/wssync/internal/patch"
	"github.com/wssync/wssync/internal/proto"
)

// envelope is an addressed message as it travels on an EventBus: JSON, versioned, so a
// node can refuse what it does not understand instead of misdelivering it.
type envelope struct {
	V      int             `json:"v"`              // envelopeVersion
	ID     string          `json:"id"`             // the message's ID
	From   string          `json:"from,omitempty"` // the sending node; "" from a Publisher
	To     byte            `json:"to"`             // the target's kind: 's', 'u', 'k' or 'e'
	Target string          `json:"t,omitempty"`    // the session id, user id or key
	Except string          `json:"x,omitempty"`    // a session id left out
	Event  string          `json:"ev"`             // the frame's type
	Key    string          `json:"k,omitempty"`    // an exposed action's key
	Trans  bool            `json:"tr,omitempty"`   // transient
	Data   json.RawMessage `json:"d"`              // the frame's data
}

const envelopeVersion = 1

// MaxEnvelope bounds the payload of one message on the event bus; Send refuses a larger
// message, and a node drops a larger payload it receives.
const MaxEnvelope = 4 << 20

var targetCodes = map[targetKind]byte{targetSession: 's', targetUser: 'u', targetKey: 'k', targetEveryone: 'e'}

// errBadEnvelope is a payload from the bus a node cannot deliver.
var errBadEnvelope = errors.New("wssync: malformed message on the event bus")

// encodeEnvelope encodes msg to t, sent by node from.
func encodeEnvelope(from string, t Target, m Message) ([]byte, error) {
	b, err := json.Marshal(envelope{V: envelopeVersion, ID: m.id, From: from, To: targetCodes[t.kind],
		Target: t.id, Except: t.except, Event: m.event, Key: m.key, Trans: m.transient, Data: m.data})
	if err != nil {
		return nil, err
	}
	if len(b) > MaxEnvelope {
		return nil, fmt.Errorf("wssync: message of %d bytes on the event bus, more than MaxEnvelope (%d)", len(b), MaxEnvelope)
	}
	return b, nil
}

// decodeEnvelope decodes a payload from the bus, checking everything a sender could get
// wrong: a node never delivers a frame it could not have sent itself.
func decodeEnvelope(payload []byte) (from string, t Target, m Message, err error) {
	if len(payload) > MaxEnvelope {
		return "", t, m, errBadEnvelope
	}
	var e envelope
	if json.Unmarshal(payload, &e) != nil || e.V != envelopeVersion {
		return "", t, m, errBadEnvelope
	}
	for k, code := range targetCodes {
		if code == e.To {
			t = Target{kind: k, id: e.Target, except: e.Except}
		}
	}
	if !t.valid() || len(t.except) > maxTargetID || e.ID == "" || len(e.ID) > MaxMessageID || !validEnvelopeEvent(e.Event, e.Key) {
		return "", Target{}, Message{}, errBadEnvelope
	}
	if len(e.Data) == 0 || !json.Valid(e.Data) || !validEnvelopeData(e.Event, e.Key, e.Data) {
		return "", Target{}, Message{}, errBadEnvelope
	}
	m = Message{id: e.ID, event: e.Event, data: e.Data, key: e.Key, transient: e.Trans}
	return e.From, t, m, nil
}

// validEnvelopeEvent reports whether event (with key) is one a Message constructor makes.
func validEnvelopeEvent(event, key string) bool {
	switch {
	case key != "":
		return checkKey(key) == nil && event == proto.Keyed(proto.Action, key)
	case event == proto.Toast, event == proto.Download:
		return true
	}
	return event != "" && !strings.HasPrefix(event, "_") && event != proto.Pong
}

// validEnvelopeData reports whether data is what the constructor of event makes: a toast
// of a known kind, a download with a base64 file, an action object whose one "type" is a
// string. A custom event's data is any JSON.
func validEnvelopeData(event, key string, data []byte) bool {
	switch {
	case key != "":
		types := 0
		var name string
		err := patch.ObjectMembers(data, func(k string, v []byte) error {
			if k == "type" {
				types++
				name, _ = patch.String(v)
			}
			return nil
		})
		return err == nil && types == 1 && name != ""
	case event == proto.Toast:
		var t struct {
			Type    *ToastKind `json:"type"`
			Message *string    `json:"message"`
		}
		return strictJSON(data, &t) && t.Type != nil && t.Type.known() && t.Message != nil
	case event == proto.Download:
		var d struct {
			Filename *string `json:"filename"`
			Data     *string `json:"data"`
		}
		if !strictJSON(data, &d) || d.Filename == nil || d.Data == nil {
			return false
		}
		_, err := base64.StdEncoding.DecodeString(*d.Data)
		return err == nil
	}
	return true
}

// strictJSON decodes data into v, refusing members v does not have.
func strictJSON(data []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v) == nil && !dec.More()
}
