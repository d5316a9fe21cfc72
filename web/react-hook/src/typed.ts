// Typed hooks over the declarations wssync-gen writes from the server's schema: the key
// picks the state, action and task types, and only writable fields get setters.

import { type LegacyRunningTasks, type Setters, type SyncedHelpers, type Syncers, type UseSyncedOptions, useEvent, useSynced } from "./hooks";
import type { Session } from "./session";
import type { Returns, SyncOptions, TaskStatus } from "./types";

/** What wssync-gen declares for one key in its `Keys` map. */
export interface KeyTypes {
  state: object;
  actions: object;
  tasks: object;
}

type IfEquals<X, Y, A, B> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? A : B;

/** The fields of `S` not marked `readonly`: those the server lets clients write. */
export type WritableKeys<S> = {
  [K in keyof S]-?: IfEquals<{ [Q in K]: S[K] }, { -readonly [Q in K]: S[K] }, K, never>;
}[keyof S];

/** The writable part of a state. */
export type Writable<S> = Pick<S, WritableKeys<S>>;

/** A generated action map (`{ name: { params; result } }`) as the hook's params map. */
export type ActionParamMap<A> = {
  [N in keyof A]: A[N] extends { params: infer P extends object; result: infer R } ? P & Returns<R> : never;
};

/** A generated task map (`{ name: { params } }`) as the hook's params map. */
export type TaskParamMap<T> = { [N in keyof T]: T[N] extends { params: infer P extends object } ? P : never };

type Part<K, M extends keyof KeyTypes> = K extends { [P in M]: infer X } ? X : never;

/**
 * What a typed `useSynced` returns: the state (read-only fields `readonly`), `setF` and
 * `syncF` for the writable fields only, `set`/`sync` taking writable fields only, and
 * `sendAction`, `startTask`, `cancelTask` and `tasks` checked against the key's maps.
 * `patch` and `store` stay untyped escape hatches (the server still refuses read-only paths).
 */
export type TypedSynced<S, A, T> = Omit<S, keyof SyncedHelpers<S, ActionParamMap<A>, TaskParamMap<T>>> &
  Setters<Writable<S>> &
  Syncers<Writable<S>> &
  Omit<SyncedHelpers<S, ActionParamMap<A>, TaskParamMap<T>>, "set" | "sync" | "update" | "tasks" | "activeTasks"> &
  LegacyRunningTasks<S, keyof T & string> & {
    /** Draft update of writable fields (read-only ones are absent from the draft's type). */
    update: (recipe: (draft: Writable<S>) => void) => void;
    /** Local-only change of writable fields. */
    set: (update: Partial<Writable<S>> | ((prev: S) => Partial<Writable<S>>)) => void;
    /** Local change plus `_PATCH` of writable fields; without arguments sends every local-only change. */
    sync: (update?: Partial<Writable<S>> | ((prev: S) => Partial<Writable<S>>), options?: SyncOptions) => void;
    /** Last `_TASK_STATUS` per task name. */
    tasks: Readonly<Partial<Record<keyof T & string, TaskStatus>>>;
    /** Names of tasks whose last status is `started` or `running`. */
    activeTasks: (keyof T & string)[];
  };

/**
 * The hooks `typed` returns, for the keys `K`, the custom events `E` the server handles and
 * the events `SE` it sends, of one server.
 */
export interface TypedHooks<K, E, SE = Record<string, unknown>> {
  /** `useSynced` typed by key: `useSynced("NOTES", initial)`. An unknown key does not compile. */
  useSynced: <N extends keyof K & string>(
    key: N,
    initialState: Part<K[N], "state">,
    options?: UseSyncedOptions<Part<K[N], "state">>,
  ) => TypedSynced<Part<K[N], "state">, Part<K[N], "actions">, Part<K[N], "tasks">>;
  /** Sends custom event `event` with its data (`Session.send`); false when not connected. */
  sendEvent: <N extends keyof E & string>(session: Session, event: N, data: E[N]) => boolean;
  /** `useEvent` typed by `SE`: the handler gets the data of server event `name`. */
  useEvent: <N extends keyof SE & string>(name: N, handler: (data: SE[N]) => void) => void;
}

/**
 * Typed hooks over the `Keys`, `Events` and `ServerEvents` (what `DefineEvent` declares:
 * the events the server sends, name → data) that wssync-gen generates:
 * `export const { useSynced, sendEvent, useEvent } = typed<Keys, Events, ServerEvents>();`.
 * They are the untyped hooks at run time; only their types differ.
 */
export function typed<K, E = Record<string, never>, SE = Record<string, unknown>>(): TypedHooks<K, E, SE> {
  return {
    useSynced: useSynced as unknown as TypedHooks<K, E, SE>["useSynced"],
    sendEvent: (session, event, data) => session.send(event, data),
    useEvent: useEvent as TypedHooks<K, E, SE>["useEvent"],
  };
}
