// Compile-time checks of the generated types (`npm run typecheck`; not part of the bundle):
// the Go struct decides what the browser may write, and tsc enforces it.
import { NOTES, VIEW, initialNotes, initialView, useSynced } from "./model";
import type { Note } from "./wssync.gen";

export function useTypeChecks(): void {
  const notes = useSynced(NOTES, initialNotes);
  notes.syncTitle("Team notes"); // `sync:"title,write"`
  // @ts-expect-error `sync:"notes"` is read-only for the browser: there is no syncNotes
  notes.syncNotes([]);
  // @ts-expect-error nor may a partial write carry it
  notes.sync({ notes: [] });
  // @ts-expect-error rename takes { id, text }
  void notes.sendAction({ type: "rename", id: "n1" });
  // The result type of ActionResult(…, "add", …) reaches the caller.
  const added: Promise<Note> = notes.sendAction({ type: "add", text: "milk" });
  void added;

  const view = useSynced(VIEW, initialView);
  view.syncFilter("milk");
  // @ts-expect-error progress is the server's
  view.syncProgress(50);
  void view.startTask({ type: "review", stepMs: 100 });
  // @ts-expect-error stepMs is a number
  void view.startTask({ type: "review", stepMs: "fast" });
}
