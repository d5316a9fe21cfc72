// Session: one WebSocket to a wssync (or ws-sync) server, with reconnects, request/response
// matching, and routing of key events to the per-key stores. Framework-free; the React hooks
// are a thin layer over it.

import { isTerminalCloseCode } from "./codes";
import { type ErrorInfo, SyncError, keyOfEvent, notConnected, toSyncError } from "./errors";
import { base64ToBytes, saveWithAnchor } from "./download";
import { type IdStorage, randomId, SESSION_ID_KEY, storageOf, storedSessionId, userSessionIds, writeId } from "./ids";
import { isObject } from "./patch";
import { claimSessionId, holdSessionId } from "./tabs";
import { type KeyInbox, type KeyLink, type Persisted, SyncedKey, inboxOf } from "./store";
import type { AnyParams, BinaryPayload, ParamMap, Toast } from "./types";

// Typed as "bivariant" methods so both the DOM WebSocket and the `ws` package's client fit.
type Listener<E> = { bivarianceHack(ev: E): void }["bivarianceHack"];

/** The part of the WebSocket API a Session uses: the browser's WebSocket and `ws`'s both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  /** The subprotocol the server selected ("" for none). */
  readonly protocol?: string;
  binaryType: string;
  onopen: Listener<unknown> | null;
  onclose: Listener<{ code: number; reason: string }> | null;
  onmessage: Listener<{ data: unknown }> | null;
  onerror: Listener<unknown> | null;
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor, e.g. `WebSocket` or `import { WebSocket } from "ws"`. */
export type WebSocketConstructor = new (url: string, protocols?: string[]) => WebSocketLike;

/** The subprotocol a wssync server selects, the prefix of the one that carries a token, and the resume offer. */
const SUBPROTOCOL = "wssync";
const BEARER_PREFIX = "wssync.bearer.";
const RESUME = "wssync.resume";

/** Where a Session persists its keys: `sessionStorage` and anything with the same two methods. */
export type StateStorage = Pick<Storage, "getItem" | "setItem">;

/** Reconnect policy. Delay before retry n (1-based) is random(0, min(maxDelayMs, baseDelayMs·2^(n-1))). */
export interface ReconnectOptions {
  /** Reconnect automatically after an unexpected close. Default true. */
  enabled?: boolean;
  /** First retry's upper bound in ms. Default 250. */
  baseDelayMs?: number;
  /** Cap on any retry's upper bound in ms. Default 10000. */
  maxDelayMs?: number;
}

