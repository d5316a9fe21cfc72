// Draft updates: the recorder's ops for each kind of edit, and `update` on a key against a
// real socket (one _PATCH, optimistic, acknowledged, queued offline); maxWaitMs beside debounceMs.
import { describe, expect, it, vi } from "vitest";
import { applyPatch, record } from "../src";
import { useServer } from "./helpers";
import { sleep } from "./server";

const { session, connect, live } = useServer();

type Item = { id: string; text: string; done: boolean; note?: string };
type State = { title: string; items: Item[]; tags: string[]; meta: Record<string, unknown> };
const items = (n: number): Item[] => Array.from({ length: n }, (_, i) => ({ id: "i" + i, text: "t" + i, done: false }));
const init: State = { title: "", items: items(5), tags: ["a"], meta: {} };

describe("record", () => {
  const ops = (fn: (d: State) => void) => record(init, fn);

  it("a nested field change is one replace at its path, and a push is add /-", () => {
    expect(
      ops((d) => {
        d.items[3]!.done = true;
        d.tags.push("x");
      }),
    ).toEqual([
      { op: "replace", path: "/items/3/done", value: true },
      { op: "add", path: "/tags/-", value: "x" },
    ]);
  });

  it("a new property is add, an existing one replace, a deleted one remove", () => {
    expect(
      ops((d) => {
        d.items[0]!.note = "n";
        d.items[1]!.text = "T";
        d.meta.k = 1;
      }),
    ).toEqual([
      { op: "add", path: "/items/0/note", value: "n" },
      { op: "replace", path: "/items/1/text", value: "T" },
      { op: "add", path: "/meta/k", value: 1 },
    ]);
    const withNote: State = { ...init, meta: { k: 1 } };
    expect(record(withNote, (d) => void delete d.meta.k)).toEqual([{ op: "remove", path: "/meta/k" }]);
    expect(record(withNote, (d) => (d.meta.k = undefined))).toEqual([{ op: "remove", path: "/meta/k" }]);
  });

  it("escapes ~ and / in pointer tokens", () => {
    expect(ops((d) => void (d.meta["a/b~c"] = 1))).toEqual([{ op: "add", path: "/meta/a~1b~0c", value: 1 }]);
  });

  it("reads after writes see the writes, and a set-then-reset changes nothing", () => {
    expect(
      ops((d) => {
        d.title = "x";
        d.tags.push(d.title + "!");
        d.title = "";
      }),
    ).toEqual([{ op: "add", path: "/tags/-", value: "x!" }]);
    expect(ops(() => {})).toEqual([]);
  });

  it("an insert, removal or shrink in the middle replaces the whole array; assignment replaces the element", () => {
    const spliced = ops((d) => void d.items.splice(2, 1));
    expect(spliced).toEqual([{ op: "replace", path: "/items", value: init.items.filter((_, i) => i !== 2) }]);
    expect(ops((d) => void d.tags.pop())).toEqual([{ op: "replace", path: "/tags", value: [] }]);
    expect(ops((d) => void d.tags.unshift("z"))).toEqual([{ op: "replace", path: "/tags", value: ["z", "a"] }]);
    expect(ops((d) => void (d.items[4] = { id: "n", text: "n", done: true }))).toEqual([
      { op: "replace", path: "/items/4/id", value: "n" },
      { op: "replace", path: "/items/4/text", value: "n" },
      { op: "replace", path: "/items/4/done", value: true },
    ]);
  });

  it("the ops turn the base into the draft, and the base is never touched", () => {
    const before = JSON.stringify(init);
    const fn = (d: State) => {
      d.items[1]!.done = true;
      d.items.push({ id: "x", text: "x", done: false });
      d.meta.deep = { a: [1, 2] };
      delete (d as Partial<State>).title;
    };
    const o = ops(fn);
    const want = JSON.parse(before) as State;
    fn(want);
    expect(applyPatch(init, o)).toEqual(want);
    expect(JSON.stringify(init)).toBe(before);
  });
});

