// Resume against a real socket: versions and epochs kept across reconnects, the
// wssync.resume offer and _RESUME/_RESUMED, and what a server without resume sees.
import { describe, expect, it, vi } from "vitest";
import type { Session, SessionOptions } from "../src";
import { useServer } from "./helpers";
import type { Conn } from "./server";

const { server, session, connect } = useServer();

const init = { title: "", notes: [] as string[] };
type State = typeof init;

/** A session whose NOTES got `_SET` v=`v` with `epoch` (none when undefined) on connection 0. */
async function liveWithEpoch(epoch: string | undefined, v = 1, opts: Partial<SessionOptions> = {}) {
  const s = session(opts);
  const k = s.sync<State>("NOTES", init);
  const c = await connect(s);
  c.send({ type: "_SET:NOTES", data: { ...init, title: "server" }, v, ...(epoch === undefined ? {} : { epoch }) });
  await vi.waitFor(() => expect(k.getSnapshot().loaded).toBe(true));
  return { s, k, c };
}

/** Drops connection `n` from the server side and returns connection n+1 once the client is open. */
async function reconnect(s: Session, c: Conn, n: number): Promise<Conn> {
  c.close(1001);
  const next = await server().connection(n + 1);
  await vi.waitFor(() => expect(s.getConnectionState().status).toBe("open"));
  return next;
}

describe("resume", () => {
  it("offers wssync.resume after a reconnect and sends _RESUME with the version and epoch as its first frame", async () => {
    const { s, k, c } = await liveWithEpoch("E1", 7);
    expect(c.offered).toEqual([]); // the first connection held nothing
    c.send({ type: "_PATCH:NOTES", data: [{ op: "add", path: "/notes/-", value: "a" }], v: 8 });
    await vi.waitFor(() => expect(k.getSnapshot().version).toBe(8));

    const c1 = await reconnect(s, c, 0);
    expect(c1.offered).toEqual(["wssync", "wssync.resume"]);
    expect(await c1.next()).toEqual({ type: "_RESUME", data: { NOTES: { v: 8, epoch: "E1" } } });

    // The missed patches, then _RESUMED: the state continues from version 8.
    c1.send({ type: "_PATCH:NOTES", data: [{ op: "add", path: "/notes/-", value: "b" }], v: 9 });
    c1.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "moved on" }], v: 10 });
    c1.send({ type: "_RESUMED", data: { patched: ["NOTES"], set: [] } });
    await vi.waitFor(() => expect(k.getSnapshot().version).toBe(10));
    expect(k.state).toEqual({ title: "moved on", notes: ["a", "b"] });

    // Live again: a write goes out at once, with an id (the server's _SETs carry epochs).
    k.sync({ title: "mine" });
    const w = await c1.next();
    expect(w).toMatchObject({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "mine" }] });
    expect(typeof w.id).toBe("string");
    expect(w).not.toHaveProperty("base"); // made live: no stale check
  });

  it("holds writes made before _RESUMED and sends them after it, with their base", async () => {
    const { s, k, c } = await liveWithEpoch("E1", 3);
    const c1 = await reconnect(s, c, 0);
    expect((await c1.next()).type).toBe("_RESUME");
    k.sync({ title: "early" });
    expect(await c1.quiet(50)).toBe(true); // not live yet
    c1.send({ type: "_RESUMED", data: { patched: ["NOTES"], set: [] } });
    const w = await c1.next();
    expect(w).toMatchObject({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "early" }], base: 3 });
    c1.send({ type: "_PATCH:NOTES", data: [], v: 4 });
    c1.send({ type: "_RESULT", id: w.id, data: { v: 4 } });
    await vi.waitFor(() => expect(k.getSnapshot().version).toBe(4));
    expect(k.getSnapshot()).toMatchObject({ unsynced: false, conflicts: [], state: { title: "early" } });
  });

  it("a key the server answers with _SET instead of patches takes the _SET", async () => {
    const { s, k, c } = await liveWithEpoch("E1", 3);
    const c1 = await reconnect(s, c, 0);
    expect((await c1.next()).type).toBe("_RESUME");
    c1.send({ type: "_SET:NOTES", data: { title: "reset", notes: [] }, v: 1, epoch: "E2" });
    c1.send({ type: "_RESUMED", data: { patched: [], set: ["NOTES"] } });
    await vi.waitFor(() => expect(k.state.title).toBe("reset"));
    const c2 = await reconnect(s, c1, 1);
    expect(await c2.next()).toEqual({ type: "_RESUME", data: { NOTES: { v: 1, epoch: "E2" } } });
  });

  it("against a server without epochs (no resume) it offers no subprotocol and sends no _RESUME", async () => {
    const { s, c } = await liveWithEpoch(undefined, 5);
    const c1 = await reconnect(s, c, 0);
    expect(c1.offered).toEqual([]);
    expect(await c1.quiet(80)).toBe(true);
  });

  it("a server that refuses _RESUME (unknown_event) is harmless: its _SETs settle the state, onError hears nothing", async () => {
    const onError = vi.fn();
    const { s, k, c } = await liveWithEpoch("E1", 5, { onError });
    const c1 = await reconnect(s, c, 0);
    expect((await c1.next()).type).toBe("_RESUME");
    k.sync({ title: "queued" });
    c1.send({ type: "_ERROR", data: { code: "unknown_event", message: "no handler", event: "_RESUME" } });
    c1.send({ type: "_SET:NOTES", data: { title: "old server", notes: ["x"] }, v: 2 });
    const w = await c1.next();
    // No epoch in that _SET: the write goes out plain, as ws-sync-react sends it.
    expect(w).toEqual({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "queued" }] });
    expect(k.state).toEqual({ title: "queued", notes: ["x"] });
    expect(onError).not.toHaveBeenCalled();
    expect(k.getSnapshot().error).toBeUndefined();
  });

  it("with wsAuth, _RESUME comes right after the _USER_SESSION answer", async () => {
    localStorage.clear();
    sessionStorage.clear();
    const { s, c } = await liveWithEpoch("E1", 2, { wsAuth: true });
    const c1 = await reconnect(s, c, 0);
    expect(await c1.quiet(50)).toBe(true); // nothing before identification
    c1.send({ type: "_REQUEST_USER_SESSION" });
    expect((await c1.next()).type).toBe("_USER_SESSION");
    expect(await c1.next()).toEqual({ type: "_RESUME", data: { NOTES: { v: 2, epoch: "E1" } } });
  });

  it("resume: false never offers it", async () => {
    const { s, c } = await liveWithEpoch("E1", 2, { resume: false });
    const c1 = await reconnect(s, c, 0);
    expect(c1.offered).toEqual([]);
  });

  it("offers it beside the token subprotocol", async () => {
    const { s, c } = await liveWithEpoch("E1", 2, { getToken: () => "tok" });
    expect(c.offered).toEqual(["wssync", "wssync.bearer.tok"]);
    const c1 = await reconnect(s, c, 0);
    expect(c1.offered).toEqual(["wssync", "wssync.resume", "wssync.bearer.tok"]);
    expect((await c1.next()).type).toBe("_RESUME");
  });

  it("a key after a gap is not offered (it waits for a _SET)", async () => {
    const { s, k, c } = await liveWithEpoch("E1", 2);
    const other = s.sync("OTHER", { n: 0 });
    c.send({ type: "_SET:OTHER", data: { n: 1 }, v: 40, epoch: "E9" });
    await vi.waitFor(() => expect(other.getSnapshot().version).toBe(40));
    c.send({ type: "_PATCH:NOTES", data: [], v: 9 }); // gap: asks _GET
    expect((await c.next()).type).toBe("_GET:NOTES");
    const c1 = await reconnect(s, c, 0);
    expect(await c1.next()).toEqual({ type: "_RESUME", data: { OTHER: { v: 40, epoch: "E9" } } });
    expect(k.getSnapshot().version).toBe(2);
  });
});

