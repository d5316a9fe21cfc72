import type { AnyErrorCode } from "./codes";

/** The ERROR object of docs/protocol.md as it travels on the wire. */
export interface ErrorInfo {
  /** Stable machine-readable code; see {@link ErrorCode}. Unknown codes pass through. */
  code: AnyErrorCode | (string & {});
  /** Human-readable English; may change between releases. */
  message: string;
  /** The `type` of the offending client frame, e.g. `_PATCH:NOTES`. */
  event?: string;
  /** A JSON Pointer into the key's state or the action params. */
  path?: string;
}

/**
 * The error every failed request rejects with, and what `onError` receives.
 * Compare `code`, never `message`.
 */
export class SyncError extends Error implements ErrorInfo {
  override readonly name = "SyncError";
  // Declared only: a field left out (no event, path or key) must be absent, not undefined.
  declare readonly code: AnyErrorCode | (string & {});
  declare readonly event?: string;
  declare readonly path?: string;
  /** The key the error concerns, when the client can tell (from `event` or the request). */
  declare readonly key?: string;

  constructor(info: ErrorInfo, key?: string) {
    super(info.message);
    this.code = info.code;
    if (info.event !== undefined) this.event = info.event;
    if (info.path !== undefined) this.path = info.path;
    const k = key ?? keyOfEvent(info.event);
    if (k !== undefined) this.key = k;
  }

  /** The plain ERROR object, e.g. for logging or JSON. */
  toJSON(): ErrorInfo {
    const o: ErrorInfo = { code: this.code, message: this.message };
    if (this.event !== undefined) o.event = this.event;
    if (this.path !== undefined) o.path = this.path;
    return o;
  }
}

/** Builds a SyncError from an untrusted wire value; malformed input still yields an error. */
export function toSyncError(raw: unknown, key?: string): SyncError {
  if (typeof raw === "object" && raw !== null) {
    const r = raw as Record<string, unknown>;
    const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
    const info: ErrorInfo = {
      code: str(r.code) ?? "internal",
      // Malformed input: any code, even an object, becomes some text rather than none.
      // eslint-disable-next-line @typescript-eslint/no-base-to-string
      message: str(r.message) ?? String(r.code ?? "error"),
      event: str(r.event), // the constructor leaves undefined ones out
      path: str(r.path),
    };
    return new SyncError(info, key);
  }
  return new SyncError({ code: "internal", message: typeof raw === "string" ? raw : "malformed error" }, key);
}

/** The error of a request made while the socket is not open. */
export const notConnected = (event: string, key?: string): SyncError =>
  new SyncError({ code: "not_connected", message: "not connected", event }, key);

/** The KEY of an event such as `_PATCH:room-7/NOTES` (everything after the first colon). */
export function keyOfEvent(event: string | undefined): string | undefined {
  if (event === undefined) return undefined;
  const i = event.indexOf(":");
  return i >= 0 ? event.slice(i + 1) : undefined;
}
