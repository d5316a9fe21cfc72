// The synced state, actions and tasks come from the Go server itself: wssync.gen.ts is
// generated from its schema (`make types` regenerates it; `make test` fails when it is
// stale), so nothing here is copied by hand from the Go structs.
import { typed } from "@wssync/react";
import type { Events, Keys, NotesState, ViewState } from "./wssync.gen";

export type { Note, NotesState, ViewState } from "./wssync.gen";

/** useSynced typed by key: read-only fields have no setX/syncX, actions and tasks are checked. */
export const { useSynced } = typed<Keys, Events>();

/** Key of the shared list: every tab sees the same state. */
export const NOTES = "NOTES";
/** Key of this tab's private state. */
export const VIEW = "VIEW";

export const initialNotes: NotesState = { title: "", notes: [] };
export const initialView: ViewState = { name: "", me: "", admin: false, filter: "", progress: 0, lastReview: "", runningTasks: [] };
