package wssync

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/wssync/wssync/internal/patch"
	"github.com/wssync/wssync/internal/proto"
)

// This file is the server's side of the wire protocol (docs/protocol.md): it builds every
// frame the server sends. The event names themselves are declared once, in internal/proto,
// which the Go test client (wssynctest) and the backend conformance suite (backendtest)
// import too; nothing else spells one.

// requestUserSessionFrame opens the Manager's handshake.
var requestUserSessionFrame = []byte(`{"type":"` + proto.RequestUserSession + `"}`)

// appendEventHead writes `{"type":"EVENT","data":` with EVENT encoded as a JSON string.
func appendEventHead(buf []byte, event string) []byte {
	buf = append(buf, `{"type":`...)
	buf = appendJSONString(buf, event)
	return append(buf, `,"data":`...)
}

// maxVersionTail is the longest version tail (appendVersionTail): `,"v":`, 20 digits, '}'.
const maxVersionTail = len(`,"v":}`) + 20

// appendVersionTail closes a _SET/_PATCH frame whose data was just written: `,"v":N}`.
func appendVersionTail(buf []byte, v uint64) []byte {
	buf = append(buf, `,"v":`...)
	buf = strconv.AppendUint(buf, v, 10)
	return append(buf, '}')
}

// appendSetTail closes a _SET frame whose state was just written: `,"v":N,"epoch":"E"}`.
// The epoch names the incarnation of the key's history (see object.epoch).
func appendSetTail(buf []byte, v uint64, epoch string) []byte {
	buf = append(buf, `,"v":`...)
	buf = strconv.AppendUint(buf, v, 10)
	buf = append(buf, `,"epoch":`...)
	buf = appendJSONString(buf, epoch)
	return append(buf, '}')
}

// appendSetHead writes the head of key's `_SET` frame, up to its state.
func appendSetHead(buf []byte, key string) []byte {
	return appendEventHead(buf, proto.Keyed(proto.Set, key))
}

// patchHead is the head of key's `_PATCH` frames, up to and including the ops' '['.
func patchHead(key string) []byte {
	return append(appendEventHead(nil, proto.Keyed(proto.Patch, key)), '[')
}

// appendPatchFrame appends the whole `_PATCH` frame of ops p (an RFC 6902 array) leading
// to version v; hd is the key's patchHead.
func appendPatchFrame(buf, hd, p []byte, v uint64) []byte {
	buf = append(buf, hd[:len(hd)-1]...) // the head without its '[': p brings its own
	buf = append(buf, p...)
	return appendVersionTail(buf, v)
}

// eventFrame encodes {"type": event, "data": data}; data is JSON already.
func eventFrame(event string, data []byte) *frame {
	buf := appendEventHead(make([]byte, 0, len(event)+len(data)+24), event)
	return &frame{data: append(append(buf, data...), '}')}
}

// errorFrame encodes e as `_ERROR`, or as an error `_RESULT` for request id.
func errorFrame(e *Error, id string) *frame {
	body, _ := json.Marshal(e) // strings only: cannot fail
	var buf []byte
	if id != "" {
		buf = appendResultHead(buf, id, "error")
	} else {
		buf = appendEventHead(buf, proto.Error)
	}
	buf = append(buf, body...)
	return &frame{data: append(buf, '}')}
}

// lostFrame encodes e as `_ERROR` for a write already acknowledged, with the write's
// request id, when it had one, beside "data" (its `_RESULT` was sent already).
func lostFrame(e *Error, id string) *frame {
	f := errorFrame(e, "")
	if id == "" {
		return f
	}
	buf := append(f.data[:len(f.data)-1:len(f.data)-1], `,"id":`...)
	buf = appendJSONString(buf, id)
	return &frame{data: append(buf, '}')}
}

// resultFrame encodes a successful `_RESULT`.
func resultFrame(id string, result any) (*frame, error) {
	data, err := json.Marshal(result)
	if err != nil {
		return nil, err
	}
	buf := append(appendResultHead(nil, id, "data"), data...)
	return &frame{data: append(buf, '}')}, nil
}

// appendResultHead writes the head of a _RESULT frame: its type, the request id, then
// FIELD's name ("data" or "error").
func appendResultHead(buf []byte, id, field string) []byte {
	buf = append(buf, `{"type":"`+proto.Result+`","id":`...)
	buf = appendJSONString(buf, id)
	return append(buf, `,"`+field+`":`...)
}

