// React bindings: a provider that owns a Session, and hooks over its stores.
// Each key is its own external store, so a component re-renders only when its key changes.

import { type ReactElement, type ReactNode, createContext, useContext, useEffect, useMemo, useRef, useSyncExternalStore } from "react";
import { saveWithAnchor } from "./download";
import type { SyncError } from "./errors";
import type { Operation } from "./patch";
import { type ConnectionState, type EventHandler, Session, type SessionOptions } from "./session";
import type { Conflict, KeySnapshot, SyncedKey } from "./store";
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

const SessionContext = createContext<Session | null>(null);

/**
 * Props of {@link SessionProvider}: the {@link SessionOptions} it passes on, plus its own.
 * Changing `url`, `wsAuth` or `WebSocketImpl` replaces the Session; `reconnect`,
 * `requestTimeoutMs`, `resume`, `persist`, `pingIntervalMs` and `heartbeatTimeoutMs` are read when the Session is created; `onToast`, `onError`, `saveFile`
 * and `getToken` may change between renders without reconnecting (whether a `getToken` is
 * given at all is read when the Session is created).
 */
export interface SessionProviderProps
  extends Pick<
    SessionOptions,
    "url" | "wsAuth" | "reconnect" | "requestTimeoutMs" | "WebSocketImpl" | "onToast" | "onError" | "saveFile" | "getToken" | "resume" | "persist" | "pingIntervalMs" | "heartbeatTimeoutMs"
  > {
  /** Connect on mount and disconnect on unmount. Default true. */
  autoconnect?: boolean;
  /** Use this Session instead of creating one; the provider then never connects or disconnects it. */
  session?: Session;
  children?: ReactNode;
}

/** Provides a Session to `useSynced`, `useSession` and `useConnectionState` below it. */
export function SessionProvider(props: SessionProviderProps): ReactElement {
  const { url, wsAuth = false, autoconnect = true, WebSocketImpl, session: external, resume, persist, pingIntervalMs } = props;
  // Callbacks go through a ref so a new inline function does not recreate the Session.
  const latest = useRef(props);
  useEffect(() => {
    latest.current = props;
  });
  const session = useMemo(
    () =>
      external ??
      new Session({
        // Options left undefined mean their defaults.
        url,
        wsAuth,
        WebSocketImpl,
        reconnect: props.reconnect,
        requestTimeoutMs: props.requestTimeoutMs,
        getToken: props.getToken && (() => (latest.current.getToken ?? props.getToken!)()),
        resume,
        persist,
        pingIntervalMs,
        heartbeatTimeoutMs: props.heartbeatTimeoutMs,
        onToast: (t) => latest.current.onToast?.(t),
        onError: (e) => latest.current.onError?.(e),
        saveFile: (name, bytes) => (latest.current.saveFile ?? saveWithAnchor)(name, bytes),
      }),
    // Reconnect bounds and timeout are read once per Session, like the url's identity.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [external, url, wsAuth, WebSocketImpl],
  );
  useEffect(() => {
    if (external || !autoconnect) return;
    // Connect a task later: StrictMode's mount/unmount/mount then cancels the first timer
    // instead of opening a socket and closing it before it is established.
    const t = setTimeout(() => session.connect(), 0);
    return () => {
      clearTimeout(t);
      session.disconnect();
    };
  }, [session, external, autoconnect]);
  return <SessionContext.Provider value={session}>{props.children}</SessionContext.Provider>;
}

/** The Session of the nearest SessionProvider. Throws outside one. */
export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("wssync: call inside <SessionProvider>");
  return s;
}

/**
 * Calls `handler` with the data of every server event `name` (`{"type": name, "data": ...}`).
 * The latest handler is called, so an inline function is fine; unsubscribes on unmount.
 */
export function useEvent(name: string, handler: EventHandler): void {
  const s = useSession();
  const ref = useRef(handler);
  useEffect(() => {
    ref.current = handler;
  });
  useEffect(() => s.registerEvent(name, (d) => ref.current(d)), [s, name]);
}

