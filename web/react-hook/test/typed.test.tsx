// The typed hooks over wssync-gen's output. test/schema.gen.ts is the generator's golden
// file (cmd/wssync-gen), so these checks hold the generated declarations and the hooks'
// types together: `npm run typecheck` fails if a @ts-expect-error below stops erroring.
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { useState } from "react";
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from "vitest";
import { type Session, SessionProvider, type TaskStatus, typed, useSession } from "../src";
import type { Events, Keys, Note, Room7BoardState, ServerEvents } from "./schema.gen";
import { TestServer, WS } from "./server";

const { useSynced, sendEvent, useEvent } = typed<Keys, Events, ServerEvents>();

const board: Room7BoardState = {
  title: "",
  notes: [],
  archived: null,
  priority: "low",
  meta: null,
  owner: null,
  count: 0,
  pinned: [],
  noteCount: 0,
  runningTasks: [],
};

function useTypeChecks(session: Session) {
  const b = useSynced("room-7/BOARD", board);
  // Writable fields have setters and syncers with their generated types.
  b.syncTitle("x", { debounceMs: 300 });
  b.setTitle((prev) => prev + "!");
  b.syncPriority("high");
  b.sync({ title: "y", priority: "low" });
  // @ts-expect-error priority is "low" | "high" (validate:"oneof=low high")
  b.syncPriority("urgent");

  // Read-only fields: no setter, no syncer, not in a partial write, not assignable.
  // @ts-expect-error notes is read-only: there is no syncNotes
  b.syncNotes([]); // eslint-disable-line @typescript-eslint/no-unsafe-call -- the call is the error expected
  // @ts-expect-error nor a local setter
  b.setCount(1); // eslint-disable-line @typescript-eslint/no-unsafe-call -- the call is the error expected
  // @ts-expect-error a read-only field in a partial write
  b.sync({ count: 1 });
  // @ts-expect-error a read-only field in a local write
  b.set({ owner: "me" });
  // @ts-expect-error the field itself is readonly
  b.count = 2;
  // Draft updates: typed as the key's state, writable fields only.
  b.update((d) => {
    d.title = "z";
    d.priority = "low";
    // @ts-expect-error priority keeps its generated type in a draft
    d.priority = "urgent";
    // @ts-expect-error a read-only field is not in the draft
    d.count = 1;
  });
  expectTypeOf(b.notes).toEqualTypeOf<Note[]>();
  expectTypeOf(b.archived).toEqualTypeOf<Note[] | null>();
  expectTypeOf(b.state.owner).toEqualTypeOf<string | null>();

  // Actions: params checked, result type flows to the caller.
  expectTypeOf(b.sendAction({ type: "rename", id: "n1", text: "x" })).toEqualTypeOf<Promise<Note>>();
  expectTypeOf(b.sendAction({ type: "count" })).toEqualTypeOf<Promise<number>>();
  expectTypeOf(b.sendAction({ type: "clear" })).toEqualTypeOf<Promise<null>>();
  // @ts-expect-error missing param
  void b.sendAction({ type: "rename", id: "n1" });
  // @ts-expect-error wrong param type
  void b.sendAction({ type: "rename", id: 1, text: "x" });
  // @ts-expect-error unknown param
  void b.sendAction({ type: "rename", id: "n1", text: "x", force: true });
  // @ts-expect-error unknown action
  void b.sendAction({ type: "nope" });

  // Tasks.
  void b.startTask({ type: "export", format: "csv" });
  void b.startTask({ type: "export", format: "json", limit: 10 });
  // @ts-expect-error format is "csv" | "json"
  void b.startTask({ type: "export", format: "xml" });
  // @ts-expect-error unknown task
  void b.cancelTask({ type: "import" });
  expectTypeOf(b.tasks.export).toEqualTypeOf<TaskStatus | undefined>();
  expectTypeOf(b.activeTasks).toEqualTypeOf<("export" | "summarize")[]>();
  // The state's own runningTasks field shows through; the former helper name gives way.
  expectTypeOf(b.runningTasks).toEqualTypeOf<string[]>();
  const legacy = useSynced("PRESENCE", { online: null, topic: "" });
  expectTypeOf(legacy.runningTasks).toEqualTypeOf<never[]>();

  // Keys and events.
  const p = useSynced("PRESENCE", { online: null, topic: "" });
  p.syncTopic("t");
  // @ts-expect-error a shared key with no actions
  void p.sendAction({ type: "rename", id: "n1", text: "x" });
  // @ts-expect-error unknown key
  useSynced("NOPE", {});
  // @ts-expect-error the initial state must be the key's state
  useSynced("PRESENCE", { online: null });
  sendEvent(session, "typing", { field: "title" });
  sendEvent(session, "heartbeat", 3);
  // @ts-expect-error wrong event data
  sendEvent(session, "heartbeat", "3");
  // @ts-expect-error unknown event
  sendEvent(session, "other", {});
  useEvent("note_added", (d) => expectTypeOf(d).toEqualTypeOf<{ by: string; title: string }>());
  useEvent("unread", (n: number) => n + 1);
  // @ts-expect-error unknown server event
  useEvent("other", () => {});
  // @ts-expect-error wrong data type
  useEvent("unread", (s: string) => s);
}

let server: TestServer;
beforeEach(async () => {
  server = await TestServer.start();
});
afterEach(async () => {
  cleanup();
  await server.close();
});

function Board() {
  const b = useSynced("room-7/BOARD", board);
  const session = useSession();
  const [added, setAdded] = useState("");
  useEvent("note_added", (d) => setAdded(`${d.by}: ${d.title}`));
  return (
    <div>
      <span data-testid="title">{b.title}</span>
      <span data-testid="notes">{b.notes.length}</span>
      <span data-testid="added">{added}</span>
      <button onClick={() => b.syncTitle("typed")}>sync</button>
      <button onClick={() => sendEvent(session, "typing", { field: "title" })}>event</button>
    </div>
  );
}

describe("typed hooks", () => {
  it("compile as promised (see npm run typecheck)", () => {
    expect(typeof useTypeChecks).toBe("function");
  });

  it("are the untyped hooks at run time: state, syncX and events reach the wire", async () => {
    render(
      <SessionProvider url={server.url} WebSocketImpl={WS} pingIntervalMs={0}>
        <Board />
      </SessionProvider>,
    );
    const c = await server.connection(0);
    const note: Note = { id: "n1", text: "a", edited: "2026-01-01T00:00:00Z", reply: null };
    c.send({ type: "_SET:room-7/BOARD", data: { ...board, title: "server", notes: [note] }, v: 1 });
    await waitFor(() => expect(screen.getByTestId("title").textContent).toBe("server"));
    expect(screen.getByTestId("notes").textContent).toBe("1");
    fireEvent.click(screen.getByText("sync"));
    expect(await c.next()).toEqual({ type: "_PATCH:room-7/BOARD", data: [{ op: "replace", path: "/title", value: "typed" }] });
    fireEvent.click(screen.getByText("event"));
    expect(await c.next()).toEqual({ type: "typing", data: { field: "title" } });
    c.send({ type: "note_added", data: { by: "ann", title: "milk" } });
    await waitFor(() => expect(screen.getByTestId("added").textContent).toBe("ann: milk"));
  });
});
