// @wssync/react/core: the framework-free half. A Session and its per-key stores, with no
// React import, for vanilla code and for adapters to other frameworks (Vue, Svelte, ...).
// The React entry point re-exports all of it and adds the hooks.

export {
  CLIENT_ERROR_CODES,
  CloseCode,
  ERROR_CODES,
  TERMINAL_CLOSE_CODES,
  isErrorCode,
  isTerminalCloseCode,
} from "./codes";
export type { AnyErrorCode, ClientErrorCode, CloseCodeValue, ErrorCode } from "./codes";
export { SyncError } from "./errors";
export { type Recipe, record } from "./draft";
export type { ErrorInfo } from "./errors";
export { PatchError, applyPatch, escapePointerToken, parsePointer, toPointer } from "./patch";
export type { Operation, PatchErrorCode } from "./patch";
export { randomId, userSessionIds, USER_ID_KEY, SESSION_ID_KEY } from "./ids";
export type { IdStorage } from "./ids";
export { Session, backoffDelay } from "./session";
export type {
  ConnectionState,
  EventHandler,
  ReconnectOptions,
  SessionOptions,
  StateStorage,
  WebSocketConstructor,
  WebSocketLike,
} from "./session";
export { MAX_QUEUED_OPS, SyncedKey } from "./store";
export type { Conflict, KeyLink, KeySnapshot } from "./store";
export type {
  ActionOf,
  AnyParams,
  BinaryPayload,
  ExposedActionHandler,
  ExposedActions,
  ParamMap,
  ParamsOf,
  RequestOptions,
  ResultOf,
  Returns,
  SyncOptions,
  TaskState,
  TaskStatus,
  Toast,
} from "./types";
