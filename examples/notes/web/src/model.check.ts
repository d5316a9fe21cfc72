// Compile-time checks of the generated types (`npm run typecheck`; not part of the bundle):
// the Go struct decides what the browser may write, and tsc enforces it.
import { NOTES, VIEW, initialNotes, initialView, useSynced } from "./model";
import type { Note } from "./wssync.gen";

export function useTypeChecks(): void {
  const notes = useSynced(NOTES, initialNotes);
  notes.syncTitle("Team notes"); // `sync:"title,write"`
  // `sync:"notes,write"`: a draft update may edit a note (the server decides which).
  notes.update((d) => {
    if (d.notes?.[0]) d.notes[0].text = "milk";
  });
  // @ts-expect-error `sync:"activity"` is read-only for the browser: there is no syncActivity
  notes.syncActivity([]);
  notes.update((d) => {
    // @ts-expect-error nor does a draft carry it
    d.activity = [];
  });
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
