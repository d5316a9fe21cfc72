// Session against a real WebSocket server on loopback: state, versions, writes, requests.
import { describe, expect, it, vi } from "vitest";
import { SyncError } from "../src";
import { useServer } from "./helpers";
import { sleep } from "./server";

const { session, connect, live } = useServer();

type Notes = { title: string; notes: string[]; count: number };
const init: Notes = { title: "", notes: [], count: 0 };

describe("state and versions", () => {
  it("applies the first _SET and in-order patches", async () => {
    const { k: notes, c } = await live("NOTES", init, { data: { title: "a", notes: ["x"], count: 1 }, v: 3 });
    expect(notes.state).toEqual({ title: "a", notes: ["x"], count: 1 });
    expect(notes.getSnapshot().version).toBe(3);

    c.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "b" }], v: 4 });
    c.send({ type: "_PATCH:NOTES", data: [{ op: "add", path: "/notes/-", value: "y" }], v: 5 });
    await vi.waitFor(() => expect(notes.getSnapshot().version).toBe(5));
    expect(notes.state).toEqual({ title: "b", notes: ["x", "y"], count: 1 });
  });

  it("ignores stale patches (v <= local)", async () => {
    const s = session();
    const notes = s.sync("NOTES", init);
    const c = await connect(s);
    c.send({ type: "_SET:NOTES", data: { ...init, count: 5 }, v: 5 });
    c.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/count", value: 4 }], v: 5 });
    c.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/count", value: 3 }], v: 4 });
    c.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/count", value: 6 }], v: 6 });
    await vi.waitFor(() => expect(notes.getSnapshot().version).toBe(6));
    expect(notes.state.count).toBe(6);
    expect(await c.quiet(50)).toBe(true); // no _GET for duplicates
  });

  it("on a gap sends _GET and applies nothing until the next _SET", async () => {
    const s = session();
    const notes = s.sync("NOTES", init);
    const c = await connect(s);
    c.send({ type: "_SET:NOTES", data: { ...init, count: 1 }, v: 1 });
    c.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/count", value: 3 }], v: 3 }); // v2 missing
    expect(await c.nextOf("_GET:NOTES")).toEqual({ type: "_GET:NOTES", data: {} });
    // Patches that arrive before the _SET are stale by definition, even "in order" ones.
    c.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/count", value: 4 }], v: 4 });
    await sleep(30);
    expect(notes.state.count).toBe(1);
    expect(notes.getSnapshot().version).toBe(1);
    c.send({ type: "_SET:NOTES", data: { ...init, count: 4 }, v: 4 });
    c.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/count", value: 5 }], v: 5 });
    await vi.waitFor(() => expect(notes.getSnapshot().version).toBe(5));
    expect(notes.state.count).toBe(5);
  });

  it("resyncs when a patch fails to apply, and reports it", async () => {
    const onError = vi.fn();
    const s = session({ onError });
    const notes = s.sync("NOTES", init);
    const c = await connect(s);
    c.send({ type: "_SET:NOTES", data: init, v: 1 });
    c.send({ type: "_PATCH:NOTES", data: [{ op: "remove", path: "/nope" }], v: 2 });
    await c.nextOf("_GET:NOTES");
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: "patch_failed" }));
    expect(notes.getSnapshot().version).toBe(1);
  });

  it("applies frames without v in order (ws-sync Python server)", async () => {
    const s = session();
    const notes = s.sync("NOTES", init);
    const c = await connect(s);
    c.send({ type: "_SET:NOTES", data: init });
    c.send({ type: "_PATCH:NOTES", data: [{ op: "add", path: "/notes/-", value: "a" }] });
    c.send({ type: "_PATCH:NOTES", data: [{ op: "add", path: "/notes/-", value: "b" }] });
    await vi.waitFor(() => expect(notes.state.notes).toEqual(["a", "b"]));
    expect(notes.getSnapshot().version).toBeUndefined();
  });

  it("keeps state for keys nobody asked for yet", async () => {
    const s = session();
    const c = await connect(s);
    c.send({ type: "_SET:LATER", data: { n: 1 }, v: 7 });
    await sleep(30);
    const later = s.sync("LATER", { n: 0 });
    expect(later.state).toEqual({ n: 1 });
    expect(later.getSnapshot().version).toBe(7);
  });

  it("sends _GET for a key created after the connection's replay", async () => {
    const s = session();
    const c = await connect(s);
    const late = s.sync("LATE", { n: 0 });
    late.requestIfStale();
    late.requestIfStale(); // only once
    expect(await c.next()).toEqual({ type: "_GET:LATE", data: {} });
    expect(await c.quiet(50)).toBe(true);
  });

  it("routes keys with scopes and colons-free prefixes", async () => {
    const s = session();
    const room = s.sync("room-7/NOTES", init);
    const c = await connect(s);
    c.send({ type: "_SET:room-7/NOTES", data: { ...init, title: "room" }, v: 1 });
    await vi.waitFor(() => expect(room.state.title).toBe("room"));
  });
});

