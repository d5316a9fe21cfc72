import { useState } from "react";
import type { Note } from "./model";

interface Props {
  note: Note;
  /** Whether this tab may rename and remove it (its author, or an admin): the server checks too. */
  mine: boolean;
  /** The server's refusal of this tab's last write to the note, if any. */
  error?: string;
  /** Writes the new text (a draft update, shown at once); false if there is nothing to send. */
  rename: (text: string) => boolean;
  /** Resolves true once the server accepted the removal. */
  remove: () => Promise<boolean>;
}

/** One note, with inline rename (Enter saves, Escape cancels) and remove. */
export function NoteItem({ note, mine, error, rename, remove }: Props) {
  const [draft, setDraft] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const save = () => {
    if (draft !== null && rename(draft)) setDraft(null);
  };

  if (draft !== null) {
    return (
      <li className="note editing">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            save();
          }}
        >
          <input
            aria-label="Note text"
            autoFocus
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={(e) => e.key === "Escape" && setDraft(null)}
          />
          <button type="submit">
            Save
          </button>
          <button type="button" className="quiet" onClick={() => setDraft(null)}>
            Cancel
          </button>
        </form>
      </li>
    );
  }
  return (
    <li className="note" data-testid="note" data-id={note.id}>
      <span className="text">{note.text}</span>
      <span className="author">{note.author}</span>
      {error && (
        <span className="field-error" role="alert" data-testid="note-error">
          {error}
        </span>
      )}
      {mine && (
        <>
          <button type="button" className="quiet" onClick={() => setDraft(note.text)}>
            Rename
          </button>
          <button
            type="button"
            className="quiet danger"
            aria-label={`Remove “${note.text}”`}
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              await remove();
              setBusy(false);
            }}
          >
            Remove
          </button>
        </>
      )}
    </li>
  );
}
