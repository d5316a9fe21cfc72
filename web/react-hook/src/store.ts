// SyncedKey: the client's copy of one key's state, with the version rules of
// docs/protocol.md and optimistic local writes.
//
// Two layers:
//   confirmed: the server's state with our sent writes applied (the server echoes to its
//              writer only the residual of a write, so frames apply on top of it);
//   overlay:   top-level fields written locally and not sent yet.
// The view the app sees is confirmed with the overlay on top. A local-only entry goes away
// when the server speaks about its field (a _PATCH touching it, or a _SET); a rejected
// write (_ERROR then _SET) rolls back through the _SET.
//
// The store sends through a KeyLink (the Session, seen narrowly) and hears from it through
// its KeyInbox; it imports nothing from session.ts.

import { SyncError, toSyncError } from "./errors";
import { type Operation, applyPatch, escapePointerToken, unescapePointerToken } from "./patch";
import type {
  ActionOf,
  AnyParams,
  ExposedActions,
  ParamMap,
  RequestOptions,
  ResultOf,
  SyncOptions,
  TaskStatus,
} from "./types";

/**
 * The part of a connection a key's store uses; a `Session` is one. The store knows its
 * connection only through this, so the dependency goes one way: session.ts imports store.ts.
 */
export interface KeyLink {
  /** True while the socket is open. */
  readonly isOpen: boolean;
  /** Sends `{type: event, data}`. Returns false (and sends nothing) when not open. */
  send(event: string, data: unknown): boolean;
  /** Sends `event` as a request; settles with its `_RESULT` data or a SyncError. */
  request(event: string, data: unknown, options: { key?: string; timeoutMs?: number }): Promise<unknown>;
  /** Sends `_BIN_META` and then `bytes` as one binary frame. False when not open. */
  sendBinary(event: string, metadata: Record<string, unknown>, bytes: ArrayBuffer | ArrayBufferView): boolean;
  /** Hands `err` to the key it concerns (its `error`) and to the app's error handler. */
  reportError(err: SyncError): void;
}

/**
 * What a connection delivers to a key's store: the key's frames, errors about it, and the end
 * of each connection. The package does not export it: only the connection that created the
 * store reaches it, through {@link inboxOf}.
 */
export interface KeyInbox {
  /** A `_SET:KEY` with its version, if the server sent one. */
  set(data: unknown, v: number | undefined): void;
  /** A `_PATCH:KEY` with its version, if the server sent one. */
  patch(data: unknown, v: number | undefined): void;
  /** A server → client `_ACTION:KEY`. */
  action(data: unknown): void;
  /** A `_TASK_STATUS:KEY`. */
  taskStatus(data: unknown): void;
  /** An error concerning this key; it becomes the snapshot's `error`. */
  error(err: SyncError): void;
  /** The socket closed: nothing may be sent until the next `_SET`. */
  closed(): void;
}

// Module-private: the inbox of each store, set by its constructor.
const inboxes = new WeakMap<object, KeyInbox>();

/** The inbox of `store`, for the connection that created it. */
export function inboxOf(store: SyncedKey<unknown, ParamMap, ParamMap>): KeyInbox {
  const inbox = inboxes.get(store);
  if (!inbox) throw new Error("wssync: not a SyncedKey");
  return inbox;
}

/** An immutable picture of a key; a new object whenever anything in it changes. */
export interface KeySnapshot<S> {
  /** The state the app shows: the server's, plus local writes not yet confirmed. */
  readonly state: S;
  /** Version of the server state (the `v` of the last applied frame); undefined for ws-sync servers. */
  readonly version: number | undefined;
  /** True once a `_SET` has arrived for this key. */
  readonly loaded: boolean;
  /** True while local edits are unsent (local-only `setF`, debounced, or queued while offline). */
  readonly unsynced: boolean;
  /** The last structured error concerning this key, until `clearError()`. */
  readonly error: SyncError | undefined;
  /** The last `_TASK_STATUS` per task name. */
  readonly tasks: Readonly<Record<string, TaskStatus>>;
}

type Update<S> = Partial<S> | ((prev: S) => Partial<S>);
type Overlay = { value: unknown; status: "local" | "unsent" };

const REMOVED: unique symbol = Symbol("removed"); // overlay value of a field a local patch deleted

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function rethrowAsync(e: unknown): void {
  // An app callback that throws must not break frame processing; surface it like an uncaught error.
  setTimeout(() => {
    throw e;
  }, 0);
}

/**
 * Top-level fields the ops touch (`path`, and `from` for move), or null for the root. Only
 * for ops that applyPatch took, so every pointer is valid: the first token is all it reads.
 */