describe("writes whose _RESULT a close took", () => {
  it("are queued again with their base, the key gets a _SET, and a replace the server already holds is not resent", async () => {
    const { s, k, c } = await liveWithEpoch("E1", 5);
    k.sync({ title: "landed" });
    k.patch([{ op: "add", path: "/notes/-", value: "maybe" }]);
    const w1 = await c.next();
    const w2 = await c.next();
    expect(w1).toMatchObject({ data: [{ path: "/title" }] });
    expect(w2).toMatchObject({ data: [{ path: "/notes/-" }] });
    expect(k.getSnapshot().unsynced).toBe(false);

    // The connection drops before either _RESULT: their fate is unknown.
    const c1 = await reconnect(s, c, 0);
    expect(k.getSnapshot().unsynced).toBe(true);
    expect(k.state).toEqual({ title: "landed", notes: ["maybe"] }); // shown once, not twice
    expect(c1.offered).toEqual([]); // nothing resumable: its state holds writes of unknown fate
    // The title landed, the note did not.
    c1.send({ type: "_SET:NOTES", data: { title: "landed", notes: [] }, v: 6, epoch: "E1" });
    const again = await c1.next();
    expect(again).toMatchObject({ type: "_PATCH:NOTES", data: [{ op: "add", path: "/notes/-", value: "maybe" }], base: 5 });
    expect(await c1.quiet(50)).toBe(true); // the title was not resent
    expect(k.state).toEqual({ title: "landed", notes: ["maybe"] });
    c1.send({ type: "_PATCH:NOTES", data: [], v: 7 });
    c1.send({ type: "_RESULT", id: again.id, data: { v: 7 } });
    await vi.waitFor(() => expect(k.getSnapshot().unsynced).toBe(false));
    const c2 = await reconnect(s, c1, 1);
    expect(await c2.next()).toEqual({ type: "_RESUME", data: { NOTES: { v: 7, epoch: "E1" } } });
  });

  it("an accepted write whose echo has not arrived keeps the key from resuming", async () => {
    const { s, k, c } = await liveWithEpoch("E1", 5);
    k.sync({ title: "x" });
    const w = await c.next();
    c.send({ type: "_RESULT", id: w.id, data: { v: 6 } }); // its echo (a _SET, say) still on the way
    await vi.waitFor(() => expect(k.getSnapshot().unsynced).toBe(false));
    const c1 = await reconnect(s, c, 0);
    expect(c1.offered).toEqual([]);
  });
});
