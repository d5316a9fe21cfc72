// The synced state as the Go server defines it (../../notes.go, ../../view.go), with the
// actions and tasks it accepts. Keep these in step with the Go structs.
import type { Returns } from "@wssync/react";

/** Key of the shared list: every tab sees the same state. */
export const NOTES = "NOTES";
/** Key of this tab's private state. */
export const VIEW = "VIEW";

export interface Note {
  id: string;
  text: string;
  author: string;
}

export interface NotesState {
  title: string; // writable; the server refuses empty titles and titles over 60 characters
  notes: Note[]; // read-only: changed through the actions below
}

export type NotesActions = {
  add: { text: string } & Returns<Note>;
  remove: { id: string };
  rename: { id: string; text: string };
};

export interface ViewState {
  name: string; // this tab's display name
  filter: string; // writable
  progress: number; // percent done of the running review
  lastReview: string;
  runningTasks: string[]; // exposed by the server; authoritative across reconnects
}

export type ViewTasks = {
  review: { stepMs?: number };
};

export const initialNotes: NotesState = { title: "", notes: [] };
export const initialView: ViewState = { name: "", filter: "", progress: 0, lastReview: "", runningTasks: [] };
