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

import { SyncError, notConnected, toSyncError } from "./errors";
import { type Recipe, record } from "./draft";
import { type Operation, applyPatch, escapePointerToken, hasOwn, isObject, setOwn, unescapePointerToken } from "./patch";
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
  /** Sends `event` as a request (with `extra` top-level fields); settles with its `_RESULT` data or a SyncError. */
  request(event: string, data: unknown, options: { key?: string; timeoutMs?: number; extra?: Record<string, unknown> }): Promise<unknown>;
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
  /** A `_SET:KEY` with its version and epoch, if the server sent them. */
  set(data: unknown, v: number | undefined, epoch: unknown): void;
  /** A `_PATCH:KEY` with its version, if the server sent one. */
  patch(data: unknown, v: number | undefined): void;
  /** A server → client `_ACTION:KEY`. */
  action(data: unknown): void;
  /** A `_TASK_STATUS:KEY`. */
  taskStatus(data: unknown): void;
  /** An error concerning this key; it becomes the snapshot's `error`. */
  error(err: SyncError): void;
  /** The socket closed: nothing may be sent until the next `_SET` (or `_RESUMED`). */
  closed(): void;
  /** `_RESUMED` listed the key as patched: it is live, as after a `_SET`. */
  resumed(): void;
  /** What `_RESUME` offers for the key, when its state is exactly the server's at that version. */
  resumeInfo(): { v: number; epoch: string } | undefined;
  /** The key as persisted (state, version, queued writes), or undefined before its first `_SET`. */
  dump(): Persisted | undefined;
  /** Takes a persisted record back (a reload). */
  restore(r: Persisted): void;
  /** The restored queue was another tab's (this one is its duplicate): drop its writes, keep the ones made here. */
  disown(): void;
}

/** A queued or sent write: its ops and the version they were made against. */
interface Write {
  ops: Operation[];
  base: number | undefined;
}

/** One key as a Session persists it; written and read by this package only. */
export interface Persisted {
  s: unknown;
  v?: number;
  epoch?: string;
  q: Write[];
  o: Record<string, unknown>;
}

/**
 * A queued write the server refused as stale (`stale_write`: a field it touches changed after
 * the version it was made against; `bad_base`): the server's state stayed, and this is what
 * was not written. Write again (e.g. `patch(c.ops)`) to keep it, or `clearConflicts()`.
 */
export interface Conflict {
  /** The refusal; `path` names the field that changed, when the server knows it. */
  readonly error: SyncError;
  /** The ops that were not applied. */
  readonly ops: readonly Operation[];
  /** The version they were made against. */
  readonly base: number | undefined;
}

/** Ops a Session queues for a key while offline, at most (a write beyond is refused with `queue_full`). */
export const MAX_QUEUED_OPS = 1000;

// Module-private: the inbox of each store, set by its constructor.
const inboxes = new WeakMap<object, KeyInbox>();

/** The inbox of `store` (every store has one), for the connection that created it. */
export const inboxOf = (store: SyncedKey<unknown, ParamMap, ParamMap>): KeyInbox => inboxes.get(store) as KeyInbox;

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
  /** The last structured error concerning this key, until its cause is gone (a later success of what failed; docs/react-guide.md) or `clearError()`. */
  readonly error: SyncError | undefined;
  /** The last `_TASK_STATUS` per task name. */
  readonly tasks: Readonly<Record<string, TaskStatus>>;
  /** Queued writes the server refused as stale, until `clearConflicts()`. */
  readonly conflicts: readonly Conflict[];
}

type Update<S> = Partial<S> | ((prev: S) => Partial<S>);
type Overlay = { value: unknown; local: boolean }; // local: set() only; else written and not confirmed yet