/** Options of a {@link Session}. Only `url` is required. */
export interface SessionOptions {
  /** The server's WebSocket endpoint, e.g. `ws://localhost:8080/ws`. */
  url: string;
  /** WebSocket implementation. Default `globalThis.WebSocket`; pass `ws`'s in Node. */
  WebSocketImpl?: WebSocketConstructor;
  /**
   * Answer `_REQUEST_USER_SESSION` with ids kept in localStorage (user, shared by tabs) and
   * sessionStorage (session, per tab). Default false, as in ws-sync-react.
   */
  wsAuth?: boolean;
  /** Storage for the wsAuth ids. Default window.localStorage / window.sessionStorage. */
  idStorage?: IdStorage;
  /**
   * With wsAuth, how long the first connect waits for another tab to claim the stored session
   * id (a duplicated tab copies sessionStorage); if one does, this tab takes a fresh id instead
   * of taking the session over. 0 disables. Default 50.
   */
  tabWaitMs?: number;
  /** Reconnect policy. */
  reconnect?: ReconnectOptions;
  /** Default timeout of requests (`sendAction`, `startTask`, `cancelTask`) in ms; 0 disables. Default 30000. */
  requestTimeoutMs?: number;
  /** Receives `_TOAST` notifications. */
  onToast?: (toast: Toast) => void;
  /**
   * Receives errors nobody else handles: `_ERROR` frames, `_RESULT` errors for unknown ids,
   * failed tasks, and local patch failures. Errors of a request also reject its Promise and
   * do not come here.
   */
  onError?: (error: SyncError) => void;
  /** Saves a `_DOWNLOAD`. Default: a Blob and a temporary `<a download>` click. */
  saveFile?: (filename: string, bytes: Uint8Array) => void;
  /** Source of randomness for the backoff jitter, in [0, 1). Default Math.random. */
  random?: () => number;
  /**
   * Returns a fresh token (a JWT) for a server that verifies tokens (package wsauth). Called
   * before every connect, the token offered as the subprotocol `wssync.bearer.TOKEN` beside
   * `wssync` (browsers cannot set headers on a WebSocket), and when the server announces the
   * token's expiry (`_AUTH_EXPIRING`), the token then sent as `_AUTH` so the connection
   * stays open. A close for an expired token (4005) reconnects with a new one. A throw or
   * rejection while connecting counts as a failed connect (retried with backoff); while
   * refreshing it goes to `onError` as `token_failed`.
   */
  getToken?: () => string | Promise<string>;
  /**
   * Resume: after a reconnect, offer the versions held (subprotocol `wssync.resume`, then
   * `_RESUME`) so the server sends only the missed patches. Only when some key's `_SET`
   * carried an epoch, i.e. the server resumes. Default true.
   */
  resume?: boolean;
  /**
   * Keep each key's state, version and queued writes across a reload: `true` for
   * sessionStorage (per tab), or a storage of yours. The item is `"wssync:" + url`. Default off.
   */
  persist?: boolean | StateStorage;
  /**
   * Interval of the application-level `ping` that measures `rttMs`, in ms; 0 disables.
   * Sent only to a server that shows it is wssync (it selected the `wssync` subprotocol, or
   * sent a versioned frame), and stopped for a connection whose server does not know it. Default 25000.
   */
  pingIntervalMs?: number;
  /**
   * Heartbeat: a connection that receives no frame of any kind for this long after a `ping`
   * is taken for dead (a half-open socket: lid closed, network switched), closed, and
   * reconnected with the backoff. So a dead socket is noticed at most pingIntervalMs +
   * heartbeatTimeoutMs after its last frame. Only while pinging; 0 disables. Default 10000.
   */
  heartbeatTimeoutMs?: number;
}

/**
 * Connection quality from the pings: "good" when the round trip is under 150 ms, its jitter
 * under 30 ms and no pong is missing; "fair" under 400 ms and 100 ms with at most one missing;
 * else "poor". Undefined until the first pong of a connection.
 */
export type ConnectionQuality = "good" | "fair" | "poor";

/** What a UI shows about the connection. A new object on every change. */
export interface ConnectionState {
  status: "connecting" | "open" | "closed";
  /** Reconnect attempts since the last successful open (0 while open). */
  attempt: number;
  /** When closed and a retry is scheduled: its delay in ms. */
  retryInMs?: number;
  /** When closed and a retry is scheduled: its time, as Date.now() would report it. */
  retryAt?: number;
  /** Close code of the last close, if any. */
  lastCloseCode?: number;
  /** Close reason of the last close, or the `_DISCONNECT` message. */
  lastCloseReason?: string;
  /** True when the last close forbids reconnecting (`_DISCONNECT`, 4000, 4004, 1008). */
  terminal: boolean;
  /** Round-trip time of the last `ping` on this connection, in ms (after the first pong). */
  rttMs?: number;
  /** Smoothed difference between successive round trips, in ms (after the first pong). */
  jitterMs?: number;
  /** Pings of this connection still unanswered when the next one left. */
  missedPongs?: number;
  /** Grade from rttMs, jitterMs and missedPongs; see {@link ConnectionQuality}. */
  quality?: ConnectionQuality;
}

/** Handler of a server event; binary events get a {@link BinaryPayload}. */
export type EventHandler = (data: unknown) => void;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: SyncError) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  key: string | undefined;
}

const OPEN = 1; // WebSocket.OPEN, not read from the constructor so any implementation works
const noop = (): void => {};

/** Delay before reconnect attempt `attempt` (1-based): full jitter over an exponential bound. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const bound = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * bound);
}

// Binary frames arrive as ArrayBuffer (binaryType "arraybuffer"); some implementations hand
// out views (Node Buffers). Realm-safe checks: instanceof fails across realms (jsdom vs Node).
function toArrayBuffer(d: unknown): ArrayBuffer | undefined {
  if (Object.prototype.toString.call(d) === "[object ArrayBuffer]") return d as ArrayBuffer;
  if (ArrayBuffer.isView(d)) return d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength) as ArrayBuffer;
  return undefined;
}

/**
 * One connection to a wssync server. Construct, then `connect()`. Safe to use without React.
 * All callbacks run on the event loop turn that received the frame.
 */
