import { Activity } from "./Activity";
import { Connection } from "./Connection";
import { VIEW, initialView, useSynced } from "./model";
import { NoteList } from "./NoteList";
import { Online } from "./Online";
import { Review } from "./Review";
import { Title } from "./Title";

export function App() {
  const view = useSynced(VIEW, initialView);
  return (
    <div className="app">
      <header>
        <Title />
        <Connection />
      </header>
      <main>
        <NoteList />
        <aside>
          <section className="panel" aria-label="This tab">
            <h2>This tab</h2>
            <p>
              You are <strong data-testid="me">{view.name || "…"}</strong>. The title and the notes are shared with every
              tab; the filter and the review below are yours alone.
            </p>
          </section>
          <Online />
          <Review />
          <Activity />
        </aside>
      </main>
      <footer>
        wssync example · Go structs and React state kept in sync over one WebSocket with JSON Patch
      </footer>
    </div>
  );
}
