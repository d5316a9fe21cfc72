// The offline queue and persistence against a real socket: writes kept per field with their
// base, replayed with ids, stale refusals surfaced as conflicts, a bound, and a reload that
// restores state, versions and the queue from storage.
import { beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_QUEUED_OPS, type Session, type SessionOptions, type StateStorage, SyncError } from "../src";
import { useServer } from "./helpers";
import type { Conn } from "./server";

const { server, session, connect } = useServer();

const init = { title: "", notes: [] as string[], count: 0 };
type State = typeof init;

beforeEach(() => sessionStorage.clear());

async function liveAt(v: number, opts: Partial<SessionOptions> = {}, data: State = init) {
  const s = session(opts);
  const k = s.sync<State>("NOTES", init);
  const c = await connect(s);
  c.send({ type: "_SET:NOTES", data, v, epoch: "E1" });
  await vi.waitFor(() => expect(k.getSnapshot().version).toBe(v));
  return { s, k, c };
}

/** Closes `c` for good (reconnects off) and waits until the session knows. */
async function goOffline(s: Session, c: Conn): Promise<void> {
  c.close(1001);
  await vi.waitFor(() => expect(s.getConnectionState().status).not.toBe("open"));
}

describe("offline queue", () => {
  it("keeps one write per field with the version it was made against, and replays each with an id and its base", async () => {
    const { s, k, c } = await liveAt(4, { reconnect: { enabled: false } });
    await goOffline(s, c);
    k.sync({ title: "a" });
    k.sync({ title: "ab" }); // replaces the queued one
    k.patch([{ op: "add", path: "/notes/-", value: "n1" }]);
    k.patch([{ op: "add", path: "/notes/-", value: "n2" }]); // merged into the same field's write
    expect(k.state).toEqual({ title: "ab", notes: ["n1", "n2"], count: 0 });
    expect(k.getSnapshot().unsynced).toBe(true);

    const c1 = await connect(s);
    expect((await c1.next()).type).toBe("_RESUME");
    c1.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/count", value: 1 }], v: 5 }); // someone else, another field
    c1.send({ type: "_RESUMED", data: { patched: ["NOTES"], set: [] } });
    const w1 = await c1.next();
    const w2 = await c1.next();
    expect(w1).toMatchObject({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "ab" }], base: 4 });
    expect(w2).toMatchObject({
      type: "_PATCH:NOTES",
      data: [
        { op: "add", path: "/notes/-", value: "n1" },
        { op: "add", path: "/notes/-", value: "n2" },
      ],
      base: 4,
    });
    expect(w1.id).not.toBe(w2.id);
    c1.send({ type: "_PATCH:NOTES", data: [], v: 6 });
    c1.send({ type: "_RESULT", id: w1.id, data: { v: 6 } });
    c1.send({ type: "_PATCH:NOTES", data: [], v: 7 });
    c1.send({ type: "_RESULT", id: w2.id, data: { v: 7 } });
    await vi.waitFor(() => expect(k.getSnapshot().version).toBe(7));
    expect(k.state).toEqual({ title: "ab", notes: ["n1", "n2"], count: 1 });
    expect(k.getSnapshot().conflicts).toEqual([]);
  });

  it("a bad_base refusal (the server's versions started again) is a conflict too", async () => {
    const { s, k, c } = await liveAt(40, { reconnect: { enabled: false } });
    await goOffline(s, c);
    k.sync({ title: "mine" });
    const c1 = await connect(s);
    expect((await c1.next()).type).toBe("_RESUME");
    c1.send({ type: "_SET:NOTES", data: init, v: 2, epoch: "E2" }); // a restarted server
    c1.send({ type: "_RESUMED", data: { patched: [], set: ["NOTES"] } });
    const w = await c1.next();
    expect(w).toMatchObject({ data: [{ path: "/title", value: "mine" }], base: 40 });
    c1.send({ type: "_RESULT", id: w.id, error: { code: "bad_base", message: "base 40 is newer than 2", event: "_PATCH:NOTES" } });
    c1.send({ type: "_SET:NOTES", data: init, v: 2, epoch: "E2" });
    await vi.waitFor(() => expect(k.getSnapshot().conflicts.map((x) => x.error.code)).toEqual(["bad_base"]));
    await vi.waitFor(() => expect(k.state.title).toBe(""));
  });

  it("a write with no _RESULT in time is reported as timeout, not resent, and its key resumes with a _SET", async () => {
    const onError = vi.fn();
    const { s, k, c } = await liveAt(3, { requestTimeoutMs: 60, onError });
    k.sync({ title: "slow" });
    expect((await c.next()).type).toBe("_PATCH:NOTES");
    await vi.waitFor(() => expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: "timeout", key: "NOTES" })));
    c.close(1001);
    const c1 = await server().connection(1);
    await vi.waitFor(() => expect(s.getConnectionState().status).toBe("open"));
    expect(c1.offered).toEqual([]); // nothing to resume: the write's fate is unknown
    c1.send({ type: "_SET:NOTES", data: { ...init, title: "slow" }, v: 4, epoch: "E1" });
    expect(await c1.quiet(80)).toBe(true); // not resent
    expect(k.state.title).toBe("slow");
  });

  it("a stale refusal never overwrites the newer server state: it is a conflict the app reads, and onError hears it", async () => {
    const onError = vi.fn();
    const { s, k, c } = await liveAt(4, { reconnect: { enabled: false }, onError });
    await goOffline(s, c);
    k.sync({ title: "mine" });
    const c1 = await connect(s);
    expect((await c1.next()).type).toBe("_RESUME");
    c1.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "theirs" }], v: 5 });
    c1.send({ type: "_RESUMED", data: { patched: ["NOTES"], set: [] } });
    const w = await c1.next();
    expect(w).toMatchObject({ data: [{ op: "replace", path: "/title", value: "mine" }], base: 4 });
    const error = { code: "stale_write", message: "title changed after version 4", event: "_PATCH:NOTES", path: "/title" };
    c1.send({ type: "_RESULT", id: w.id, error });
    c1.send({ type: "_SET:NOTES", data: { ...init, title: "theirs" }, v: 5, epoch: "E1" });
    await vi.waitFor(() => expect(k.getSnapshot().conflicts).toHaveLength(1));
    await vi.waitFor(() => expect(k.state.title).toBe("theirs"));
    const [conflict] = k.getSnapshot().conflicts;
    expect(conflict?.error).toBeInstanceOf(SyncError);
    expect(conflict).toMatchObject({ error: { code: "stale_write", path: "/title", key: "NOTES" }, ops: [{ op: "replace", path: "/title", value: "mine" }], base: 4 });
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: "stale_write" }));
    expect(k.getSnapshot().unsynced).toBe(false);

    // The app may write it again, now against the version it has seen.
    k.patch(conflict!.ops);
    const again = await c1.next();
    expect(again).toMatchObject({ data: [{ op: "replace", path: "/title", value: "mine" }] });
    k.clearConflicts();
    expect(k.getSnapshot().conflicts).toEqual([]);
  });

  it("is bounded: a write past MAX_QUEUED_OPS queued ops is refused with queue_full, changing nothing", async () => {
    const onError = vi.fn();
    const { s, k, c } = await liveAt(1, { reconnect: { enabled: false }, onError });
    await goOffline(s, c);
    k.patch(Array.from({ length: MAX_QUEUED_OPS }, (_, i) => ({ op: "add" as const, path: "/notes/-", value: String(i) })));
    expect(k.state.notes).toHaveLength(MAX_QUEUED_OPS);
    k.sync({ title: "one too many" });
    expect(k.state.title).toBe("");
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: "queue_full", key: "NOTES" }));
    expect(k.getSnapshot().error?.code).toBe("queue_full");
  });

  it("a write the server refuses for another reason reaches onError and the key's error", async () => {
    const onError = vi.fn();
    const { k, c } = await liveAt(1, { onError });
    k.sync({ count: 5 });
    const w = await c.next();
    c.send({ type: "_RESULT", id: w.id, error: { code: "read_only", message: "count is read-only", event: "_PATCH:NOTES", path: "/count" } });
    c.send({ type: "_SET:NOTES", data: init, v: 1, epoch: "E1" });
    await vi.waitFor(() => expect(k.getSnapshot().error?.code).toBe("read_only"));
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: "read_only" }));
    expect(k.getSnapshot().conflicts).toEqual([]);
    await vi.waitFor(() => expect(k.state.count).toBe(0));
  });
});

