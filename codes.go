package wssync

// Code is a stable, machine-readable error code sent to clients in `_ERROR` and `_RESULT`
// frames. The set is documented in docs/protocol.md and mirrored in the React package; a
// code is never renamed.
type Code string

// Error codes. See docs/protocol.md for when each is sent.
const (
	CodeMalformedJSON    Code = "malformed_json"
	CodeBadEnvelope      Code = "bad_envelope"
	CodeUnknownEvent     Code = "unknown_event"
	CodeUnknownKey       Code = "unknown_key"
	CodeBadData          Code = "bad_data"
	CodeBadPatch         Code = "bad_patch"
	CodePathNotFound     Code = "path_not_found"
	CodeUnknownPath      Code = "unknown_path"
	CodeReadOnly         Code = "read_only"
	CodeTypeMismatch     Code = "type_mismatch"
	CodeTestFailed       Code = "test_failed"
	CodeRejected         Code = "rejected"
	CodeTooLarge         Code = "too_large"
	CodeUnknownAction    Code = "unknown_action"
	CodeBadParams        Code = "bad_params"
	CodeActionFailed     Code = "action_failed"
	CodeUnknownTask      Code = "unknown_task"
	CodeTaskRunning      Code = "task_running"
	CodeTaskNotRunning   Code = "task_not_running"
	CodeTaskFailed       Code = "task_failed"
	CodeBinaryUnexpected Code = "binary_unexpected"
	CodeBinaryMissing    Code = "binary_missing"
	CodeRateLimited      Code = "rate_limited"
	CodeInternal         Code = "internal"

	// CodeStaleWrite refuses a client write whose "base" version is older than the key's
	// and that the object's StalePolicy does not apply: a field it touches changed after
	// the base (the error's Path names it), the policy is StaleRefuse, or the base is older
	// than the object's record of field changes. The writer then gets the current state.
	CodeStaleWrite Code = "stale_write"
	// CodeBadBase refuses a client write whose "base" version is newer than the key's: not
	// a version of the key's present incarnation (e.g. from before a server restart).
	CodeBadBase Code = "bad_base"

	// CodeWriteLost reports a write that was acknowledged while the object's backend was
	// unreachable and could not be kept when it returned (see docs/scale-out.md, "Faults").
	CodeWriteLost Code = "write_lost"

	// CodeTokenRejected refuses an `_AUTH` whose token did not verify (expired, wrongly
	// signed, another audience) or whose identity is not allowed; the connection keeps its
	// current identity until that expires.
	CodeTokenRejected Code = "token_rejected"
	// CodeTokenWrongUser refuses an `_AUTH` whose token names another user or session than
	// the connection's; the connection is then closed with CloseUnauthorized.
	CodeTokenWrongUser Code = "token_wrong_user"
)

// allCodes is every documented client error code, in the order of docs/protocol.md's
// table (a test reads the table). Stats counts refusals by these codes.
var allCodes = []Code{
	CodeMalformedJSON, CodeBadEnvelope, CodeUnknownEvent, CodeUnknownKey, CodeBadData,
	CodeBadPatch, CodePathNotFound, CodeUnknownPath, CodeReadOnly, CodeTypeMismatch,
	CodeTestFailed, CodeRejected, CodeTooLarge, CodeUnknownAction, CodeBadParams,
	CodeActionFailed, CodeUnknownTask, CodeTaskRunning, CodeTaskNotRunning, CodeTaskFailed,
	CodeBinaryUnexpected, CodeBinaryMissing, CodeRateLimited, CodeInternal, CodeStaleWrite,
	CodeBadBase, CodeWriteLost,
	CodeTokenRejected, CodeTokenWrongUser,
}

// WebSocket close codes the server uses. 1000–1013 are RFC 6455's; 4000–4005 are ours.
// Terminal codes (the client should not reconnect on its own) say so in their comment:
// CloseReplaced, CloseUnauthorized and ClosePolicyViolation. A test checks these
// constants, comments included, against docs/protocol.md's table.
const (
	CloseNormal          = 1000 // normal closure
	CloseGoingAway       = 1001 // server shutting down; reconnect with backoff
	CloseInvalidPayload  = 1007 // a text frame that is not valid UTF-8 (RFC 6455 §8.1)
	ClosePolicyViolation = 1008 // origin refused or too many bad frames; terminal
	CloseMessageTooBig   = 1009 // frame over the read limit
	CloseInternalError   = 1011 // server failure
	CloseTryAgainLater   = 1013 // the server holds too many sessions; reconnect with backoff
	CloseReplaced        = 4000 // a newer connection took over the session; terminal
	CloseSlowConsumer    = 4001 // the client fell too far behind; reconnect with backoff
	CloseRateLimited     = 4002 // too many frames; reconnect with backoff
	CloseSessionClosed   = 4003 // the session was closed or expired
	CloseUnauthorized    = 4004 // identity does not match the session; terminal
	CloseTokenExpired    = 4005 // the identity's token expired; reconnect with a fresh token
)
