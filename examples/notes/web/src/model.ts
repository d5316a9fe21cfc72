// The synced state, actions and tasks come from the Go server itself: wssync.gen.ts is
// generated from its schema (`make types` regenerates it; `make test` fails when it is
// stale), so nothing here is copied by hand from the Go structs.
import { typed } from "@wssync/react";
import type { Events, Keys, Member, NotesState, OnlineState, ViewState } from "./wssync.gen";

export type { Member, Note, NotesState, OnlineState, ViewState } from "./wssync.gen";

/** useSynced typed by key: read-only fields have no setX/syncX, actions and tasks are checked. */
export const { useSynced } = typed<Keys, Events>();

/** Key of the shared list: every tab sees the same state. */
export const NOTES = "NOTES";
/** Key of who is online: every connected tab, on any server, by display name. */
export const ONLINE = "ONLINE";
/** Key of this tab's private state. */
export const VIEW = "VIEW";

export const initialNotes: NotesState = { title: "", notes: [] };
export const initialView: ViewState = { name: "", me: "", tab: "", admin: false, filter: "", progress: 0, lastReview: "", runningTasks: [] };
export const initialOnline: OnlineState = { members: [] };

/** A member's meta, as the server sets it (the name) and its tab does ("typing"). */
export interface OnlineMeta {
  name?: string;
  typing?: boolean;
}

/** The meta of m; the generated type says `unknown`, the server says what it holds. */
export function metaOf(m: Member): OnlineMeta {
  return (m.meta ?? {}) as OnlineMeta;
}
