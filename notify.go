package wssync

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// ToastKind is the kind of a `_TOAST` notification.
type ToastKind string

// The six toast kinds ws-sync-react understands.
const (
	ToastDefault ToastKind = "default"
	ToastMessage ToastKind = "message"
	ToastInfo    ToastKind = "info"
	ToastSuccess ToastKind = "success"
	ToastWarning ToastKind = "warning"
	ToastError   ToastKind = "error"
)

// Toast sends a `_TOAST` notification to the client. It returns ErrNotConnected when no
// client is connected (toasts are not kept for later).
func (s *Session) Toast(kind ToastKind, message string) error {
	switch kind {
	case ToastDefault, ToastMessage, ToastInfo, ToastSuccess, ToastWarning, ToastError:
	default:
		return fmt.Errorf("wssync: unknown toast kind %q", kind)
	}
	return s.sendEventValue("_TOAST", struct {
		Type    ToastKind `json:"type"`
		Message string    `json:"message"`
	}{kind, message})
}

// Download sends a file for the browser to save (`_DOWNLOAD`, base64 on the wire). The
// file counts against the connection's send queue bounds; it returns ErrNotConnected when
// no client is connected.
func (s *Session) Download(filename string, data []byte) error {
	return s.sendEventValue("_DOWNLOAD", struct {
		Filename string `json:"filename"`
		Data     string `json:"data"`
	}{filename, base64.StdEncoding.EncodeToString(data)})
}

// SendBinary sends `_BIN_META` {"type": event, "metadata": metadata} and then data as a
// binary frame; the client calls event's handler with {"data": bytes, ...metadata}.
func (s *Session) SendBinary(event string, metadata any, data []byte) error {
	meta, err := json.Marshal(struct {
		Type     string `json:"type"`
		Metadata any    `json:"metadata"`
	}{event, metadata})
	if err != nil {
		return fmt.Errorf("wssync: metadata of %q: %w", event, err)
	}
	c := s.live.Load()
	if c == nil {
		return ErrNotConnected
	}
	f := &frame{data: append(appendEventHead(nil, "_BIN_META"), append(meta, '}')...)}
	c.sendBinary(f, data)
	return nil
}

// Send sends a custom event {"type": event, "data": data} to the client. It returns
// ErrNotConnected when no client is connected.
func (s *Session) Send(event string, data any) error { return s.sendEventValue(event, data) }

// sendEventValue marshals data and sends it as event.
func (s *Session) sendEventValue(event string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("wssync: data of %q: %w", event, err)
	}
	return s.sendEvent(event, b)
}

// sendEvent sends {"type": event, "data": data} to the live connection.
func (s *Session) sendEvent(event string, data []byte) error {
	c := s.live.Load()
	if c == nil {
		return ErrNotConnected
	}
	buf := appendEventHead(make([]byte, 0, len(event)+len(data)+24), event)
	c.send(&frame{data: append(append(buf, data...), '}')})
	return nil
}
