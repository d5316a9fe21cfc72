// Public types shared by the Session, the key stores and the hooks.

import type { SyncError } from "./errors";

declare const resultBrand: unique symbol;

/**
 * Marks the result type of an action in an action map, without changing its params:
 * `{ rename: { index: number; text: string } & Returns<string> }` makes
 * `sendAction({ type: "rename", ... })` a `Promise<string>`.
 */
export interface Returns<R> {
  readonly [resultBrand]?: R;
}

/** Maps an action or task name to its params (an object, or `undefined` for none). */
export type ParamMap = { [name: string]: object | undefined };

/** The default map when none is given: any name, any params. */
export type AnyParams = { [name: string]: Record<string, unknown> };

/** The params of one map entry, without the {@link Returns} marker. */
export type ParamsOf<P> = P extends undefined ? unknown : Omit<P, typeof resultBrand>;

/** The frame data for action (or task) `N` of map `M`: `{ type: N, ...params }`. */
export type ActionOf<M, N extends keyof M & string> = { type: N } & ParamsOf<M[N]>;

/** The result type declared with {@link Returns}; `unknown` when none was declared. */
export type ResultOf<P> = P extends { readonly [resultBrand]?: infer R } ? R : unknown;

/** Handler for a server → client action; receives the params without `type`. */
// A method signature, so handlers may annotate a narrower params type.
export type ExposedActionHandler = {
  bivarianceHack(params: Record<string, unknown>): void;
}["bivarianceHack"];

/** Server → client action handlers by action name. */
export type ExposedActions = Record<string, ExposedActionHandler>;

/** Lifecycle of a task as reported by `_TASK_STATUS:KEY` (`running`: still running, told after a reconnect). */
export type TaskState = "started" | "running" | "done" | "failed" | "cancelled";

/** The last `_TASK_STATUS` seen for one task name. */
export interface TaskStatus {
  status: TaskState;
  /** Set when `status` is `failed`. */
  error?: SyncError;
  /** With `done` of a task the server registered with TaskResult: what it returned. */
  result?: unknown;
}

/** Notification from `_TOAST`. */
export interface Toast {
  type: "default" | "message" | "info" | "success" | "warning" | "error";
  message: string;
}

/** Data handed to a binary event's handler: the bytes plus the sender's metadata. */
export type BinaryPayload = { data: ArrayBuffer } & Record<string, unknown>;

/** Options for one request (`sendAction`, `startTask`, `cancelTask`). */
export interface RequestOptions {
  /** Reject with code `timeout` after this many ms; 0 disables. Default: the Session's `requestTimeoutMs`. */
  timeoutMs?: number;
}

/** Options for a state write. */
export interface SyncOptions {
  /**
   * Update locally now, send after this many ms without a further write to the same field
   * (only the last value is sent). For text inputs.
   */
  debounceMs?: number;
  /** With `debounceMs`: send at least this often while writes keep coming (ms). */
  maxWaitMs?: number;
}
