// A Svelte store over one wssync key, built on @wssync/react/core alone. Svelte's store
// contract is `subscribe(run) => unsubscribe`, with `run` called at once and on every change,
// so `$notes` in a component reads the key's snapshot and re-renders as the server patches it.
// Copy this file into a Svelte app; it needs no Svelte import.

import type { KeySnapshot, Session, SyncOptions } from "../src/core";

/** A readable Svelte store of a key's snapshot, plus the key's writes. */
export interface KeyStore<S> {
  /** Svelte's store contract: `run` gets the current snapshot now and after each change. */
  subscribe(run: (value: KeySnapshot<S>) => void): () => void;
  /** Local change plus `_PATCH` (SyncedKey.sync). */
  sync(update: Partial<S> | ((prev: S) => Partial<S>), options?: SyncOptions): void;
  /** Last error about the key is forgotten (SyncedKey.clearError). */
  clearError(): void;
}

/** The store of `key` on `session`; `initialState` is shown until the server's `_SET`. */
export function keyStore<S extends object>(session: Session, key: string, initialState: S): KeyStore<S> {
  const k = session.sync<S>(key, initialState);
  return {
    subscribe(run) {
      run(k.getSnapshot());
      return k.subscribe(() => run(k.getSnapshot()));
    },
    sync: (update, options) => k.sync(update, options),
    clearError: () => k.clearError(),
  };
}