describe("SyncedKey.update", () => {
  it("applies locally at once and sends one _PATCH of the nested ops", async () => {
    const { k, c } = await live("L", init);
    k.update((d) => {
      d.items[3]!.done = true;
      d.tags.push("x");
    });
    expect(k.state.items[3]!.done).toBe(true);
    expect(k.state.tags).toEqual(["a", "x"]);
    expect(await c.next()).toEqual({
      type: "_PATCH:L",
      data: [
        { op: "replace", path: "/items/3/done", value: true },
        { op: "add", path: "/tags/-", value: "x" },
      ],
    });
  });

  it("a draft that changes nothing sends nothing; one that throws changes nothing and rethrows", async () => {
    const { k, c } = await live("L", init);
    const before = k.getSnapshot();
    k.update(() => {});
    expect(() =>
      k.update((d) => {
        d.title = "half";
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(k.getSnapshot()).toBe(before);
    expect(await c.quiet(60)).toBe(true);
  });

  it("is acknowledged with an id and a _RESULT when the server has epochs", async () => {
    const s = session();
    const k = s.sync<State>("L", init);
    const c = await connect(s);
    c.send({ type: "_SET:L", data: init, v: 1, epoch: "E" });
    await vi.waitFor(() => expect(k.getSnapshot().version).toBe(1));
    k.update((d) => void (d.items[0]!.text = "hi"));
    const w = await c.next();
    expect(w).toMatchObject({ type: "_PATCH:L", data: [{ op: "replace", path: "/items/0/text", value: "hi" }] });
    expect(typeof w.id).toBe("string");
    c.send({ type: "_PATCH:L", data: [], v: 2 });
    c.send({ type: "_RESULT", id: w.id, data: { v: 2 } });
    await vi.waitFor(() => expect(k.getSnapshot().version).toBe(2));
    expect(k.state.items[0]!.text).toBe("hi");
    expect(k.getSnapshot().unsynced).toBe(false);
  });

  it("offline, queues with its base and replays after resuming", async () => {
    sessionStorage.clear();
    const s = session({ reconnect: { enabled: false } });
    const k = s.sync<State>("L", init);
    const c = await connect(s);
    c.send({ type: "_SET:L", data: init, v: 4, epoch: "E" });
    await vi.waitFor(() => expect(k.getSnapshot().version).toBe(4));
    c.close(1001);
    await vi.waitFor(() => expect(s.getConnectionState().status).not.toBe("open"));
    k.update((d) => void (d.items[2]!.done = true));
    k.update((d) => void (d.items[4]!.done = true));
    expect(k.getSnapshot().unsynced).toBe(true);
    const c1 = await connect(s);
    expect((await c1.next()).type).toBe("_RESUME");
    c1.send({ type: "_RESUMED", data: { patched: ["L"], set: [] } });
    const w = await c1.next();
    expect(w).toMatchObject({
      type: "_PATCH:L",
      data: [
        { op: "replace", path: "/items/2/done", value: true },
        { op: "replace", path: "/items/4/done", value: true },
      ],
      base: 4,
    });
  });

  it("a server patch of another item between two drafts is kept", async () => {
    const { k, c } = await live("L", init);
    k.update((d) => void (d.items[1]!.done = true));
    await c.next();
    c.send({ type: "_PATCH:L", data: [{ op: "replace", path: "/items/2/text", value: "theirs" }] });
    await vi.waitFor(() => expect(k.state.items[2]!.text).toBe("theirs"));
    k.update((d) => void (d.items[3]!.done = true));
    expect((await c.next()).data).toEqual([{ op: "replace", path: "/items/3/done", value: true }]);
    expect(k.state.items.map((i) => [i.text, i.done])).toEqual([
      ["t0", false],
      ["t1", true],
      ["theirs", false],
      ["t3", true],
      ["t4", false],
    ]);
  });
});

describe("maxWaitMs", () => {
  it("continuous debounced typing is sent at least every maxWaitMs, then the last value once", async () => {
    const { k, c } = await live("L", init);
    const t0 = Date.now();
    let text = "";
    while (Date.now() - t0 < 260) {
      text += "x";
      k.sync({ title: text }, { debounceMs: 50, maxWaitMs: 100 });
      await sleep(10);
    }
    const sent = c.frames.filter((f) => f.type === "_PATCH:L").length;
    expect(sent).toBeGreaterThanOrEqual(2); // at ~100 and ~200 ms, though no 50 ms pause came
    await vi.waitFor(() => expect(c.frames.at(-1)).toMatchObject({ data: [{ path: "/title", value: text }] }));
  });

  it("without maxWaitMs continuous typing sends nothing until a pause", async () => {
    const { k, c } = await live("L", init);
    const t0 = Date.now();
    while (Date.now() - t0 < 200) {
      k.sync({ title: String(Date.now()) }, { debounceMs: 150 });
      await sleep(10);
    }
    expect(c.frames.filter((f) => f.type === "_PATCH:L")).toEqual([]);
  });
});