/** The connection state, for indicators ("reconnecting in 3 s"), `rttMs`, `jitterMs` and `quality`. Re-renders on every change. */
export function useConnectionState(): ConnectionState {
  const s = useSession();
  return useSyncExternalStore(s.subscribeConnection, s.getConnectionState, s.getConnectionState);
}

/** Options of {@link useSynced}. */
export interface UseSyncedOptions<S> {
  /** Handlers for actions the server sends to this key (`_ACTION:KEY` server → client). */
  actions?: ExposedActions;
  /** Default debounce per field for `syncF` (ms); an explicit `{debounceMs}` wins. */
  debounceMs?: { [K in keyof S]?: number };
  /** Per field: with its debounce, send at least this often while typing continues (ms). */
  maxWaitMs?: { [K in keyof S]?: number };
}

/** `setF` for each top-level field F: changes it locally only. */
export type Setters<S> = {
  [K in keyof S & string as `set${Capitalize<K>}`]: (value: S[K] | ((prev: S[K]) => S[K])) => void;
};

/** `syncF` for each top-level field F: changes it locally and sends a `replace` op. */
export type Syncers<S> = {
  [K in keyof S & string as `sync${Capitalize<K>}`]: (value: S[K] | ((prev: S[K]) => S[K]), options?: SyncOptions) => void;
};

/** The members `useSynced` adds next to the state's fields. */
export interface SyncedHelpers<S, A extends ParamMap, T extends ParamMap> {
  /** The whole state (also spread as fields). */
  state: S;
  /** Version of the server state, when the server sends versions. */
  version: number | undefined;
  /** True once the first `_SET` arrived. */
  loaded: boolean;
  /** True while local edits are not yet sent. */
  unsynced: boolean;
  /** The last structured error about this key; it clears once its cause is gone (see docs/react-guide.md#errors). */
  error: SyncError | undefined;
  /** Forgets `error` now. */
  clearError: () => void;
  /** Last `_TASK_STATUS` per task name. */
  tasks: Readonly<Record<string, TaskStatus>>;
  /** Names of tasks whose last status is `started` or `running`. */
  activeTasks: string[];
  /** Queued writes the server refused as stale (see {@link Conflict}). */
  conflicts: readonly Conflict[];
  /** Forgets `conflicts`. */
  clearConflicts: () => void;
  /** Local-only change of several fields. */
  set: (update: Partial<S> | ((prev: S) => Partial<S>)) => void;
  /** Local change plus `_PATCH`; without arguments sends every local-only change. */
  sync: (update?: Partial<S> | ((prev: S) => Partial<S>), options?: SyncOptions) => void;
  /** Applies RFC 6902 ops locally and sends them. Throws PatchError if they do not apply. */
  patch: (ops: readonly Operation[]) => void;
  /** Edits a draft of the state; sends the nested ops it made as one `_PATCH`. */
  update: (recipe: (draft: S) => void) => void;
  /** Calls a server action; see SyncedKey.sendAction. */
  sendAction: <N extends keyof A & string>(action: ActionOf<A, N>, options?: RequestOptions) => Promise<ResultOf<A[N]>>;
  /** Starts a task; resolves once started. */
  startTask: <N extends keyof T & string>(task: ActionOf<T, N>, options?: RequestOptions) => Promise<void>;
  /** Cancels a running task; resolves once cancellation was requested. */
  cancelTask: <N extends keyof T & string>(task: { type: N }, options?: RequestOptions) => Promise<void>;
  /** Sends `_GET:KEY`; returns false when not connected. */
  fetchRemoteState: () => boolean;
  /** Sends an action with a binary payload. */
  sendBinary: <N extends keyof A & string>(action: ActionOf<A, N>, data: ArrayBuffer | ArrayBufferView) => Promise<void>;
  /** The underlying store (framework-free API). */
  store: SyncedKey<S, A, T>;
}

/**
 * The former name of `activeTasks`, present only when the state has no field `runningTasks`
 * (the Go guide's `WithRunningTasks("runningTasks")` field then shows through).
 */
export type LegacyRunningTasks<S, N = string> = "runningTasks" extends keyof S
  ? unknown
  : {
      /** @deprecated use `activeTasks`; a state field named `runningTasks` replaces this. */
      runningTasks: N[];
    };