// disconnectFrame tells a replaced connection why it is closed, before CloseReplaced.
func disconnectFrame() *frame {
	return &frame{data: []byte(`{"type":"` + proto.Disconnect + `","data":"This session was opened elsewhere; this connection is closed."}`)}
}

// binMetaFrame announces the binary frame that follows as belonging to event.
func binMetaFrame(event string, metadata any) (*frame, error) {
	meta, err := json.Marshal(struct {
		Type     string `json:"type"`
		Metadata any    `json:"metadata"`
	}{event, metadata})
	if err != nil {
		return nil, fmt.Errorf("wssync: metadata of %q: %w", event, bare(err))
	}
	return eventFrame(proto.BinMeta, meta), nil
}

// toastData is the data of a `_TOAST` frame.
type toastData struct {
	Type    ToastKind `json:"type"`
	Message string    `json:"message"`
}

// downloadData is the data of a `_DOWNLOAD` frame: the file travels as base64.
type downloadData struct {
	Filename string `json:"filename"`
	Data     string `json:"data"`
}

func newDownload(filename string, data []byte) downloadData {
	return downloadData{filename, base64.StdEncoding.EncodeToString(data)}
}

// taskStatus is the data of a `_TASK_STATUS:KEY` frame. Result is set only on `done` of a
// TaskResult task (a null result is "null", still present); a Task's output reaches the
// client through the object's state.
type taskStatus struct {
	Type   string          `json:"type"`
	Status string          `json:"status"`
	Error  *Error          `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// Task statuses reported to the client in `_TASK_STATUS:KEY` frames: TaskStarted, then
// one of the others.
const (
	TaskStarted   = "started"
	TaskDone      = "done"
	TaskFailed    = "failed"
	TaskCancelled = "cancelled"
)

// mergeType builds {"type": name, ...params}, the data of an `_ACTION:KEY` the server sends.
func mergeType(name string, params any) ([]byte, error) {
	buf := append([]byte(`{"type":`), appendJSONString(nil, name)...)
	if params == nil {
		return append(buf, '}'), nil
	}
	p, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("wssync: params of %q: %w", name, bare(err))
	}
	if len(p) < 2 || p[0] != '{' {
		return nil, fmt.Errorf("wssync: params of %q must marshal to a JSON object, got %s", name, p)
	}
	if hasMember(p, "type") { // a second "type" would name another action to the client
		return nil, fmt.Errorf("wssync: params of %q have a member \"type\", which names the action", name)
	}
	if len(p) > 2 {
		buf = append(buf, ',')
	}
	return append(buf, p[1:]...), nil
}

// authExpiry is the data of the `_AUTH_EXPIRING` and `_AUTH_EXPIRED` frames and of the
// `_RESULT` of an accepted `_AUTH`: when the identity expires, in Unix milliseconds (absent
// when it never does), and, on `_AUTH_EXPIRING`, whether the server takes an `_AUTH`.
type authExpiry struct {
	Expires int64 `json:"expires,omitempty"`
	Refresh *bool `json:"refresh,omitempty"`
}

func newAuthExpiry(exp time.Time) authExpiry {
	if exp.IsZero() {
		return authExpiry{}
	}
	return authExpiry{Expires: exp.UnixMilli()}
}

// authExpiringFrame announces that the identity expires at exp; refresh says whether the
// server takes an `_AUTH` to extend it.
func authExpiringFrame(exp time.Time, refresh bool) *frame {
	d := newAuthExpiry(exp)
	d.Refresh = &refresh
	data, _ := json.Marshal(d) // numbers and a bool: cannot fail
	return eventFrame(proto.AuthExpiring, data)
}

// authExpiredFrame tells a connection its identity expired at exp, before CloseTokenExpired.
func authExpiredFrame(exp time.Time) *frame {
	data, _ := json.Marshal(newAuthExpiry(exp))
	return eventFrame(proto.AuthExpired, data)
}

// hasMember reports whether the JSON object obj has a member name at its top level.
func hasMember(obj []byte, name string) bool {
	found := false
	_ = patch.ObjectMembers(obj, func(key string, _ []byte) error {
		found = found || key == name
		return nil
	})
	return found
}
