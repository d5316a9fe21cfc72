// The stable tables of docs/protocol.md, mirrored for TypeScript.
// Codes are never reworded; adding one is a protocol change and belongs in both places.

/** Every `code` a wssync server puts in an ERROR object (docs/protocol.md, "Error codes"). */
export const ERROR_CODES = [
  "malformed_json",
  "bad_envelope",
  "unknown_event",
  "unknown_key",
  "bad_data",
  "bad_patch",
  "path_not_found",
  "unknown_path",
  "read_only",
  "type_mismatch",
  "test_failed",
  "rejected",
  "too_large",
  "unknown_action",
  "bad_params",
  "action_failed",
  "unknown_task",
  "task_running",
  "task_not_running",
  "task_failed",
  "binary_unexpected",
  "binary_missing",
  "rate_limited",
  "internal",
  "stale_write",
  "bad_base",
  "write_lost",
  "token_rejected",
  "token_wrong_user",
] as const;

/** A machine-readable error code sent by the server. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Codes this client produces itself; they never travel on the wire.
 * - `not_connected`: a request was made while the socket was not open.
 * - `disconnected`: the socket closed before the request's `_RESULT` arrived.
 * - `timeout`: no `_RESULT` within the request timeout.
 * - `patch_failed`: a server `_PATCH` did not apply locally (the key resyncs with `_GET`).
 * - `token_failed`: the `getToken` option threw or rejected while refreshing a token.
 * - `queue_full`: a write made offline was refused: the key already queues MAX_QUEUED_OPS ops.
 */
export const CLIENT_ERROR_CODES = ["not_connected", "disconnected", "timeout", "patch_failed", "token_failed", "queue_full"] as const;

/** An error code produced by this client, not by the server. */
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];

/** Any code a {@link SyncError} can carry. Unknown server codes are passed through as strings. */
export type AnyErrorCode = ErrorCode | ClientErrorCode;

/** Reports whether `code` is one of the server's documented error codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && (ERROR_CODES as readonly string[]).includes(code);
}

/** WebSocket close codes used by wssync (docs/protocol.md, "Close codes"). */
export const CloseCode = {
  /** Normal closure. The client reconnects unless it closed the socket itself. */
  Normal: 1000,
  /** Server shutting down; reconnect with backoff. */
  GoingAway: 1001,
  /** A text frame was not valid UTF-8; reconnect with backoff. */
  InvalidPayload: 1007,
  /** Origin refused or too many bad frames; terminal. */
  PolicyViolation: 1008,
  /** A frame exceeded the server's read limit; reconnect with backoff. */
  MessageTooBig: 1009,
  /** Server failure; reconnect with backoff. */
  InternalError: 1011,
  /** The server holds too many sessions; reconnect with backoff. */
  TryAgainLater: 1013,
  /** A newer connection took over this session (after `_DISCONNECT`); terminal. */
  Replaced: 4000,
  /** The client fell too far behind; reconnect with backoff. */
  SlowConsumer: 4001,
  /** Too many frames; reconnect with backoff. */
  RateLimited: 4002,
  /** Session closed or expired; reconnect (the server starts a new session). */
  SessionClosed: 4003,
  /** Identity does not match the session (or a refreshed token names another user); terminal. */
  Unauthorized: 4004,
  /** The identity's token expired; reconnect with a fresh token (`getToken`). */
  TokenExpired: 4005,
} as const;

/** One of the close codes in {@link CloseCode}. */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** Close codes after which the client must not reconnect on its own. */
export const TERMINAL_CLOSE_CODES: readonly number[] = [
  CloseCode.PolicyViolation,
  CloseCode.Replaced,
  CloseCode.Unauthorized,
];

/** Reports whether a close with `code` forbids an automatic reconnect. */
export function isTerminalCloseCode(code: number | undefined): boolean {
  return code !== undefined && TERMINAL_CLOSE_CODES.includes(code);
}
