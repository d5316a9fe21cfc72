package wssync

import (
	"encoding/json"
	"fmt"

	"github.com/wssync/wssync/internal/proto"
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

// known reports whether k is one of the six kinds.
func (k ToastKind) known() bool {
	switch k {
	case ToastDefault, ToastMessage, ToastInfo, ToastSuccess, ToastWarning, ToastError:
		return true
	}
	return false
}

// Toast sends a `_TOAST` notification to the client. It returns ErrNotConnected when no
// client is connected (toasts are not kept for later).
func (s *Session) Toast(kind ToastKind, message string) error {
	if !kind.known() {
		return fmt.Errorf("wssync: unknown toast kind %q", kind)
	}
	return s.sendEventValue(proto.Toast, toastData{kind, message})
}

// Download sends a file for the browser to save (`_DOWNLOAD`, base64 on the wire). The
// file counts against the connection's send queue bounds; it returns ErrNotConnected when
// no client is connected.
func (s *Session) Download(filename string, data []byte) error {
	return s.sendEventValue(proto.Download, newDownload(filename, data))
}

// SendBinary sends `_BIN_META` {"type": event, "metadata": metadata} and then data as a
// binary frame; the client calls event's handler with {"data": bytes, ...metadata}.
func (s *Session) SendBinary(event string, metadata any, data []byte) error {
	f, err := binMetaFrame(event, metadata)
	if err != nil {
		return err
	}
	c := s.live.Load()
	if c == nil {
		return ErrNotConnected
	}
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
	c.send(eventFrame(event, data))
	return nil
}
