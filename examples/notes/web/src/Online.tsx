import { ONLINE, VIEW, initialOnline, initialView, metaOf, useSynced } from "./model";

/**
 * Who is online: every connected tab, guest or admin, on this server or another one
 * sharing its Redis. The server lists tabs by display name and tag, never by id; this tab
 * finds itself by the tag in its own view.
 */
export function Online() {
  const online = useSynced(ONLINE, initialOnline);
  const view = useSynced(VIEW, initialView);
  const members = online.members ?? [];
  return (
    <section className="panel" aria-label="Online">
      <h2>
        Online <span className="count">{members.length}</span>
      </h2>
      <ul className="online" data-testid="online">
        {members.map((m) => (
          <li key={m.session} data-testid="online-member" data-me={m.session === view.tab}>
            <span className="dot" aria-hidden="true" />
            {metaOf(m).name || "…"}
            {m.session === view.tab && <span className="you"> (this tab)</span>}
            {metaOf(m).typing && <span className="typing-mark"> typing…</span>}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** "Guest 1a2b is typing…" for the other tabs that are writing a note. */
export function TypingIndicator() {
  const online = useSynced(ONLINE, initialOnline);
  const view = useSynced(VIEW, initialView);
  const names = (online.members ?? [])
    .filter((m) => m.session !== view.tab && metaOf(m).typing)
    .map((m) => metaOf(m).name || "Someone");
  const unique = [...new Set(names)];
  return (
    <p className="typing" data-testid="typing" aria-live="polite">
      {unique.length === 0 ? "\u00a0" : `${unique.join(", ")} ${unique.length === 1 ? "is" : "are"} typing…`}
    </p>
  );
}