function topFields(ops: readonly Operation[]): Set<string> | null {
  const out = new Set<string>();
  for (const op of ops) {
    for (const p of op.op === "move" ? [op.path, op.from] : [op.path]) {
      if (p === "") return null;
      const end = p.indexOf("/", 1);
      out.add(unescapePointerToken(end < 0 ? p.slice(1) : p.slice(1, end)));
    }
  }
  return out;
}

/**
 * The synced state of one key. Get it with `session.sync(key, initialState)`; it lives as long
 * as the Session. Typed by the state `S`, the action map `A` and the task map `T`.
 */
export class SyncedKey<S, A extends ParamMap = AnyParams, T extends ParamMap = AnyParams> {
  private confirmed: S;
  private version: number | undefined;
  private loaded = false;
  private awaitingSet = false; // after a gap or failed patch: ignore patches until _SET
  private live = false; // a _SET arrived on the current connection, so writes can go out
  private getSent = false;
  private error: SyncError | undefined;
  private tasks: Readonly<Record<string, TaskStatus>> = {};
  private readonly overlay = new Map<string, Overlay>();
  private outbox: Operation[] = [];
  private readonly debounces = new Map<string, { timer: ReturnType<typeof setTimeout>; value: unknown }>();
  private readonly listeners = new Set<() => void>();
  private readonly actionSources = new Set<() => ExposedActions | undefined>();
  private readonly setters = new Map<string, (v: unknown) => void>();
  private readonly syncers = new Map<string, (v: unknown, o?: SyncOptions) => void>();
  private snapshot: KeySnapshot<S>;

  /** Use `session.sync(key, initialState)`, which also routes the key's frames to the store. */
  constructor(
    private readonly link: KeyLink,
    readonly key: string,
    initialState: S,
  ) {
    this.confirmed = initialState;
    this.snapshot = this.makeSnapshot();
    inboxes.set(this, {
      set: (data, v) => this.receiveSet(data, v),
      patch: (data, v) => this.receivePatch(data, v),
      action: (data) => this.receiveAction(data),
      taskStatus: (data) => this.receiveTaskStatus(data),
      error: (err) => this.setError(err),
      closed: () => this.closed(),
    });
  }

  // ---- reading ----

  /** The current snapshot (stable identity until a change; suits useSyncExternalStore). */
  getSnapshot = (): KeySnapshot<S> => this.snapshot;

  /** Calls `listener` after every change of this key only; returns the unsubscribe function. */
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** The current view of the state. */
  get state(): S {
    return this.snapshot.state;
  }

  // ---- local and synced writes ----

  /** Changes fields locally only; a later `sync()` sends them, a server update replaces them. */
  set(update: Update<S>): void {
    const partial = typeof update === "function" ? update(this.state) : update;
    for (const [f, v] of Object.entries(partial)) this.overlay.set(f, { value: v, status: "local" });
    this.emit();
  }

  /**
   * Changes fields locally and sends them as one `_PATCH:KEY` of `replace` ops. Without
   * arguments, sends every field changed with `set` so far. While the key is not live on an
   * open connection the ops are queued and sent after the next `_SET` (on top of it).
   */
  sync(update?: Update<S>, options?: SyncOptions): void {
    if (update === undefined) {
      const local: Record<string, unknown> = {};
      for (const [f, e] of this.overlay) if (e.status === "local") local[f] = e.value;
      this.write(local);
      return;
    }
    const partial = typeof update === "function" ? update(this.state) : update;
    const ms = options?.debounceMs ?? 0;
    if (ms > 0) {
      for (const [f, v] of Object.entries(partial)) this.debounce(f, v, ms);
      return;
    }
    for (const f of Object.keys(partial)) this.cancelDebounce(f);
    this.write(partial);
  }

  /**
   * Applies RFC 6902 `ops` locally and sends them as they are (for array appends and nested
   * edits). Throws a PatchError, changing nothing, if they do not apply to the current view.
   */
  patch(ops: readonly Operation[]): void {
    const before = this.state;
    const next = applyPatch(before, ops) as unknown;
    const fields = topFields(ops) ?? new Set([...Object.keys(isObject(before) ? before : {}), ...Object.keys(isObject(next) ? next : {})]);
    const n = isObject(next) ? next : {};
    for (const f of fields) {
      this.overlay.set(f, { value: Object.prototype.hasOwnProperty.call(n, f) ? n[f] : REMOVED, status: "unsent" });
    }
    this.outbox.push(...ops);
    this.flushOutbox();
    this.emit();
  }

  /** Sends every debounced write now. */
  flush(): void {
    for (const [f, d] of [...this.debounces]) {
      clearTimeout(d.timer);
      this.debounces.delete(f);
      this.write({ [f]: d.value });
    }
  }

