// Duplicated tabs with `persist`: the copy of sessionStorage carries the original's queued
// offline writes. The original replays them; a reload (same tab, old document gone) replays
// its own; a duplicate, which the original answers for, replays none of them.
import { describe, expect, it, vi } from "vitest";
import type { Operation, Session, SessionOptions, StateStorage, SyncedKey } from "../src";
import { useServer } from "./helpers";
import type { Conn, Frame } from "./server";

// One tab's sessionStorage; `copy()` is what a duplicated tab (or a reload) starts with.
class TabStorage implements StateStorage {
  readonly m: Map<string, string>;
  constructor(from?: TabStorage) {
    this.m = new Map(from?.m);
  }
  getItem(k: string): string | null {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.m.set(k, v);
  }
  copy(): TabStorage {
    return new TabStorage(this);
  }
}

const init = { title: "", notes: [] as string[], count: 0 };
type State = typeof init;
const owner = (t: TabStorage): unknown => (JSON.parse(t.getItem("wssync:" + url()) ?? "{}") as { t?: unknown }).t;
let url = (): string => "";
const note = (v: string): Operation => ({ op: "add", path: "/notes/-", value: v });

describe("duplicated tabs with persist", () => {
  const { server, session, connect } = useServer();
  url = () => server().url;

  // A tab whose key NOTES is live at version 1, then cut off and queueing: it keeps
  // reconnecting (so it stays a live document) but gets no _SET, so nothing is sent.
  async function offlineTab(t: TabStorage, o: Partial<SessionOptions> = {}): Promise<{ s: Session; k: SyncedKey<State>; c: Conn }> {
    const s = session({ persist: t, ...o });
    const k = s.sync<State>("NOTES", init);
    const c0 = await connect(s);
    c0.send({ type: "_SET:NOTES", data: init, v: 1, epoch: "E1" });
    await vi.waitFor(() => expect(k.getSnapshot().version).toBe(1));
    const n = server().conns.length;
    c0.close(1001);
    const c = await server().connection(n); // reconnected, not live: writes queue
    await vi.waitFor(() => expect(s.getConnectionState().status).toBe("open"));
    k.patch([note("queued by the original")]);
    k.sync({ title: "original" });
    expect(k.getSnapshot().unsynced).toBe(true);
    s.save(); // what pagehide (or the timer) does
    return { s, k, c };
  }

  // Makes the key live on `c` (a _SET, version 1) and collects the writes that follow, up to
  // and including the marker write `count = m`, so "nothing else" is seen, not assumed.
  async function writesUntilMarker(c: Conn, k: SyncedKey<State>, m: number): Promise<Frame[]> {
    c.send({ type: "_SET:NOTES", data: init, v: 1, epoch: "E1" });
    await vi.waitFor(() => expect(k.getSnapshot().version).toBe(1));
    k.sync({ count: m });
    const got: Frame[] = [];
    for (;;) {
      const f = await c.nextOf("_PATCH:NOTES");
      got.push(f);
      if ((f.data as { path: string; value: unknown }[]).some((op) => op.path === "/count" && op.value === m)) return got;
    }
  }
  const ops = (fs: Frame[]): unknown[] => fs.flatMap((f) => f.data as unknown[]).filter((op) => (op as { path: string }).path !== "/count");

  it("a reload replays its own queue, once", async () => {
    const t = new TabStorage();
    const a = await offlineTab(t);
    a.s.disconnect(); // the old document unloads

    const b = session({ persist: t.copy() }); // the reloaded page
    const k = b.sync<State>("NOTES", init);
    expect(k.state).toMatchObject({ title: "original", notes: ["queued by the original"] });
    const c = await connect(b);
    const sent = await writesUntilMarker(c, k, 1);
    expect(ops(sent)).toEqual([note("queued by the original"), { op: "replace", path: "/title", value: "original" }]);
  });

  it("a duplicate replays nothing of the original's, keeps its own writes, and the original's arrive exactly once", async () => {
    const t = new TabStorage();
    const a = await offlineTab(t);

    const tb = t.copy();
    const b = session({ persist: tb }); // duplicated while the original is alive
    const kb = b.sync<State>("NOTES", init);
    expect(kb.state).toMatchObject({ title: "original", notes: ["queued by the original"] }); // shown until the claim
    kb.sync({ title: "duplicate" }); // its own write, before it connects, to a field the copied queue also writes
    const cb = await connect(b);
    await vi.waitFor(() => expect(kb.state).toMatchObject({ title: "duplicate", notes: [] })); // the copied writes are gone
    const fromB = await writesUntilMarker(cb, kb, 2);
    expect(ops(fromB)).toEqual([{ op: "replace", path: "/title", value: "duplicate" }]);

    const fromA = await writesUntilMarker(a.c, a.k, 3);
    expect(ops(fromA)).toEqual([note("queued by the original"), { op: "replace", path: "/title", value: "original" }]);
    // Exactly once at the server: every _PATCH of both connections, counted.
    const all = [...fromA, ...fromB].flatMap((f) => f.data as { value: unknown }[]).filter((op) => op.value === "queued by the original");
    expect(all).toHaveLength(1);

    // The duplicate's queue has an id of its own from now on.
    b.save();
    expect(owner(tb)).toBeTruthy();
    expect(owner(tb)).not.toBe(owner(t));

  });

  it("tabWaitMs: 0 asks nothing: a duplicate replays the copied queue too", async () => {
    const t = new TabStorage();
    const a = await offlineTab(t);
    const b = session({ persist: t.copy(), tabWaitMs: 0 });
    const kb = b.sync<State>("NOTES", init);
    const cb = await connect(b);
    expect(ops(await writesUntilMarker(cb, kb, 6))).toHaveLength(2);
    a.s.disconnect();
  });

  it("a restored item without queued writes asks nothing and takes a fresh id", async () => {
    const t = new TabStorage();
    const a = session({ persist: t });
    const k = a.sync<State>("NOTES", init);
    const c = await connect(a);
    c.send({ type: "_SET:NOTES", data: init, v: 1, epoch: "E1" });
    await vi.waitFor(() => expect(k.getSnapshot().version).toBe(1));
    a.save();
    const tb = t.copy();
    const b = session({ persist: tb, tabWaitMs: 10_000 }); // a wait would show as a timeout here
    b.sync<State>("NOTES", init);
    await connect(b);
    b.save();
    expect(owner(tb)).toBeTruthy();
    expect(owner(tb)).not.toBe(owner(t));
  });

  it("with wsAuth too: the duplicate, with its fresh session id, replays nothing of the original's", async () => {
    const t = new TabStorage();
    const a = await offlineTab(t, { wsAuth: true, idStorage: { user: t as unknown as Storage, session: t as unknown as Storage } });
    const t2 = t.copy();
    const b = session({ persist: t2, wsAuth: true, idStorage: { user: t2 as unknown as Storage, session: t2 as unknown as Storage } });
    const kb = b.sync<State>("NOTES", init);
    const cb = await connect(b);
    expect(ops(await writesUntilMarker(cb, kb, 4))).toEqual([]);
    expect(ops(await writesUntilMarker(a.c, a.k, 5))).toHaveLength(2);
  });
});
