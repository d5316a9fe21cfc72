import { NOTES, initialNotes, useSynced } from "./model";

/**
 * The activity log, for admins only. A guest's tab never receives it (the shared list's
 * guest view hides it on the server), so for a guest the field is absent and nothing shows.
 */
export function Activity() {
  const notes = useSynced(NOTES, initialNotes);
  if (!notes.activity) return null;
  return (
    <section className="panel" aria-label="Activity">
      <h2>Activity (admins only)</h2>
      <ol className="activity" data-testid="activity">
        {notes.activity.map((line, i) => (
          <li key={i}>{line}</li>
        ))}
      </ol>
    </section>
  );
}
