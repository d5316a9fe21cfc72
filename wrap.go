package wssync

import "strings"

// errPrefix begins every error message of the package.
const errPrefix = "wssync: "

// bare wraps err so that its message loses a leading "wssync: ", for the errors the
// package wraps with a context of its own, which already begins with the prefix
// (`wssync: key "C": duplicate wire name`, not `wssync: key "C": wssync: duplicate wire
// name`). errors.Is and errors.As see err through it. bare(nil) is nil.
func bare(err error) error {
	if err == nil {
		return nil
	}
	return bareError{err}
}

type bareError struct{ err error }

func (e bareError) Error() string { return strings.TrimPrefix(e.err.Error(), errPrefix) }
func (e bareError) Unwrap() error { return e.err }