  /** Cached `setF` for field `f` (stable identity for React deps). */
  fieldSetter(f: string): (v: unknown) => void {
    let fn = this.setters.get(f);
    if (!fn) {
      fn = (v) => this.set((prev) => ({ [f]: typeof v === "function" ? (v as (p: unknown) => unknown)(fieldOf(prev, f)) : v }) as Partial<S>);
      this.setters.set(f, fn);
    }
    return fn;
  }

  /** Cached `syncF` for field `f`. */
  fieldSyncer(f: string): (v: unknown, o?: SyncOptions) => void {
    let fn = this.syncers.get(f);
    if (!fn) {
      fn = (v, o) =>
        this.sync((prev) => ({ [f]: typeof v === "function" ? (v as (p: unknown) => unknown)(fieldOf(prev, f)) : v }) as Partial<S>, o);
      this.syncers.set(f, fn);
    }
    return fn;
  }

  private debounce(f: string, value: unknown, ms: number): void {
    this.cancelDebounce(f);
    this.overlay.set(f, { value, status: "local" });
    const timer = setTimeout(() => {
      this.debounces.delete(f);
      this.write({ [f]: value });
    }, ms);
    this.debounces.set(f, { timer, value });
    this.emit();
  }

  private cancelDebounce(f: string): void {
    const d = this.debounces.get(f);
    if (d) clearTimeout(d.timer);
    this.debounces.delete(f);
  }

  private write(fields: Record<string, unknown>): void {
    const entries = Object.entries(fields);
    if (entries.length === 0) return;
    for (const [f, v] of entries) {
      const path = "/" + escapePointerToken(f);
      // A newer value for the same field replaces a queued one: only the last value matters.
      this.outbox = this.outbox.filter((op) => !(op.op === "replace" && op.path === path));
      this.outbox.push({ op: "replace", path, value: v });
      this.overlay.set(f, { value: v, status: "unsent" });
    }
    this.flushOutbox();
    this.emit();
  }

  private flushOutbox(): void {
    if (!this.live || this.outbox.length === 0) return;
    if (!this.link.send("_PATCH:" + this.key, this.outbox)) return; // closed: stays queued
    this.outbox = [];
    // The write is now part of the state every later frame applies to: the server echoes
    // to its writer only the residual (what the server changed beyond the write: computed
    // fields, normalisation), never the write's own ops, as ws-sync-react expects. A
    // refusal comes with a _SET, which rolls it back.
    const c: Record<string, unknown> = { ...(isObject(this.confirmed) ? this.confirmed : {}) };
    for (const [f, e] of this.overlay) {
      if (e.status !== "unsent") continue;
      if (e.value === REMOVED) delete c[f];
      else Object.defineProperty(c, f, { value: e.value, writable: true, enumerable: true, configurable: true });
      this.overlay.delete(f);
    }
    this.confirmed = c as S;
  }

  // ---- requests ----

  /**
   * Calls server action `type` with params; resolves with its result, rejects with a
   * SyncError (server error, `not_connected`, `disconnected`, `timeout`). Debounced writes
   * are sent first, so the action sees them.
   */
  sendAction<N extends keyof A & string>(action: ActionOf<A, N>, options?: RequestOptions): Promise<ResultOf<A[N]>> {
    this.flush();
    return this.link.request("_ACTION:" + this.key, action, { key: this.key, ...options }) as Promise<ResultOf<A[N]>>;
  }

  /** Starts task `type`; resolves once it started (completion arrives as task status). */
  startTask<N extends keyof T & string>(task: ActionOf<T, N>, options?: RequestOptions): Promise<void> {
    this.flush();
    return this.link.request("_TASK_START:" + this.key, task, { key: this.key, ...options }).then(() => undefined);
  }

  /** Asks the server to cancel task `type`; resolves once cancellation was requested. */
  cancelTask<N extends keyof T & string>(task: { type: N }, options?: RequestOptions): Promise<void> {
    return this.link.request("_TASK_CANCEL:" + this.key, { type: task.type }, { key: this.key, ...options }).then(() => undefined);
  }

  /**
   * Sends action `type` with params as metadata plus `data` as a binary frame (`_BIN_META`).
   * The protocol carries no request id here, so it resolves once sent; it rejects with
   * `not_connected` when the socket is not open.
   */
  sendBinary<N extends keyof A & string>(action: ActionOf<A, N>, data: ArrayBuffer | ArrayBufferView): Promise<void> {
    this.flush();
    const event = "_ACTION:" + this.key;
    return this.link.sendBinary(event, action, data)
      ? Promise.resolve()
      : Promise.reject(new SyncError({ code: "not_connected", message: "not connected", event }, this.key));
  }