describe("persistence", () => {
  it("a reload restores state, version and epoch from sessionStorage, shows it at once, and resumes", async () => {
    const a = await liveAt(3, { persist: true }, { ...init, title: "cached" });
    a.c.send({ type: "_PATCH:NOTES", data: [{ op: "add", path: "/notes/-", value: "kept" }], v: 4 });
    await vi.waitFor(() => expect(a.k.getSnapshot().version).toBe(4));
    a.s.save(); // what pagehide does
    a.s.disconnect();
    expect(JSON.parse(sessionStorage.getItem("wssync:" + server().url) ?? "{}")).toHaveProperty("k.NOTES");

    // The reloaded page: a new Session over the same storage.
    const b = session({ persist: true });
    const k = b.sync<State>("NOTES", init);
    expect(k.getSnapshot()).toMatchObject({ loaded: true, version: 4, state: { title: "cached", notes: ["kept"] } });
    const c = await connect(b);
    expect(c.offered).toEqual(["wssync", "wssync.resume"]);
    expect(await c.next()).toEqual({ type: "_RESUME", data: { NOTES: { v: 4, epoch: "E1" } } });
  });

  it("offline writes survive a reload and are replayed after the resume; a user-supplied storage works too", async () => {
    const items = new Map<string, string>();
    const storage: StateStorage = { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => void items.set(k, v) };
    const a = await liveAt(9, { persist: storage, reconnect: { enabled: false } });
    await goOffline(a.s, a.c);
    a.k.sync({ title: "typed offline" });
    a.k.set({ count: 99 }); // local-only edits are not persisted
    a.s.save();
    a.s.disconnect();

    const b = session({ persist: storage });
    const k = b.sync<State>("NOTES", init);
    expect(k.getSnapshot()).toMatchObject({ version: 9, unsynced: true, state: { title: "typed offline", count: 0 } });
    const c = await connect(b);
    expect(await c.next()).toEqual({ type: "_RESUME", data: { NOTES: { v: 9, epoch: "E1" } } });
    c.send({ type: "_RESUMED", data: { patched: ["NOTES"], set: [] } });
    const w = await c.next();
    expect(w).toMatchObject({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "typed offline" }], base: 9 });
    c.send({ type: "_PATCH:NOTES", data: [], v: 10 });
    c.send({ type: "_RESULT", id: w.id, data: { v: 10 } });
    await vi.waitFor(() => expect(k.getSnapshot()).toMatchObject({ version: 10, unsynced: false }));
  });

  it("saves by itself shortly after a change", async () => {
    await liveAt(2, { persist: true });
    await vi.waitFor(() => expect(sessionStorage.getItem("wssync:" + server().url)).toContain('"v":2'));
  });

  it("a write in flight at the reload is kept as queued, and the key then takes a _SET rather than resume", async () => {
    const a = await liveAt(5, { persist: true });
    a.k.patch([{ op: "add", path: "/notes/-", value: "in flight" }]);
    await a.c.next();
    a.s.save();
    a.s.disconnect();

    const b = session({ persist: true });
    const k = b.sync<State>("NOTES", init);
    expect(k.getSnapshot()).toMatchObject({ version: undefined, unsynced: true, state: { notes: ["in flight"] } });
    const c = await connect(b);
    expect(c.offered).toEqual([]);
    c.send({ type: "_SET:NOTES", data: init, v: 5, epoch: "E1" });
    expect(await c.next()).toMatchObject({ data: [{ op: "add", path: "/notes/-", value: "in flight" }], base: 5 });
    expect(k.state.notes).toEqual(["in flight"]);
  });

  it("unreadable storage is ignored", async () => {
    sessionStorage.setItem("wssync:" + server().url, "{not json");
    const s = session({ persist: true });
    expect(s.sync("NOTES", init).getSnapshot().loaded).toBe(false);
    await connect(s);
  });
});