export class Session implements KeyLink {
  readonly url: string;
  readonly #opts: SessionOptions;
  #ws: WebSocketLike | null = null;
  #wantOpen = false; // connect() called and not since disconnect()/terminal close
  #terminal = false;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #state: ConnectionState = { status: "closed", attempt: 0, terminal: false };
  readonly #stateListeners = new Set<() => void>();
  readonly #handlers = new Map<string, Set<EventHandler>>();
  readonly #initHandlers = new Set<() => void>();
  readonly #keys = new Map<string, { store: SyncedKey<unknown, ParamMap, ParamMap>; inbox: KeyInbox }>();
  readonly #pending = new Map<string, Pending>();
  #binMeta: { type: string; metadata: Record<string, unknown> } | null = null;
  readonly #idMemory: { user: { id?: string }; session: { id?: string } } = { user: {}, session: {} };
  // Answering duplicated tabs: [0] for our wsAuth session id, [1] for the id of our persisted queue.
  readonly #holds: ((() => void) | undefined)[] = [];
  #owner: string | undefined; // persist: that id, once held
  #claim: string | undefined; // persist: the id a restored record with queued writes was saved under, until claimed
  #tokenWait = 0; // > 0 while open() waits for getToken: the number of that wait
  #opens = 0; // counts open() calls, so a token that arrives too late is dropped
  #refreshing: Promise<void> | undefined;
  #offered: Record<string, unknown> | undefined; // this connection offered wssync.resume: what _RESUME says first
  #pingTimer: ReturnType<typeof setInterval> | 0 | undefined; // 0: stopped for this connection
  #pingAt = 0;
  #pingTick = 0; // Date.now() of the last ping tick: a much later tick means the machine slept
  #missed = 0;
  #deadTimer: ReturnType<typeof setTimeout> | undefined;
  #hiddenAt = 0;
  readonly #pingMs: number;
  readonly #deadMs: number;
  readonly #storage: StateStorage | undefined;
  #saveTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: SessionOptions) {
    this.#opts = options;
    this.#pingMs = options.pingIntervalMs ?? 25_000;
    this.#deadMs = options.heartbeatTimeoutMs ?? 10_000;
    this.url = options.url;
    const p = options.persist;
    this.#storage = p === true ? storageOf("sessionStorage") : p || undefined;
    if (!this.#storage) return;
    try {
      const saved = JSON.parse(this.#storage.getItem("wssync:" + this.url) ?? "{}") as { t?: string; k?: Record<string, Persisted> };
      for (const [key, r] of Object.entries(saved.k ?? {})) {
        inboxOf(this.sync(key, r.s)).restore(r);
        if (r.q.length) this.#claim = saved.t;
      }
    } catch {
      // unreadable: start without it
    }
  }

  // Window and document listeners live from connect() to disconnect() or a terminal close, so
  // a Session that is dropped (never connected, or disconnected) leaves none behind.
  #listen(on: boolean): void {
    const g = globalThis as Partial<Pick<EventTarget, "addEventListener" | "removeEventListener">> & { document?: EventTarget };
    const f = on ? "addEventListener" : "removeEventListener";
    if (this.#storage) g[f]?.("pagehide", this.save);
    g[f]?.("online", this.#wake);
    g.document?.[f]?.("visibilitychange", this.#onVisibility);
    if (!on) for (const release of this.#holds.splice(0)) release?.();
  }

  // Back online, or visible again: retry now if waiting, probe an open socket with a ping.
  readonly #wake = (): void => {
    if (!this.#wantOpen) return;
    if (this.#retryTimer !== undefined) this.connect();
    else if (this.#pingTimer) this.#ping();
  };

  readonly #onVisibility = (): void => {
    const hidden = (globalThis as { document?: { visibilityState?: string } }).document?.visibilityState === "hidden";
    if (hidden) this.#hiddenAt = Date.now();
    else if (this.#hiddenAt) {
      // After a sleep longer than the heartbeat bound, the socket is taken for dead at once.
      if (Date.now() - this.#hiddenAt > this.#heartbeatBound()) this.#drop("asleep");
      else this.#wake();
      this.#hiddenAt = 0;
    }
  };

  /** Writes every key's persisted record now (also on `pagehide`, and shortly after any change). */
  save = (): void => {
    clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    const out: Record<string, Persisted> = {};
    for (const [key, k] of this.#keys) {
      const d = k.inbox.dump();
      if (d) out[key] = d;
    }
    try {
      this.#storage?.setItem("wssync:" + this.url, JSON.stringify({ t: this.#owner ?? this.#claim, k: out }));
    } catch {
      // full or disabled: the next change tries again
    }
  };

  // ---- connection ----

  /**
   * Opens the socket and keeps it open, reconnecting, until `disconnect()` or a terminal close.
   * No-op while open or connecting; while waiting for a retry it connects at once (a "retry
   * now" button). Throws if no WebSocket implementation is available.
   */
  connect(): void {
    if (!this.#wantOpen) this.#listen(true);
    this.#wantOpen = true;
    this.#terminal = false;
    if (this.#ws || this.#tokenWait) return;
    this.#clearRetry();
    this.#open();
  }

  /** Closes the socket and stops reconnecting. Pending requests reject with `disconnected`. */
  disconnect(): void {
    if (this.#wantOpen) {
      this.#listen(false);
      if (this.#storage) this.save();
    }
    this.#wantOpen = false;
    this.#tokenWait = 0; // a token still on its way opens nothing
    if (!this.#ws && this.#retryTimer === undefined && this.#state.status === "closed") return;
    this.#clearRetry();
    const ws = this.#ws;
    if (ws) {
      this.#detach(ws);
      ws.close(1000);
      this.#afterClose();
    }
    this.#setStatus("closed");
  }

  /** True while the socket is open. */
  get isOpen(): boolean {
    return this.#ws?.readyState === OPEN && this.#state.status === "open";
  }

  /** The current connection state (same object until it changes; suits useSyncExternalStore). */
  getConnectionState = (): ConnectionState => this.#state;

  /** Calls `listener` after every connection state change; returns the unsubscribe function. */
  subscribeConnection = (listener: () => void): (() => void) => {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  };

  #open(): void {
    const Impl = this.#opts.WebSocketImpl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Impl) throw new Error("wssync: pass WebSocketImpl");
    this.#setStatus("connecting");
    const getToken = this.#opts.getToken;
    // Offered only with versions a server with epochs gave: a ws-sync server, which selects no
    // subprotocol, would make the browser fail the upgrade.
    // What _RESUME will say, taken now: until identification no frame of the server changes it.
    const offer: Record<string, unknown> = {};
    if (this.#opts.resume !== false) {
      for (const [key, k] of this.#keys) {
        const r = k.inbox.resumeInfo();
        if (r) offer[key] = r;
      }
    }
    const resume = Object.keys(offer).length > 0;
    this.#offered = resume ? offer : undefined;
    const protos = resume ? [SUBPROTOCOL, RESUME] : [SUBPROTOCOL];
    const tab = this.#opts.wsAuth && !this.#holds[0] ? this.#claimTab() : undefined;
    const own = this.#claimOwner();
    const wait = tab || own ? Promise.all([tab, own]) : undefined;
    const make = (token?: string): void =>
      this.#attach(token !== undefined ? new Impl(this.url, [...protos, BEARER_PREFIX + token]) : resume ? new Impl(this.url, protos) : new Impl(this.url));
    if (!getToken && !wait) return make();
    const n = (this.#tokenWait = ++this.#opens);
    // Only the latest wait acts: a disconnect() or a newer open() made this one stale.
    const latest =
      <T>(f: (v: T) => void) =>
      (v: T): void => {
        if (this.#tokenWait !== n) return;
        this.#tokenWait = 0;
        f(v);
      };
    Promise.resolve(wait)
      .then(() => getToken?.())
      .then(latest(make))
      .catch(latest(() => this.#closed(1006, "getToken failed")));
  }

  // Before the first connect with wsAuth: a stored session id another live tab answers for
  // was copied with a duplicated tab; take a fresh one (stored, so this tab's reloads keep it).
  #claimTab(): Promise<void> | undefined {
    const { tab, id } = storedSessionId(this.#opts.idStorage);
    if (!tab) return undefined;
    return this.#claimId(0, tab, id, () => userSessionIds(this.#opts.idStorage, this.#idMemory).session, (v, copy) => {
      if (copy) writeId(tab, SESSION_ID_KEY, this.#idMemory.session, v);
    });
  }

  // persist: the restored queue is this document's only if no other live document answers
  // for the id it was saved under: a duplicated tab copies sessionStorage, and with it its
  // original's queue, which the original replays itself. A reload finds nobody and keeps it.
  // Without a restored queue there is nothing to ask: this document takes a fresh id.
  #claimOwner(): Promise<void> | undefined {
    const st = this.#storage;
    if (!st || this.#holds[1]) return undefined;
    const id = this.#claim;
    return this.#claimId(1, st, id, () => this.#owner ?? id ?? randomId(), (v, copy) => {
      if (copy) for (const k of this.#keys.values()) k.inbox.disown();
      this.#owner = v;
      this.#claim = undefined;
    });
  }

  // Asks whether another document holds `id` (up to tabWaitMs): if one does, this is its copy
  // and takes a fresh id. Without an id to ask about, or with the check off, takes `mine()`.
  // `took` hears the result, then this document answers for it in hold `slot` until listen(false).
  #claimId(slot: 0 | 1, doc: object, id: string | undefined, mine: () => string, took: (v: string, copy: boolean) => void): Promise<void> | undefined {
    const hold = (v: string, copy: boolean): void => {
      took(v, copy);
      this.#holds[slot]?.(); // a connect() again while waiting: one hold, not two
      this.#holds[slot] = this.#wantOpen ? holdSessionId(doc, v) : undefined;
    };
    const wait = this.#opts.tabWaitMs ?? 50;
    if (!id || !(wait > 0)) return void hold(mine(), false);
    return claimSessionId(doc, id, wait).then((v) => hold(v, v !== id));
  }

  #attach(ws: WebSocketLike): void {
    ws.binaryType = "arraybuffer";
    this.#ws = ws;
    ws.onopen = () => {
      if (this.#ws !== ws) return;
      this.#attempt = 0;
      this.#setStatus("open");
      if (!this.#opts.wsAuth) this.#identified();
      for (const h of [...this.#initHandlers]) h();
    };
    ws.onmessage = (ev) => {
      if (this.#ws === ws) this.#receive(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.#ws === ws) this.#closed(ev.code, ev.reason);
    };
    ws.onerror = noop; // a close event always follows
  }

  #closed(code: number, reason: string): void {
    this.#afterClose();
    const last = { lastCloseCode: code, lastCloseReason: this.#terminal ? this.#state.lastCloseReason : reason };
    if (isTerminalCloseCode(code)) this.#terminal = true;
    if (this.#terminal || !this.#wantOpen || this.#opts.reconnect?.enabled === false) {
      if (this.#wantOpen) this.#listen(false);
      this.#wantOpen = false;
      this.#setStatus("closed", last);
      return;
    }
    this.#attempt++;
    const delay = backoffDelay(
      this.#attempt,
      this.#opts.reconnect?.baseDelayMs ?? 250,
      this.#opts.reconnect?.maxDelayMs ?? 10_000,
      this.#opts.random,
    );
    this.#setStatus("closed", { retryInMs: delay, retryAt: Date.now() + delay, ...last });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      try {
        this.#open();
      } catch {
        this.#closed(1006, "constructor failed");
      }
    }, delay);
  }

  // After identification (at open, or once the wsAuth ids are sent): `_RESUME` must be the
  // first frame the server reads then.
  #identified(): void {
    if (this.#offered) this.send("_RESUME", this.#offered);
    if (this.#ws?.protocol === SUBPROTOCOL) this.#startPing();
  }

  #startPing(): void {
    const ms = this.#pingMs;
    if (this.#pingTimer !== undefined || !(ms > 0)) return;
    this.#ping();
    this.#pingTick = Date.now();
    this.#pingTimer = setInterval(() => {
      // A tick far later than due: timers were frozen (sleep), the socket is likely dead.
      const late = Date.now() - this.#pingTick > ms + this.#heartbeatBound();
      this.#pingTick = Date.now();
      if (late) this.#drop("asleep");
      else this.#ping();
    }, ms);
  }

  #heartbeatBound(): number {
    return this.#pingMs + this.#deadMs;
  }

  // Sends a ping and, unless one is armed, the timer that drops the socket if no frame follows.
  #ping(): void {
    if (this.#pingAt) this.#missed++;
    this.send("ping", (this.#pingAt = Date.now()));
    const t = this.#deadMs;
    if (t > 0 && this.#deadTimer === undefined) this.#deadTimer = setTimeout(() => this.#drop("heartbeat timeout"), t);
  }

  // Gives up on a socket that may never deliver its close: detach it and reconnect at once.
  #drop(reason: string): void {
    const ws = this.#ws;
    if (!ws) return;
    this.#detach(ws);
    ws.close(4408, reason);
    this.#closed(1006, reason);
  }

  // Shared by a close from either side: fail what was in flight, tell the key stores.
  #afterClose(): void {
    this.#ws = null;
    this.#binMeta = null;
    clearInterval(this.#pingTimer);
    clearTimeout(this.#deadTimer);
    this.#pingTimer = this.#deadTimer = undefined;
    this.#pingAt = this.#missed = 0;
    const err: ErrorInfo = { code: "disconnected", message: "connection closed" };
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new SyncError(err, p.key));
    }
    for (const k of this.#keys.values()) k.inbox.closed();
  }

  #detach(ws: WebSocketLike): void {
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = noop; // `ws` throws on an unhandled 'error' from a socket closed while connecting
  }

  #clearRetry(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  // A new state of `status`: the attempt count, terminal flag and last close (undefined until
  // the first) carried over. Open and connecting are never terminal: connect() clears the
  // flag before either.
  #setStatus(status: ConnectionState["status"], extra?: Partial<ConnectionState>): void {
    const { lastCloseCode, lastCloseReason } = this.#state;
    this.#setState({ status, attempt: this.#attempt, terminal: this.#terminal, lastCloseCode, lastCloseReason, ...extra });
  }

  #setState(s: ConnectionState): void {
    this.#state = s;
    for (const l of [...this.#stateListeners]) l();
  }

  // ---- events ----

  /** Adds a handler for server event `event`; returns the function that removes it. */
  registerEvent(event: string, handler: EventHandler): () => void {
    let set = this.#handlers.get(event);
    if (!set) this.#handlers.set(event, (set = new Set()));
    set.add(handler);
    return () => this.deregisterEvent(event, handler);
  }

  /** Removes `handler` from `event` (or every handler of `event` when omitted). */
  deregisterEvent(event: string, handler?: EventHandler): void {
    const set = this.#handlers.get(event);
    if (!set) return;
    if (handler) set.delete(handler);
    if (!handler || set.size === 0) this.#handlers.delete(event);
  }

  /** Runs `handler` on every open, before any frame of that connection; returns the remover. */
  registerInit(handler: () => void): () => void {
    this.#initHandlers.add(handler);
    return () => this.deregisterInit(handler);
  }

  /** Removes an init handler. */
  deregisterInit(handler: () => void): void {
    this.#initHandlers.delete(handler);
  }

  #dispatch(event: string, data: unknown): void {
    const set = this.#handlers.get(event);
    if (set) for (const h of [...set]) h(data);
  }

  #receive(raw: unknown): void {
    clearTimeout(this.#deadTimer); // any frame shows the socket alive
    this.#deadTimer = undefined;
    // A binary frame goes with the _BIN_META just before it; a text frame after _BIN_META
    // means the binary frame is not coming.
    const meta = this.#binMeta;
    this.#binMeta = null;
    if (typeof raw !== "string") {
      const data = toArrayBuffer(raw);
      if (!meta || !data) return; // no _BIN_META before it: nothing to route it to
      const payload: BinaryPayload = { ...meta.metadata, data };
      this.#route(meta.type, payload, undefined);
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    if (!isObject(frame) || typeof frame.type !== "string") return;
    const f = frame as { type: string; data?: unknown; v?: unknown; id?: unknown; error?: unknown };
    this.#route(f.type, f.data, f);
  }

  #route(type: string, data: unknown, f: { v?: unknown; id?: unknown; error?: unknown; epoch?: unknown } | undefined): void {
    switch (type) {
      case "_DISCONNECT":
        // The server closes the socket next (4000); whatever the code, do not come back.
        this.#terminal = true;
        this.#wantOpen = false;
        this.#state = { ...this.#state, lastCloseReason: typeof data === "string" ? data : "replaced" };
        break;
      case "_AUTH_EXPIRING":
        if ((data as { refresh?: unknown } | null)?.refresh === true && this.#opts.getToken) {
          this.refreshToken().catch((e: unknown) => this.reportError(e instanceof SyncError ? e : toSyncError(e)));
        }
        break;
      case "_REQUEST_USER_SESSION":
        if (this.#opts.wsAuth) {
          this.send("_USER_SESSION", userSessionIds(this.#opts.idStorage, this.#idMemory));
          this.#identified();
        } else console.warn("Manager wants ids: set wsAuth");
        break;
      case "_RESUMED": {
        const p = (data as { patched?: unknown } | null)?.patched;
        for (const k of Array.isArray(p) ? (p as string[]) : []) this.#keys.get(k)?.inbox.resumed(); // a non-string names no key
        break;
      }
      case "pong":
        if (this.#pingAt) {
          const rtt = Date.now() - this.#pingAt;
          const prev = this.#state.rttMs;
          const j = prev === undefined ? 0 : Math.round(((this.#state.jitterMs ?? 0) * 3 + Math.abs(rtt - prev)) / 4);
          const m = this.#missed;
          const quality = rtt < 150 && j < 30 && !m ? "good" : rtt < 400 && j < 100 && m < 2 ? "fair" : "poor";
          this.#setState({ ...this.#state, rttMs: rtt, jitterMs: j, missedPongs: m, quality });
          this.#pingAt = this.#missed = 0;
        }
        break;
      case "_TOAST":
        if (isObject(data)) this.#opts.onToast?.(data as unknown as Toast);
        break;
      case "_DOWNLOAD": {
        const d = data as { filename?: unknown; data?: unknown } | null;
        if (d && typeof d.filename === "string" && typeof d.data === "string") {
          (this.#opts.saveFile ?? saveWithAnchor)(d.filename, base64ToBytes(d.data));
        }
        break;
      }
      case "_BIN_META": {
        const m = data as { type?: unknown; metadata?: unknown } | null;
        if (m && typeof m.type === "string") {
          const metadata = typeof m.metadata === "object" && m.metadata !== null ? (m.metadata as Record<string, unknown>) : {};
          this.#binMeta = { type: m.type, metadata };
        }
        return; // handlers see the combined payload, not the meta frame
      }
      case "_RESULT":
        if (f) this.#result(f);
        break;
      case "_ERROR": {
        // A server that does not know ping or _RESUME refuses it: stop pinging, and the
        // _SETs it sends anyway settle the rest. Neither is the app's error.
        const ev = (data as { event?: unknown } | null)?.event;
        if (ev === "ping") {
          clearInterval(this.#pingTimer);
          this.#pingTimer = 0;
        } else if (ev !== "_RESUME") this.reportError(toSyncError(data));
        break;
      }
      default:
        this.#routeKey(type, data, f);
    }
    this.#dispatch(type, data);
  }

  #routeKey(type: string, data: unknown, f: { v?: unknown; epoch?: unknown } | undefined): void {
    const key = keyOfEvent(type);
    if (key === undefined) return;
    const kind = type.slice(0, type.length - key.length - 1);
    const v = f?.v;
    const version = typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined;
    if (version !== undefined) this.#startPing(); // versions: a wssync server, which answers ping
    // Remember state for keys no component has asked for yet, so a later useSynced starts
    // from the server's state instead of waiting for a _GET round trip.
    if (!this.#keys.has(key) && kind === "_SET") this.sync<unknown, ParamMap, ParamMap>(key, undefined);
    const inbox = this.#keys.get(key)?.inbox;
    if (!inbox) return;
    switch (kind) {
      case "_SET":
        inbox.set(data, version, f?.epoch);
        break;
      case "_PATCH":
        inbox.patch(data, version);
        break;
      case "_ACTION":
        inbox.action(data);
        break;
      case "_TASK_STATUS":
        inbox.taskStatus(data);
        break;
    }
  }

  #result(f: { id?: unknown; data?: unknown; error?: unknown }): void {
    const failed = f.error !== undefined && f.error !== null;
    const p = typeof f.id === "string" ? this.#pending.get(f.id) : undefined;
    if (!p) {
      // Unknown id: a result that arrived after its timeout, or a server bug.
      if (failed) this.reportError(toSyncError(f.error));
      return;
    }
    this.#pending.delete(f.id as string);
    clearTimeout(p.timer);
    if (failed) {
      const err = toSyncError(f.error, p.key);
      if (p.key !== undefined) this.#keys.get(p.key)?.inbox.error(err);
      p.reject(err);
    } else {
      p.resolve(f.data ?? null);
    }
  }

  /** Hands `err` to the key it concerns (its `error`) and to `onError`. */
  reportError(err: SyncError): void {
    if (err.key !== undefined) this.#keys.get(err.key)?.inbox.error(err);
    this.#opts.onError?.(err);
  }

  // ---- sending ----

  /** Sends `{type: event, data, ...extra}`. Returns false (and sends nothing) when not open. */
  send(event: string, data: unknown, extra?: Record<string, unknown>): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN) return false;
    ws.send(JSON.stringify({ ...extra, type: event, data }));
    return true;
  }

  /**
   * Sends `event` with a fresh request id and resolves with the `_RESULT` data, or rejects with
   * a {@link SyncError}: the server's error, or `not_connected`, `disconnected`, `timeout`.
   */
  request(event: string, data: unknown, options: { key?: string; timeoutMs?: number; extra?: Record<string, unknown> } = {}): Promise<unknown> {
    const key = options.key ?? keyOfEvent(event);
    return new Promise((resolve, reject) => {
      const id = randomId();
      if (!this.send(event, data, { ...options.extra, id })) {
        reject(notConnected(event, key));
        return;
      }
      const ms = options.timeoutMs ?? this.#opts.requestTimeoutMs ?? 30_000;
      const p: Pending = { resolve, reject, key, timer: undefined };
      if (ms > 0) {
        p.timer = setTimeout(() => {
          this.#pending.delete(id);
          reject(new SyncError({ code: "timeout", message: `no result within ${ms} ms`, event }, key));
        }, ms);
      }
      this.#pending.set(id, p);
    });
  }

  /**
   * Sends a fresh token from `getToken` as `_AUTH`, extending the connection's identity, and
   * resolves once the server took it. Rejects with `token_failed` when getToken fails, or
   * the server's error (`token_rejected`, `token_wrong_user`). One refresh at a time: a call
   * while one runs returns that one.
   */
  refreshToken(): Promise<void> {
    const getToken = this.#opts.getToken;
    const failed = (message: string): SyncError => new SyncError({ code: "token_failed", message, event: "_AUTH" });
    if (!getToken) return Promise.reject(failed("no getToken option"));
    this.#refreshing ??= Promise.resolve()
      .then(getToken)
      .then(
        (token) => this.request("_AUTH", { token }).then(noop),
        (e: unknown) => {
          throw failed(`getToken: ${String(e)}`);
        },
      )
      .finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  /** Sends `_BIN_META {type: event, metadata}` and then `bytes` as one binary frame. False when not open. */
  sendBinary(event: string, metadata: Record<string, unknown>, bytes: ArrayBuffer | ArrayBufferView): boolean {
    if (!this.send("_BIN_META", { type: event, metadata })) return false;
    (this.#ws as WebSocketLike).send(bytes);
    return true;
  }

  // ---- keys ----

  /**
   * The store of `key`, created on first use with `initialState` (ignored afterwards).
   * Stores live as long as the Session and keep tracking the server's state.
   */
  sync<S, A extends ParamMap = AnyParams, T extends ParamMap = AnyParams>(key: string, initialState: S): SyncedKey<S, A, T> {
    let entry = this.#keys.get(key);
    if (!entry) {
      const store = new SyncedKey<unknown, ParamMap, ParamMap>(this, key, initialState);
      entry = { store, inbox: inboxOf(store) };
      this.#keys.set(key, entry);
      if (this.#storage) store.subscribe(() => (this.#saveTimer ??= setTimeout(this.save, 100)));
    }
    return entry.store as unknown as SyncedKey<S, A, T>;
  }
}