  /** Asks for a fresh `_SET` (sends `_GET:KEY`). Returns false when not connected. */
  fetchRemoteState(): boolean {
    return this.link.send("_GET:" + this.key, {});
  }

  /** Forgets the last error. */
  clearError(): void {
    if (this.error === undefined) return;
    this.error = undefined;
    this.emit();
  }

  /**
   * Adds a source of server → client action handlers (read at dispatch time, so it may
   * return a fresh object each render). Returns the remover.
   */
  onActions(source: () => ExposedActions | undefined): () => void {
    this.actionSources.add(source);
    return () => this.actionSources.delete(source);
  }

  /** Sends `_GET` if the connection is open but this key has not had its `_SET` on it. */
  requestIfStale(): void {
    if (this.link.isOpen && !this.live && !this.getSent) this.getSent = this.fetchRemoteState();
  }

  // ---- the inbox: what the connection delivers ----

  private receiveSet(data: unknown, v: number | undefined): void {
    this.confirmed = data as S;
    this.version = v;
    this.loaded = true;
    this.awaitingSet = false;
    this.live = true;
    this.getSent = false;
    for (const [f, e] of this.overlay) if (e.status !== "unsent") this.overlay.delete(f);
    // Queued writes go on top of the fresh state, as the server will apply them.
    if (this.outbox.length > 0) {
      try {
        const rebased = applyPatch(this.confirmed, this.outbox) as unknown;
        if (isObject(rebased)) {
          for (const [f, e] of this.overlay) e.value = Object.prototype.hasOwnProperty.call(rebased, f) ? rebased[f] : REMOVED;
        }
      } catch {
        // keep the old optimistic values; the server's answer settles it
      }
    }
    this.flushOutbox();
    this.emit();
  }

  private receivePatch(data: unknown, v: number | undefined): void {
    if (this.awaitingSet) return;
    if (v !== undefined && this.version !== undefined) {
      if (v <= this.version) return; // stale duplicate
      if (v > this.version + 1) return this.resync(); // gap
    }
    let next: S;
    try {
      next = applyPatch(this.confirmed, data as Operation[]); // throws on a non-array too
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.link.reportError(new SyncError({ code: "patch_failed", message: `server patch did not apply: ${msg}; resyncing` }));
      return this.resync();
    }
    this.confirmed = next;
    if (v !== undefined) this.version = v;
    const touched = topFields(data as Operation[]);
    for (const [f, e] of this.overlay) {
      if (e.status !== "unsent" && (touched === null || touched.has(f))) this.overlay.delete(f);
    }
    this.emit();
  }

  private receiveAction(data: unknown): void {
    if (!isObject(data) || typeof data.type !== "string") return;
    const { type, ...params } = data;
    for (const source of [...this.actionSources]) {
      const h = source()?.[type];
      if (!h) continue;
      try {
        h(params);
      } catch (e) {
        rethrowAsync(e);
      }
    }
  }

  private receiveTaskStatus(data: unknown): void {
    if (!isObject(data) || typeof data.type !== "string" || typeof data.status !== "string") return;
    const st: TaskStatus = { status: data.status as TaskStatus["status"] };
    if (data.status === "failed") {
      st.error = toSyncError(data.error ?? { code: "task_failed", message: `task ${data.type} failed` }, this.key);
    }
    this.tasks = { ...this.tasks, [data.type]: st };
    if (st.error) this.link.reportError(st.error); // sets this.error and emits
    else this.emit();
  }

  private setError(err: SyncError): void {
    this.error = err;
    this.emit();
  }

  private closed(): void {
    this.live = false;
    this.getSent = false;
  }

  private resync(): void {
    this.awaitingSet = true;
    this.fetchRemoteState();
  }

  private makeSnapshot(): KeySnapshot<S> {
    let state = this.confirmed;
    if (this.overlay.size > 0 && isObject(this.confirmed)) {
      const v: Record<string, unknown> = { ...this.confirmed };
      for (const [f, e] of this.overlay) {
        if (e.value === REMOVED) delete v[f];
        else Object.defineProperty(v, f, { value: e.value, writable: true, enumerable: true, configurable: true });
      }
      state = v as S;
    }
    let unsynced = this.outbox.length > 0;
    for (const e of this.overlay.values()) if (e.status === "local") unsynced = true;
    return { state, version: this.version, loaded: this.loaded, unsynced, error: this.error, tasks: this.tasks };
  }

  private emit(): void {
    this.snapshot = this.makeSnapshot();
    for (const l of [...this.listeners]) l();
  }
}

function fieldOf(obj: unknown, f: string): unknown {
  return isObject(obj) ? obj[f] : undefined;
}
