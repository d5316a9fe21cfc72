package wssync

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{Code: CodeReadOnly, Message: "read-only"}, "wssync: " + string(CodeReadOnly) + ": read-only"},
		{&Error{Code: CodeBadParams, Message: "not a number", Path: "/n"}, "wssync: " + string(CodeBadParams) + ": not a number (at /n)"},
		{errorf(CodeBadParams, "/a/0", "%d items", 3), "wssync: " + string(CodeBadParams) + ": 3 items (at /a/0)"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// TestErrorIs: a bare code matches every *Error of that code through wrapping; a target
// with a message or path is not a code match.
func TestErrorIs(t *testing.T) {
	err := fmt.Errorf("call: %w", errorf(CodeReadOnly, "/title", "read-only"))
	if !errors.Is(err, &Error{Code: CodeReadOnly}) {
		t.Error("errors.Is with the bare code: no match")
	}
	if errors.Is(err, &Error{Code: CodeBadParams}) {
		t.Error("errors.Is matched another code")
	}
	if errors.Is(err, &Error{Code: CodeReadOnly, Path: "/title"}) {
		t.Error("errors.Is matched a target with a path: only a bare code is a code match")
	}
	if errors.Is(err, &Error{Code: CodeReadOnly, Message: "read-only"}) {
		t.Error("errors.Is matched a target with a message")
	}
	if errors.Is(err, ErrBadKey) {
		t.Error("errors.Is matched a sentinel")
	}
	var e *Error
	if !errors.As(err, &e) || e.Path != "/title" {
		t.Errorf("errors.As: %v", e)
	}
}

func TestErrorJSON(t *testing.T) {
	b, err := json.Marshal(&Error{Code: CodeBadParams, Message: "m"})
	if err != nil || string(b) != `{"code":"`+string(CodeBadParams)+`","message":"m"}` {
		t.Errorf("marshal without the optional fields: %s, %v", b, err)
	}
	b, _ = json.Marshal(&Error{Code: CodeBadParams, Message: "m", Event: "e", Path: "/p", Action: "a"})
	var back Error
	if err := json.Unmarshal(b, &back); err != nil || back != (Error{Code: CodeBadParams, Message: "m", Event: "e", Path: "/p", Action: "a"}) {
		t.Errorf("round trip of %s: %+v, %v", b, back, err)
	}
}

func TestFieldError(t *testing.T) {
	if got := (&FieldError{Path: "/title", Message: "too long"}).Error(); got != "/title: too long" {
		t.Errorf("FieldError.Error() = %q", got)
	}
}

func TestSentinelsArePrefixed(t *testing.T) {
	for _, err := range []error{ErrDuplicateKey, ErrNotStructPointer, ErrBadTag, ErrUnsupportedType, ErrDuplicateName,
		ErrBadKey, ErrUnregistered, ErrDuplicateHandler, ErrNotConnected} {
		if s := err.Error(); len(s) < 8 || s[:8] != "wssync: " {
			t.Errorf("sentinel %q lacks the wssync: prefix", s)
		}
	}
}
