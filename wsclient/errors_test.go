package wsclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/wssync/wssync"
)

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The client's terminal codes are the server's (codes.go, docs/protocol.md).
func TestTerminalCodesMatchTheServer(t *testing.T) {
	t.Parallel()
	terminal := map[int]bool{wssync.ClosePolicyViolation: true, wssync.CloseReplaced: true, wssync.CloseUnauthorized: true}
	for _, code := range []int{
		wssync.CloseNormal, wssync.CloseGoingAway, wssync.CloseInvalidPayload, wssync.ClosePolicyViolation,
		wssync.CloseMessageTooBig, wssync.CloseInternalError, wssync.CloseTryAgainLater, wssync.CloseReplaced,
		wssync.CloseSlowConsumer, wssync.CloseRateLimited, wssync.CloseSessionClosed, wssync.CloseUnauthorized,
		wssync.CloseTokenExpired, 1006,
	} {
		if Terminal(code) != terminal[code] {
			t.Errorf("Terminal(%d) = %v", code, Terminal(code))
		}
	}
	if ClosePolicyViolation != wssync.ClosePolicyViolation || CloseReplaced != wssync.CloseReplaced ||
		CloseUnauthorized != wssync.CloseUnauthorized || CloseTokenExpired != wssync.CloseTokenExpired {
		t.Error("a close code constant differs from the server's")
	}
}

func TestErrorsMatch(t *testing.T) {
	t.Parallel()
	wrapped := fmt.Errorf("ctx: %w", &CloseError{Code: 4000})
	if !errors.Is(wrapped, ErrTerminal) {
		t.Error("a 4000 CloseError does not match ErrTerminal")
	}
	if errors.Is(&CloseError{Code: 1001}, ErrTerminal) {
		t.Error("a 1001 CloseError matches ErrTerminal")
	}
	if !errors.Is(&HandshakeError{Status: 403}, ErrTerminal) || errors.Is(&HandshakeError{Status: 503}, ErrTerminal) {
		t.Error("HandshakeError terminal statuses wrong")
	}
	e := fmt.Errorf("call: %w", &Error{Code: "bad_params", Path: "/n", Message: "no"})
	if !IsCode(e, "bad_params") || IsCode(e, "read_only") || IsCode(errors.New("x"), "bad_params") {
		t.Error("IsCode wrong")
	}
	if got := (&Error{Code: "bad_params", Event: "_ACTION:K", Action: "add", Path: "/n", Message: "no"}).Error(); got != "wsclient: server refused _ACTION:K add: bad_params at /n: no" {
		t.Errorf("Error() = %q", got)
	}
}