const REMOVED: unique symbol = Symbol("removed"); // overlay value of a field a local patch deleted


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
  #confirmed: S;
  #version: number | undefined;
  #loaded = false;
  #awaitingSet = false; // after a gap or failed patch: ignore patches until _SET
  #live = false; // a _SET arrived on the current connection, so writes can go out
  #getSent = false;
  #error: SyncError | undefined;
  #cause = ""; // what set `error` and whose success clears it: "w" a write, "a:T"/"t:T" action/task T
  #tasks: Readonly<Record<string, TaskStatus>> = {};
  readonly #overlay = new Map<string, Overlay>();
  #epoch: string | undefined;
  #outbox: Write[] = []; // not sent yet: at most one write per top-level field
  readonly #inflight = new Set<Write>(); // sent with an id, no _RESULT yet (in sending order)
  #doubt = false; // a write went out whose fate is unknown: the state at `version` is not known exactly
  #ackV = 0; // the highest version an accepted write produced, since the last _SET
  #conflicts: readonly Conflict[] = [];
  readonly #copied = new WeakSet<Operation>(); // ops restored from storage: a duplicated tab drops them
  readonly #debounces = new Map<string, { timer: ReturnType<typeof setTimeout>; value: unknown; since: number }>();
  readonly #listeners = new Set<() => void>();
  readonly #actionSources = new Set<() => ExposedActions | undefined>();
  readonly #setters = new Map<string, (v: unknown, o?: SyncOptions) => void>();
  readonly #syncers = new Map<string, (v: unknown, o?: SyncOptions) => void>();
  #snapshot: KeySnapshot<S>;

  readonly #link: KeyLink;

  /** Use `session.sync(key, initialState)`, which also routes the key's frames to the store. */
  constructor(
    link: KeyLink,
    readonly key: string,
    initialState: S,
  ) {
    this.#link = link;
    this.#confirmed = initialState;
    this.#snapshot = this.#makeSnapshot();
    inboxes.set(this, this.#inbox);
  }

  // ---- reading ----

  /** The current snapshot (stable identity until a change; suits useSyncExternalStore). */
  getSnapshot = (): KeySnapshot<S> => this.#snapshot;

  /** Calls `listener` after every change of this key only; returns the unsubscribe function. */
  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** The current view of the state. */
  get state(): S {
    return this.#snapshot.state;
  }

  // ---- local and synced writes ----

  /** Changes fields locally only; a later `sync()` sends them, a server update replaces them. */
  set(update: Update<S>): void {
    for (const [f, v] of Object.entries(this.#partial(update))) this.#overlay.set(f, { value: v, local: true });
    this.#emit();
  }

  /**
   * Changes fields locally and sends them as one `_PATCH:KEY` of `replace` ops. Without
   * arguments, sends every field changed with `set` so far. While the key is not live on an
   * open connection the ops are queued and sent after the next `_SET` (on top of it).
   */
  sync(update?: Update<S>, options?: SyncOptions): void {
    if (update === undefined) {
      const local: Record<string, unknown> = {};
      for (const [f, e] of this.#overlay) if (e.local) local[f] = e.value;
      this.#write(local);
      return;
    }
    const partial = this.#partial(update);
    const ms = options?.debounceMs ?? 0;
    if (ms > 0) {
      for (const [f, v] of Object.entries(partial)) this.#debounce(f, v, ms, options?.maxWaitMs);
      return;
    }
    for (const f of Object.keys(partial)) this.#cancelDebounce(f);
    this.#write(partial);
  }

  /**
   * Applies RFC 6902 `ops` locally and sends them as they are (for array appends and nested
   * edits). Throws a PatchError, changing nothing, if they do not apply to the current view.
   */
  patch(ops: readonly Operation[]): void {
    if (this.#full(ops.length)) return;
    const before = this.state;
    const next = applyPatch(before, ops) as unknown;
    const fields = topFields(ops) ?? new Set([...Object.keys(isObject(before) ? before : {}), ...Object.keys(isObject(next) ? next : {})]);
    this.#unsent(next, fields);
    this.#queue([...ops]);
    this.#flushOutbox();
    this.#emit();
  }

  /**
   * Runs `recipe` on a copy of the state and sends what it changed as one `_PATCH:KEY` of
   * nested ops (see draft.ts for the array rule), through `patch`. A recipe that changes
   * nothing sends nothing; one that throws changes nothing and rethrows.
   */
  update(recipe: Recipe<S>): void {
    const ops = record(this.state, recipe);
    if (ops.length === 0) return;
    for (const f of topFields(ops) ?? []) this.#cancelDebounce(f);
    this.patch(ops);
  }

  /** Sends every debounced write now. */
  flush(): void {
    for (const [f, d] of [...this.#debounces]) {
      clearTimeout(d.timer);
      this.#debounces.delete(f);
      this.#write({ [f]: d.value });
    }
  }

  /** Cached `setF` for field `f` (stable identity for React deps). */
  fieldSetter(f: string): (v: unknown) => void {
    return this.#fieldFn(this.#setters, f, (u) => this.set(u));
  }

  /** Cached `syncF` for field `f`. */
  fieldSyncer(f: string): (v: unknown, o?: SyncOptions) => void {
    return this.#fieldFn(this.#syncers, f, (u, o) => this.sync(u, o));
  }

  // One cached function per field: `value | prev => value` for field f, handed to `apply`.
  #fieldFn(
    cache: Map<string, (v: unknown, o?: SyncOptions) => void>,
    f: string,
    apply: (u: (prev: S) => Partial<S>, o?: SyncOptions) => void,
  ): (v: unknown, o?: SyncOptions) => void {
    let fn = cache.get(f);
    if (!fn) {
      fn = (v, o) => apply((prev) => ({ [f]: typeof v === "function" ? (v as (p: unknown) => unknown)(isObject(prev) ? prev[f] : undefined) : v }) as Partial<S>, o);
      cache.set(f, fn);
    }
    return fn;
  }

  // A field's first debounced write starts its maxWait clock; later writes keep it, so
  // continuous typing is sent at least every maxWaitMs.
  #debounce(f: string, value: unknown, ms: number, maxWaitMs?: number): void {
    const since = this.#debounces.get(f)?.since ?? Date.now();
    this.#cancelDebounce(f);
    this.#overlay.set(f, { value, local: true });
    const wait = maxWaitMs === undefined ? ms : Math.max(0, Math.min(ms, since + maxWaitMs - Date.now()));
    const timer = setTimeout(() => {
      this.#debounces.delete(f);
      this.#write({ [f]: value });
    }, wait);
    this.#debounces.set(f, { timer, value, since });
    this.#emit();
  }

  // Queued writes go on top of the confirmed state, as the server will apply them; the view
  // shows each touched field as they leave it.
  #showQueue(): void {
    let next: unknown = this.#confirmed;
    const touched = new Set<string>();
    for (const w of this.#outbox) {
      try {
        next = applyPatch(next, w.ops);
      } catch {
        // the server refuses it too, and its answer settles the view
      }
      for (const f of topFields(w.ops) ?? Object.keys(isObject(next) ? next : {})) touched.add(f);
    }
    if (isObject(next)) this.#unsent(next, touched);
  }

  #partial(update: Update<S>): Partial<S> {
    return typeof update === "function" ? update(this.state) : update;
  }

  // Shows `fields` as `next` has them (absent ones as removed), as written and not confirmed.
  #unsent(next: unknown, fields: Iterable<string>): void {
    const n = isObject(next) ? next : {};
    for (const f of fields) this.#overlay.set(f, { value: hasOwn(n, f) ? n[f] : REMOVED, local: false });
  }

  // Queues ops made now: against the last version while the key is not live, else sent at once.
  #queue(ops: Operation[]): void {
    this.#add(ops, this.#live ? undefined : this.#version);
  }

  #cancelDebounce(f: string): void {
    const d = this.#debounces.get(f);
    if (d) clearTimeout(d.timer);
    this.#debounces.delete(f);
  }

  #write(fields: Record<string, unknown>): void {
    const entries = Object.entries(fields);
    if (entries.length === 0 || this.#full(entries.length)) return;
    for (const [f, v] of entries) {
      this.#queue([{ op: "replace", path: "/" + escapePointerToken(f), value: v }]);
      this.#overlay.set(f, { value: v, local: false });
    }
    this.#flushOutbox();
    this.#emit();
  }

  // Offline writes are bounded: past the bound a write is refused here, visibly, rather
  // than an older one dropped in silence.
  #full(n: number): boolean {
    if (this.#outbox.reduce((t, w) => t + w.ops.length, n) <= MAX_QUEUED_OPS) return false;
    this.#link.reportError(new SyncError({ code: "queue_full", message: "offline queue full" }, this.key));
    return true;
  }

  /**
   * Queues ops made against version `base`, merged with the queued writes that touch the
   * same top-level fields: one write per field, so a replay is never refused as stale because
   * of its own earlier part. A newer replace of a path drops a queued replace of it.
   */
  #add(ops: Operation[], base: number | undefined): void {
    const fs = topFields(ops);
    const path = ops.length === 1 && ops[0]?.op === "replace" && ops[0].path;
    const prior: Operation[] = [];
    let first = true;
    this.#outbox = this.#outbox.filter((w) => {
      const g = topFields(w.ops);
      if (fs && g && ![...g].some((f) => fs.has(f))) return true;
      if (first) base = w.base;
      first = false;
      prior.push(...w.ops.filter((op) => !(op.op === "replace" && op.path === path)));
      return false;
    });
    this.#outbox.push({ ops: [...prior, ...ops], base });
  }

  #flushOutbox(): void {
    if (!this.#live || this.#outbox.length === 0 || !this.#link.isOpen) return;
    const event = "_PATCH:" + this.key;
    if (this.#epoch === undefined) {
      // A server without epochs may not answer ids: one plain frame, as ws-sync-react sends.
      if (!this.#link.send(event, this.#outbox.flatMap((w) => w.ops))) return; // closed: stays queued
      this.#doubt = true;
    } else for (const w of this.#outbox) this.#sendAcked(event, w);
    this.#outbox = [];
    // The write is now part of the state every later frame applies to: the server echoes
    // to its writer only the residual (what the server changed beyond the write: computed
    // fields, normalisation), never the write's own ops, as ws-sync-react expects. A
    // refusal comes with a _SET, which rolls it back.
    this.#confirmed = layer(this.#confirmed, this.#overlay, true) as S;
    for (const [f, e] of this.#overlay) if (!e.local) this.#overlay.delete(f);
  }

  /**
   * Sends `w` with an id (and its base, if it was queued) and tracks it until its `_RESULT`.
   * A write the server already holds (a replace whose value is there: e.g. one whose result
   * a dropped connection lost) is not sent again.
   */
  #sendAcked(event: string, w: Write): void {
    const op = w.ops[0];
    if (w.base !== undefined && w.ops.length === 1 && op?.op === "replace") {
      try {
        applyPatch(this.#confirmed, [{ ...op, op: "test" }]);
        return; // the value is there
      } catch {
        // not there: send it
      }
    }
    const sent: Write = { ops: w.ops, base: w.base ?? this.#version };
    this.#inflight.add(sent);
    const settle = (): boolean => this.#inflight.delete(sent); // false: closed() took it back into the queue
    this.#request("_PATCH", w.ops, { extra: { base: w.base } }).then( // JSON leaves an undefined base out
      (r) => {
        if (!settle()) return;
        this.#ackV = Math.max(this.#ackV, Number((r as { v?: unknown } | null)?.v) || 0);
        this.#clearIf("w");
        this.#emit();
      },
      (e: SyncError) => {
        if (!settle()) return;
        // A timeout: it may still apply, so it is not resent, and the key resumes with a _SET.
        if (e.code === "timeout") this.#doubt = true;
        else if (/^(stale_write|bad_base)$/.test(e.code)) this.#conflicts = [...this.#conflicts, { error: e, ops: w.ops, base: w.base }];
        this.#link.reportError(e); // no caller awaits a write: the app hears of it here
        this.#cause = "w";
      },
    );
  }

  /** Forgets the recorded conflicts. */
  clearConflicts(): void {
    if (this.#conflicts.length === 0) return;
    this.#conflicts = [];
    this.#emit();
  }

  // ---- requests ----

  /**
   * Calls server action `type` with params; resolves with its result, rejects with a
   * SyncError (server error, `not_connected`, `disconnected`, `timeout`). Debounced writes
   * are sent first, so the action sees them.
   */
  sendAction<N extends keyof A & string>(action: ActionOf<A, N>, options?: RequestOptions): Promise<ResultOf<A[N]>> {
    this.flush();
    return this.#tag(this.#request("_ACTION", action, options), "a:" + action.type) as Promise<ResultOf<A[N]>>;
  }

  /** Starts task `type`; resolves once it started (completion arrives as task status). */
  startTask<N extends keyof T & string>(task: ActionOf<T, N>, options?: RequestOptions): Promise<void> {
    this.flush();
    return this.#tag(this.#request("_TASK_START", task, options), "t:" + task.type).then(() => undefined);
  }

  /** Asks the server to cancel task `type`; resolves once cancellation was requested. */
  cancelTask<N extends keyof T & string>(task: { type: N }, options?: RequestOptions): Promise<void> {
    return this.#request("_TASK_CANCEL", { type: task.type }, options).then(() => undefined);
  }

  /**
   * Sends action `type` with params as metadata plus `data` as a binary frame (`_BIN_META`).
   * The protocol carries no request id here, so it resolves once sent; it rejects with
   * `not_connected` when the socket is not open.
   */
  sendBinary<N extends keyof A & string>(action: ActionOf<A, N>, data: ArrayBuffer | ArrayBufferView): Promise<void> {
    this.flush();
    const event = "_ACTION:" + this.key;
    return this.#link.sendBinary(event, action, data)
      ? Promise.resolve()
      : Promise.reject(notConnected(event, this.key));
  }

  /** Asks for a fresh `_SET` (sends `_GET:KEY`). Returns false when not connected. */
  fetchRemoteState(): boolean {
    return this.#link.send("_GET:" + this.key, {});
  }

  // A request about this key: `kind:KEY`, its error handed to this key.
  #request(kind: string, data: unknown, options?: RequestOptions & { extra?: Record<string, unknown> }): Promise<unknown> {
    return this.#link.request(kind + ":" + this.key, data, { key: this.key, ...options });
  }

  /** Forgets the last error. */
  clearError(): void {
    if (this.#error === undefined) return;
    this.#error = undefined;
    this.#emit();
  }

  // The error goes once its cause does: a later success of what failed (see docs/react-guide.md#errors).
  #clearIf(cause: string): void {
    if (this.#cause === cause) this.clearError();
  }

  // A request's rejection already set `error` (the Session hands it to the key first).
  #tag(p: Promise<unknown>, cause: string): Promise<unknown> {
    return p.then(
      (r) => (this.#clearIf(cause), r),
      (e) => {
        if (e === this.#error) this.#cause = cause;
        throw e;
      },
    );
  }

  /**
   * Adds a source of server → client action handlers (read at dispatch time, so it may
   * return a fresh object each render). Returns the remover.
   */
  onActions(source: () => ExposedActions | undefined): () => void {
    this.#actionSources.add(source);
    return () => this.#actionSources.delete(source);
  }

  /** Sends `_GET` if the connection is open but this key has not had its `_SET` on it. */
  requestIfStale(): void {
    if (this.#link.isOpen && !this.#live && !this.#getSent) this.#getSent = this.fetchRemoteState();
  }

  // ---- the inbox: what the connection delivers ----

  // What the connection delivers; module-private, reached through inboxOf.
  readonly #inbox: KeyInbox = {
    set: (data: unknown, v: number | undefined, epoch: unknown): void => {
      this.#confirmed = data as S;
      this.#version = v;
      this.#epoch = typeof epoch === "string" ? epoch : undefined;
      this.#doubt = false;
      this.#ackV = 0;
      this.#loaded = true;
      this.#awaitingSet = false;
      this.#live = true;
      this.#getSent = false;
      this.#overlay.clear();
      this.#showQueue();
      this.#flushOutbox();
      this.#emit();
    },

    patch: (data: unknown, v: number | undefined): void => {
      if (this.#awaitingSet) return;
      if (v !== undefined && this.#version !== undefined) {
        if (v <= this.#version) return; // stale duplicate
        if (v > this.#version + 1) return this.#resync(); // gap
      }
      let next: S;
      try {
        next = applyPatch(this.#confirmed, data as Operation[]); // throws on a non-array too
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        this.#link.reportError(new SyncError({ code: "patch_failed", message: `server patch did not apply: ${msg}` }));
        return this.#resync();
      }
      this.#confirmed = next;
      if (v !== undefined) this.#version = v;
      const touched = topFields(data as Operation[]);
      for (const [f, e] of this.#overlay) {
        if (e.local && (touched === null || touched.has(f))) this.#overlay.delete(f);
      }
      // Someone else changed what a refused write would have: its refusal is moot.
      const p = this.#error?.path;
      if (p && (touched === null || touched.has(unescapePointerToken(p.split("/")[1] ?? "")))) this.#clearIf("w");
      this.#emit();
    },

    action: (data: unknown): void => {
      if (!isObject(data) || typeof data.type !== "string") return;
      const { type, ...params } = data;
      for (const source of [...this.#actionSources]) {
        const h = source()?.[type];
        if (!h) continue;
        try {
          h(params);
        } catch (e) {
          // An app callback that throws must not break frame processing: rethrown on its own, as uncaught.
          setTimeout(() => {
            throw e;
          });
        }
      }
    },

    taskStatus: (data: unknown): void => {
      if (!isObject(data) || typeof data.type !== "string" || typeof data.status !== "string") return;
      const st: TaskStatus = { status: data.status as TaskStatus["status"], result: data.result };
      if (data.status === "failed") {
        st.error = toSyncError(data.error ?? { code: "task_failed", message: `task ${data.type} failed` }, this.key);
      }
      this.#tasks = { ...this.#tasks, [data.type]: st };
      const cause = "t:" + data.type;
      if (st.error) {
        this.#link.reportError(st.error); // sets this.#error and emits
        this.#cause = cause;
      } else {
        this.#clearIf(cause);
        this.#emit();
      }
    },

    error: (err: SyncError): void => {
      this.#error = err;
      // A refused plain write (a server without epochs answers no ids) names its _PATCH event.
      this.#cause = err.event?.startsWith("_PATCH:") ? "w" : "";
      this.#emit();
    },

    closed: (): void => {
      this.#live = false;
      this.#getSent = false;
      // Writes whose _RESULT the connection took with it may or may not have landed: queued
      // again with their bases (so a replay that landed is refused, not applied twice), and
      // the key resumes with a _SET, since its state includes them.
      if (this.#inflight.size === 0) return;
      const q = [...this.#inflight, ...this.#outbox];
      this.#inflight.clear();
      this.#outbox = [];
      for (const w of q) this.#add(w.ops, w.base);
      this.#doubt = true;
      this.#emit();
    },
    resumed: () => {
      this.#live = true;
      this.#flushOutbox();
      this.#emit();
    },
    resumeInfo: () => this.#resumable(),
    // Before the first socket, so nothing is in flight. Merged writes keep their op objects,
    // so a field written both there and here keeps only this tab's ops.
    disown: () => {
      this.#outbox = this.#outbox.filter((w) => (w.ops = w.ops.filter((op) => !this.#copied.has(op))).length > 0);
      for (const [f, e] of this.#overlay) if (!e.local) this.#overlay.delete(f);
      this.#showQueue();
      this.#emit();
    },
    dump: (): Persisted | undefined => {
      if (!this.#loaded) return undefined;
      // Writes in flight are kept as the queue, as a close would keep them. JSON leaves out
      // the overlay's REMOVED marks: such a field shows its old value until the next _SET.
      const o = [...this.#overlay].filter(([, e]) => !e.local).map(([f, e]) => [f, e.value]);
      return { s: this.#confirmed, ...this.#resumable(), q: [...this.#inflight, ...this.#outbox], o: Object.fromEntries(o) as Record<string, unknown> };
    },

    restore: (r: Persisted): void => {
      this.#confirmed = r.s as S;
      this.#loaded = true;
      this.#version = r.v;
      this.#epoch = r.epoch;
      for (const w of r.q) {
        for (const op of w.ops) this.#copied.add(op);
        this.#add(w.ops, w.base);
      }
      // No rebase: the state already holds the writes that were in flight.
      for (const [f, value] of Object.entries(r.o)) this.#overlay.set(f, { value, local: false });
      this.#emit();
    },
  };

  // Resumable only when the state is exactly the server's at `version`: no write of unknown
  // fate is in it, and the echo of every accepted write has arrived.
  #resumable(): { v: number; epoch: string } | undefined {
    const v = this.#version;
    if (v === undefined || this.#epoch === undefined || this.#awaitingSet || this.#doubt || this.#inflight.size || v < this.#ackV) return undefined;
    return { v, epoch: this.#epoch };
  }

  #resync(): void {
    this.#awaitingSet = true;
    this.fetchRemoteState();
  }

  #makeSnapshot(): KeySnapshot<S> {
    const state = this.#overlay.size > 0 && isObject(this.#confirmed) ? (layer(this.#confirmed, this.#overlay) as S) : this.#confirmed;
    let unsynced = this.#outbox.length > 0;
    for (const e of this.#overlay.values()) if (e.local) unsynced = true;
    return { state, version: this.#version, loaded: this.#loaded, unsynced, error: this.#error, tasks: this.#tasks, conflicts: this.#conflicts };
  }

  #emit(): void {
    this.#snapshot = this.#makeSnapshot();
    for (const l of [...this.#listeners]) l();
  }
}

// A copy of `base` (an object) with the overlay's entries (the written ones, or all) laid on top.
function layer(base: unknown, overlay: Map<string, Overlay>, written?: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(isObject(base) ? base : {}) };
  for (const [f, e] of overlay) {
    if (written && e.local) continue;
    if (e.value === REMOVED) delete out[f];
    else setOwn(out, f, e.value);
  }
  return out;
}
