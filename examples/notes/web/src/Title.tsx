import { NOTES, initialNotes, useSynced } from "./model";

/**
 * The shared title, written with syncTitle: optimistic in this tab, sent 400 ms after the
 * last keystroke. The server refuses empty titles and titles over 60 characters; then it
 * answers `_ERROR` and the current state, the field rolls back by itself, and the error's
 * message is shown here until its cause is gone: a later title write of this tab is
 * accepted, or the title changes on the server (the hook clears `error` then).
 */
export function Title() {
  const notes = useSynced(NOTES, initialNotes, { debounceMs: { title: 400 } });
  const error = notes.error?.path === "/title" ? notes.error : undefined;
  return (
    <div className="title">
      <input
        className="title-input"
        aria-label="Title"
        value={notes.title}
        disabled={!notes.loaded}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? "title-error" : undefined}
        onChange={(e) => notes.syncTitle(e.target.value)}
      />
      {error && (
        <p id="title-error" className="field-error" role="alert" data-testid="title-error">
          {error.message}
        </p>
      )}
    </div>
  );
}
