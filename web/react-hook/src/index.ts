// @wssync/react: the browser half of wssync. Everything in @wssync/react/core, plus the hooks.

export * from "./core";
export { SessionProvider, useConnectionState, useEvent, useSession, useSynced } from "./hooks";
export type { SessionProviderProps, Setters, Synced, SyncedHelpers, Syncers, UseSyncedOptions } from "./hooks";
export { typed } from "./typed";
export type { ActionParamMap, KeyTypes, TaskParamMap, TypedHooks, TypedSynced, Writable, WritableKeys } from "./typed";
