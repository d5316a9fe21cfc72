import { AddNote } from "./AddNote";
import { useRequestError } from "./errors";
import { NOTES, VIEW, initialNotes, initialView, useSynced } from "./model";
import { NoteItem } from "./NoteItem";
import { TypingIndicator } from "./Online";

/**
 * The shared list. Adding and removing are actions: each call awaits the server's
 * `_RESULT`, and the list itself updates from the patch every tab receives. Renaming is a
 * draft update: it sends one `replace /notes/i/text`, so two tabs renaming different notes
 * both keep their edit; the server checks the author and the text, and a refusal rolls the
 * note back with an error at its path. The filter is this tab's private state on the
 * server, so it survives a reload of the tab.
 */
export function NoteList() {
  const notes = useSynced(NOTES, initialNotes);
  const view = useSynced(VIEW, initialView, { debounceMs: { filter: 250 } });
  const [error, setError] = useRequestError();

  // Runs one action; a refusal (bad params, a note removed meanwhile, offline) is shown.
  const act = async (call: () => Promise<unknown>): Promise<boolean> => {
    setError(undefined);
    try {
      await call();
      return true;
    } catch (e) {
      setError(e);
      return false;
    }
  };

  // Shown at once; the server's ValidateWriteContext is the guard, this only spares a round trip.
  const rename = (id: string, text: string): boolean => {
    const t = text.trim();
    if (t === "") return false;
    notes.update((d) => {
      const note = d.notes?.find((x) => x.id === id);
      if (note) note.text = t;
    });
    return true;
  };
  // A refused write's error points at the note (/notes/i) or its text (/notes/i/text).
  const errorAt = (i: number): string | undefined => {
    const p = notes.error?.path ?? "";
    return p === `/notes/${i}` || p.startsWith(`/notes/${i}/`) ? notes.error?.message : undefined;
  };

  const list = notes.notes ?? []; // a nil Go slice is sent as null
  const query = view.filter.trim().toLowerCase();
  const shown = query ? list.filter((n) => n.text.toLowerCase().includes(query)) : list;
  return (
    <section className="panel list" aria-label="Notes">
      <div className="list-head">
        <h2>
          Notes <span className="count">{list.length}</span>
        </h2>
        <input
          type="search"
          aria-label="Filter notes"
          placeholder="Filter (this tab only)"
          value={view.filter}
          disabled={!view.loaded}
          aria-busy={view.unsynced}
          onChange={(e) => view.syncFilter(e.target.value)}
        />
      </div>
      <ul className="notes">
        {shown.map((n) => (
          <NoteItem
            key={n.id}
            note={n}
            mine={view.admin || (n.owner !== "" && n.owner === view.me)}
            error={errorAt(list.indexOf(n))}
            rename={(text) => rename(n.id, text)}
            remove={() => act(() => notes.sendAction({ type: "remove", id: n.id }))}
          />
        ))}
      </ul>
      {notes.loaded && shown.length === 0 && (
        <p className="empty">{list.length === 0 ? "No notes yet." : `No note contains “${view.filter}”.`}</p>
      )}
      <AddNote add={(text) => act(() => notes.sendAction({ type: "add", text }))} disabled={!notes.loaded} />
      <TypingIndicator />
      {error && (
        <p className="field-error" role="alert" data-testid="list-error">
          {error}
        </p>
      )}
    </section>
  );
}