/** What `useSynced` returns. Helper names win over state fields of the same name (use `state`). */
export type Synced<S, A extends ParamMap = AnyParams, T extends ParamMap = AnyParams> = Omit<S, keyof SyncedHelpers<S, A, T>> &
  Setters<S> &
  Syncers<S> &
  SyncedHelpers<S, A, T> &
  LegacyRunningTasks<S>;

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

// SyncedKey methods useSynced returns as they are.
const BOUND = ["clearError", "clearConflicts", "set", "sync", "patch", "update", "sendAction", "startTask", "cancelTask", "fetchRemoteState", "sendBinary"] as const;

/**
 * Subscribes to KEY's synced state. The state type is inferred from `initialState` (shown
 * until the server's `_SET` arrives); pass `<State, Actions, Tasks>` to type actions and tasks.
 */
export function useSynced<S extends object, A extends ParamMap = AnyParams, T extends ParamMap = AnyParams>(
  key: string,
  initialState: S,
  options?: UseSyncedOptions<S>,
): Synced<S, A, T> {
  const session = useSession();
  const store = session.sync<S, A, T>(key, initialState);
  const snap: KeySnapshot<S> = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);

  const actionsRef = useRef(options?.actions);
  const debounceRef = useRef(options?.debounceMs);
  const maxWaitRef = useRef(options?.maxWaitMs);
  useEffect(() => {
    actionsRef.current = options?.actions;
    debounceRef.current = options?.debounceMs;
    maxWaitRef.current = options?.maxWaitMs;
  });
  useEffect(() => {
    const off = store.onActions(() => actionsRef.current);
    // Mounted after the connection's replay (e.g. a lazy route): ask for the state.
    store.requestIfStale();
    return () => {
      off();
      store.flush(); // a debounced edit must not be lost with the component
    };
  }, [store]);

  // Per-hook syncF wrappers (they apply this hook's debounce defaults); stable per store,
  // so a new store gets a new map.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const syncWrappers = useMemo(() => new Map<string, (v: unknown, o?: SyncOptions) => void>(), [store]);
  const syncerFor = (f: string): ((v: unknown, o?: SyncOptions) => void) => {
    let fn = syncWrappers.get(f);
    if (!fn) {
      const syncF = store.fieldSyncer(f);
      fn = (v, o) => {
        const ms = o?.debounceMs ?? (debounceRef.current as Record<string, number | undefined> | undefined)?.[f];
        const maxWaitMs = o?.maxWaitMs ?? (maxWaitRef.current as Record<string, number | undefined> | undefined)?.[f];
        syncF(v, ms !== undefined ? { debounceMs: ms, maxWaitMs } : undefined);
      };
      syncWrappers.set(f, fn);
    }
    return fn;
  };

  // The store's methods, bound once per store (stable identities for React deps).
  const base = useMemo(() => {
    const o: Record<string, unknown> = { store };
    for (const m of BOUND) o[m] = (store[m] as (...a: unknown[]) => unknown).bind(store);
    return o as Pick<SyncedHelpers<S, A, T>, (typeof BOUND)[number] | "store">;
  }, [store]);

  return useMemo(() => {
    const out: Record<string, unknown> = {};
    const fields = new Set([...Object.keys(initialStateKeys(initialState)), ...Object.keys(initialStateKeys(snap.state))]);
    for (const f of fields) {
      out[f] = (snap.state as Record<string, unknown>)[f];
      const C = capitalize(f);
      out["set" + C] = store.fieldSetter(f);
      out["sync" + C] = syncerFor(f);
    }
    const running = Object.keys(snap.tasks).filter((n) => /^(started|running)$/.test(snap.tasks[n]?.status ?? ""));
    // The snapshot's members (state, version, loaded, unsynced, error, tasks, conflicts) as they are.
    Object.assign(out, base, snap, { activeTasks: running });
    if (!("runningTasks" in out)) out.runningTasks = running; // former name; a state field wins
    return out as Synced<S, A, T>;
    // initialState is only a fallback for field names before the first _SET; syncerFor
    // only reads syncWrappers and store.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [snap, base, store, syncWrappers]);
}

function initialStateKeys(s: unknown): object {
  return typeof s === "object" && s !== null ? s : {};
}