describe("writes", () => {
  it("sync sends one replace op per field with escaped pointers, locally first", async () => {
    const { k, c } = await live("K", { "a/b~c": 0, title: "" });
    k.sync({ "a/b~c": 1, title: "t" });
    expect(k.state).toEqual({ "a/b~c": 1, title: "t" });
    expect(await c.next()).toEqual({
      type: "_PATCH:K",
      data: [
        { op: "replace", path: "/a~1b~0c", value: 1 },
        { op: "replace", path: "/title", value: "t" },
      ],
    });
  });

  it("set is local only; sync() sends the local edits", async () => {
    const { k, c } = await live("NOTES", init);
    k.set({ title: "draft" });
    expect(k.state.title).toBe("draft");
    expect(k.getSnapshot().unsynced).toBe(true);
    expect(await c.quiet(60)).toBe(true);
    k.sync();
    expect(await c.next()).toEqual({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "draft" }] });
    expect(k.getSnapshot().unsynced).toBe(false);
  });

  it("the writer's echo is the residual of its write: array writes are not applied twice", async () => {
    type Doc = { tags: string[]; doc: { items: string[] }; count: number };
    const start: Doc = { tags: ["a", "b"], doc: { items: ["x", "y"] }, count: 4 };
    const { k, c } = await live("DOC", start, { data: start });
    const steps: [() => void, Doc][] = [
      [() => k.patch([{ op: "add", path: "/tags/-", value: "c" }]), { ...start, tags: ["a", "b", "c"], count: 5 }],
      [() => k.patch([{ op: "remove", path: "/tags/0" }]), { ...start, tags: ["b", "c"], count: 4 }],
      [() => k.sync({ tags: [...k.state.tags, "d"] }), { ...start, tags: ["b", "c", "d"], count: 5 }],
      [() => k.patch([{ op: "add", path: "/doc/items/0", value: "w" }]), { tags: ["b", "c", "d"], doc: { items: ["w", "x", "y"] }, count: 6 }],
      [() => k.patch([{ op: "remove", path: "/doc/items/1" }]), { tags: ["b", "c", "d"], doc: { items: ["w", "y"] }, count: 5 }],
    ];
    let v = 1;
    for (const [write, want] of steps) {
      write();
      await c.next();
      // What wssync sends its writer: only the computed count it changed besides the write.
      c.send({ type: "_PATCH:DOC", data: [{ op: "replace", path: "/count", value: want.count }], v: ++v });
      await vi.waitFor(() => expect(k.getSnapshot().version).toBe(v));
      expect(k.state).toEqual(want);
      expect(k.getSnapshot().unsynced).toBe(false);
    }
    // A server change crossing the write: applied on top of it, then the echo sends the
    // field whole, and the writer ends where the server is.
    k.patch([{ op: "add", path: "/tags/0", value: "mine" }]);
    await c.next();
    c.send({ type: "_PATCH:DOC", data: [{ op: "add", path: "/tags/0", value: "srv" }], v: ++v });
    c.send({
      type: "_PATCH:DOC",
      data: [
        { op: "replace", path: "/tags", value: ["mine", "srv", "b", "c", "d"] },
        { op: "replace", path: "/count", value: 7 },
      ],
      v: ++v,
    });
    await vi.waitFor(() => expect(k.getSnapshot().version).toBe(v));
    expect(k.state.tags).toEqual(["mine", "srv", "b", "c", "d"]);
  });

  it("the server's published value replaces a sent or local-only value of that field", async () => {
    const { k, c } = await live("NOTES", init);
    k.sync({ title: "  padded  " });
    k.set({ count: 7 });
    await c.next();
    // The server normalised the write, and someone else changed count.
    c.send({
      type: "_PATCH:NOTES",
      data: [
        { op: "replace", path: "/title", value: "padded" },
        { op: "replace", path: "/count", value: 1 },
      ],
      v: 2,
    });
    await vi.waitFor(() => expect(k.getSnapshot().version).toBe(2));
    expect(k.state).toEqual({ ...init, title: "padded", count: 1 });
    // A patch to another field leaves a local edit alone.
    k.set({ title: "mine" });
    c.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/count", value: 2 }], v: 3 });
    await vi.waitFor(() => expect(k.getSnapshot().version).toBe(3));
    expect(k.state).toEqual({ ...init, title: "mine", count: 2 });
  });

  it("patch() sends raw ops and shows them optimistically", async () => {
    const { k, c } = await live("NOTES", init);
    k.patch([{ op: "add", path: "/notes/-", value: "n1" }]);
    expect(k.state.notes).toEqual(["n1"]);
    expect(await c.next()).toEqual({ type: "_PATCH:NOTES", data: [{ op: "add", path: "/notes/-", value: "n1" }] });
    expect(() => k.patch([{ op: "remove", path: "/notes/5" }])).toThrow();
    expect(k.state.notes).toEqual(["n1"]);
  });

  it("a rejected write rolls back to the server's _SET and reports the error", async () => {
    const onError = vi.fn();
    const { k, c } = await live("NOTES", init, { data: { ...init, count: 2 } }, { onError });
    k.sync({ count: 99 });
    expect(k.state.count).toBe(99);
    await c.next();
    const error = { code: "read_only", message: 'field "count" is read-only', event: "_PATCH:NOTES", path: "/count" };
    c.send({ type: "_ERROR", data: error });
    c.send({ type: "_SET:NOTES", data: { ...init, count: 2 }, v: 1 });
    await vi.waitFor(() => expect(k.state.count).toBe(2));
    const err = k.getSnapshot().error;
    expect(err).toBeInstanceOf(SyncError);
    expect(err?.toJSON()).toEqual(error);
    expect(err?.key).toBe("NOTES");
    expect(onError).toHaveBeenCalledTimes(1);
    k.clearError();
    expect(k.getSnapshot().error).toBeUndefined();
  });

  it("debounced writes send the last value once", async () => {
    const { k, c } = await live("NOTES", init);
    for (const t of ["h", "he", "hel", "hello"]) k.sync({ title: t }, { debounceMs: 40 });
    expect(k.state.title).toBe("hello");
    expect(await c.next()).toEqual({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "hello" }] });
    expect(await c.quiet(80)).toBe(true);
  });

  it("an action flushes pending debounced writes first", async () => {
    const { k, c } = await live("NOTES", init);
    k.sync({ title: "typed" }, { debounceMs: 10_000 });
    void k.sendAction({ type: "save" }).catch(() => {});
    expect((await c.next()).type).toBe("_PATCH:NOTES");
    expect((await c.next()).type).toBe("_ACTION:NOTES");
  });

  it("writes made while offline are queued and sent after the next _SET, on top of it", async () => {
    const s = session();
    const k = s.sync("NOTES", init);
    k.sync({ title: "offline" });
    expect(k.state.title).toBe("offline");
    expect(k.getSnapshot().unsynced).toBe(true);
    const c = await connect(s);
    expect(await c.quiet(50)).toBe(true); // nothing before the key is live
    c.send({ type: "_SET:NOTES", data: { ...init, count: 3 }, v: 1 });
    expect(await c.next()).toEqual({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "offline" }] });
    expect(k.state).toEqual({ ...init, count: 3, title: "offline" });
    c.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "offline" }], v: 2 });
    await vi.waitFor(() => expect(k.getSnapshot().version).toBe(2));
    expect(k.state.title).toBe("offline");
    expect(k.getSnapshot().unsynced).toBe(false);
  });
});

describe("exposed actions", () => {
  it("routes server → client _ACTION to handlers without the type", async () => {
    const s = session();
    const k = s.sync("NOTES", init);
    const flash = vi.fn();
    const off = k.onActions(() => ({ flash }));
    const c = await connect(s);
    c.send({ type: "_ACTION:NOTES", data: { type: "flash", text: "hi" } });
    await vi.waitFor(() => expect(flash).toHaveBeenCalledWith({ text: "hi" }));
    off();
    c.send({ type: "_ACTION:NOTES", data: { type: "flash", text: "again" } });
    await sleep(30);
    expect(flash).toHaveBeenCalledTimes(1);
  });
});
