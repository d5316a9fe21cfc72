// Requests with ids (_RESULT), tasks, binary frames, toasts and downloads over a real socket.
import { describe, expect, it, vi } from "vitest";
import { type BinaryPayload, type Returns, SyncError } from "../src";
import { useServer } from "./helpers";
import { type Frame, sleep } from "./server";

const { session, live } = useServer();

type Actions = {
  rename: { index: number; text: string } & Returns<string>;
  clear: undefined;
};
type Tasks = { import: { source: string }; export: undefined };

function setup(opts: Parameters<typeof session>[0] = {}) {
  return live<{ n: number }, Actions, Tasks>("NOTES", { n: 0 }, {}, opts);
}

describe("actions with results", () => {
  it("sends an id and resolves with the _RESULT data", async () => {
    const { k, c } = await setup();
    const p = k.sendAction({ type: "rename", index: 0, text: "y" });
    const f = await c.next();
    expect(f).toMatchObject({ type: "_ACTION:NOTES", data: { type: "rename", index: 0, text: "y" } });
    expect(typeof f.id).toBe("string");
    c.send({ type: "_RESULT", id: f.id, data: "renamed" });
    const result: string = await p;
    expect(result).toBe("renamed");
  });

  it("resolves null for handlers that return nothing", async () => {
    const { k, c } = await setup();
    const p = k.sendAction({ type: "clear" });
    const f = await c.next();
    expect(f.data).toEqual({ type: "clear" });
    c.send({ type: "_RESULT", id: f.id });
    await expect(p).resolves.toBeNull();
  });

  it("matches concurrent requests by id", async () => {
    const { k, c } = await setup();
    const p1 = k.sendAction({ type: "rename", index: 1, text: "a" });
    const p2 = k.sendAction({ type: "rename", index: 2, text: "b" });
    const f1 = await c.next();
    const f2 = await c.next();
    expect(f1.id).not.toBe(f2.id);
    c.send({ type: "_RESULT", id: f2.id, data: "second" });
    c.send({ type: "_RESULT", id: f1.id, data: "first" });
    expect(await Promise.all([p1, p2])).toEqual(["first", "second"]);
  });

  it("rejects with a typed SyncError on a _RESULT error, without calling onError", async () => {
    const onError = vi.fn();
    const { k, c } = await setup({ onError });
    const p = k.sendAction({ type: "rename", index: 9, text: "" });
    const f = await c.next();
    const error = { code: "bad_params", message: "index out of range", event: "_ACTION:NOTES", path: "/index" };
    c.send({ type: "_RESULT", id: f.id, error });
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SyncError);
    expect(err).toMatchObject({ code: "bad_params", message: "index out of range", path: "/index", key: "NOTES" });
    expect(k.getSnapshot().error?.code).toBe("bad_params");
    expect(onError).not.toHaveBeenCalled();
  });

  it("sends a _RESULT error with an unknown id to onError", async () => {
    const onError = vi.fn();
    const { c } = await setup({ onError });
    c.send({ type: "_RESULT", id: "nobody", error: { code: "internal", message: "boom" } });
    await vi.waitFor(() => expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: "internal" })));
  });

  it("rejects with not_connected when closed", async () => {
    const s = session();
    const k = s.sync("NOTES", {});
    await expect(k.sendAction({ type: "x" })).rejects.toMatchObject({ code: "not_connected" });
    await expect(k.startTask({ type: "x" })).rejects.toMatchObject({ code: "not_connected" });
    await expect(k.sendBinary({ type: "x" }, new ArrayBuffer(1))).rejects.toMatchObject({ code: "not_connected" });
  });

  it("rejects pending requests when the connection drops", async () => {
    const { k, c } = await setup();
    const p = k.sendAction({ type: "rename", index: 0, text: "y" });
    await c.next();
    c.close(1011);
    await expect(p).rejects.toMatchObject({ code: "disconnected", key: "NOTES" });
  });

  it("rejects pending requests on disconnect()", async () => {
    const { s, k, c } = await setup();
    const p = k.sendAction({ type: "clear" });
    await c.next();
    s.disconnect();
    await expect(p).rejects.toMatchObject({ code: "disconnected" });
  });

  it("times out", async () => {
    const { k, c } = await setup({ requestTimeoutMs: 5000 });
    const p = k.sendAction({ type: "clear" }, { timeoutMs: 30 });
    await c.next();
    await expect(p).rejects.toMatchObject({ code: "timeout" });
  });
});

describe("tasks", () => {
  it("sends _TASK_START/_TASK_CANCEL with ids and tracks _TASK_STATUS", async () => {
    const onError = vi.fn();
    const { k, c } = await setup({ onError });
    const started = k.startTask({ type: "import", source: "a.csv" });
    const f = await c.next();
    expect(f).toMatchObject({ type: "_TASK_START:NOTES", data: { type: "import", source: "a.csv" } });
    c.send({ type: "_TASK_STATUS:NOTES", data: { type: "import", status: "started" } });
    c.send({ type: "_RESULT", id: f.id, data: null });
    await expect(started).resolves.toBeUndefined();
    expect(k.getSnapshot().tasks.import?.status).toBe("started");

    const cancelled = k.cancelTask({ type: "import" });
    const g = await c.next();
    expect(g).toMatchObject({ type: "_TASK_CANCEL:NOTES", data: { type: "import" } });
    expect(typeof g.id).toBe("string");
    c.send({ type: "_RESULT", id: g.id, data: null });
    await cancelled;
    c.send({ type: "_TASK_STATUS:NOTES", data: { type: "import", status: "cancelled" } });
    await vi.waitFor(() => expect(k.getSnapshot().tasks.import?.status).toBe("cancelled"));
    expect(onError).not.toHaveBeenCalled();
  });

  it("reports done and failures", async () => {
    const onError = vi.fn();
    const { k, c } = await setup({ onError });
    c.send({ type: "_TASK_STATUS:NOTES", data: { type: "export", status: "done" } });
    await vi.waitFor(() => expect(k.getSnapshot().tasks.export).toEqual({ status: "done" }));
    c.send({ type: "_TASK_STATUS:NOTES", data: { type: "count", status: "done", result: { words: 3 } } });
    await vi.waitFor(() => expect(k.getSnapshot().tasks.count).toEqual({ status: "done", result: { words: 3 } }));
    c.send({
      type: "_TASK_STATUS:NOTES",
      data: { type: "import", status: "failed", error: { code: "task_failed", message: "disk full" } },
    });
    await vi.waitFor(() => expect(k.getSnapshot().tasks.import?.status).toBe("failed"));
    expect(k.getSnapshot().tasks.import?.error).toMatchObject({ code: "task_failed", message: "disk full" });
    expect(k.getSnapshot().error?.code).toBe("task_failed");
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: "task_failed", key: "NOTES" }));
  });

  it("rejects a refused start (task_running)", async () => {
    const { k, c } = await setup();
    const p = k.startTask({ type: "import", source: "x" });
    const f = await c.next();
    c.send({ type: "_RESULT", id: f.id, error: { code: "task_running", message: "already running", event: "_TASK_START:NOTES" } });
    await expect(p).rejects.toMatchObject({ code: "task_running" });
  });
});

describe("binary frames", () => {
  it("receives _BIN_META + binary as {data: ArrayBuffer, ...metadata}", async () => {
    const { s, c } = await setup();
    const got: BinaryPayload[] = [];
    s.registerEvent("IMAGE", (d) => got.push(d as BinaryPayload));
    c.send({ type: "_BIN_META", data: { type: "IMAGE", metadata: { name: "a.png", size: 3 } } });
    c.sendBinary(new Uint8Array([1, 2, 255]));
    await vi.waitFor(() => expect(got).toHaveLength(1));
    const p = got[0] as BinaryPayload;
    expect(p.name).toBe("a.png");
    expect(Object.prototype.toString.call(p.data)).toBe("[object ArrayBuffer]");
    expect([...new Uint8Array(p.data)]).toEqual([1, 2, 255]);
  });

  it("routes a binary server action to the key's exposed actions", async () => {
    const { k, c } = await setup();
    const flash = vi.fn();
    k.onActions(() => ({ flash }));
    c.send({ type: "_BIN_META", data: { type: "_ACTION:NOTES", metadata: { type: "flash", tag: 7 } } });
    c.sendBinary(new Uint8Array([9]));
    await vi.waitFor(() => expect(flash).toHaveBeenCalledTimes(1));
    const arg = flash.mock.calls[0]?.[0] as { tag: number; data: ArrayBuffer };
    expect(arg.tag).toBe(7);
    expect([...new Uint8Array(arg.data)]).toEqual([9]);
  });

  it("drops a binary frame without _BIN_META and a meta followed by text", async () => {
    const { s, c } = await setup();
    const h = vi.fn();
    s.registerEvent("IMAGE", h);
    c.sendBinary(new Uint8Array([1]));
    c.send({ type: "_BIN_META", data: { type: "IMAGE", metadata: {} } });
    c.send({ type: "_TOAST", data: { type: "info", message: "x" } });
    c.sendBinary(new Uint8Array([2]));
    await sleep(50);
    expect(h).not.toHaveBeenCalled();
  });

  it("sends _BIN_META then the bytes", async () => {
    const { k, c } = await setup();
    const bytes = new Uint8Array([0, 1, 2, 3, 250]);
    await k.sendBinary({ type: "rename", index: 0, text: "upload" }, bytes.buffer);
    expect(await c.next()).toEqual({
      type: "_BIN_META",
      data: { type: "_ACTION:NOTES", metadata: { type: "rename", index: 0, text: "upload" } },
    });
    const m = await c.nextMessage();
    expect("binary" in m && [...m.binary]).toEqual([0, 1, 2, 3, 250]);
  });
});

describe("events, toasts and downloads", () => {
  it("hands _TOAST to onToast", async () => {
    const onToast = vi.fn();
    const { c } = await setup({ onToast });
    c.send({ type: "_TOAST", data: { type: "success", message: "saved" } });
    await vi.waitFor(() => expect(onToast).toHaveBeenCalledWith({ type: "success", message: "saved" }));
  });

  it("saves _DOWNLOAD through the injected saver", async () => {
    const saveFile = vi.fn();
    const { c } = await setup({ saveFile });
    c.send({ type: "_DOWNLOAD", data: { filename: "notes.txt", data: Buffer.from("héllo\n").toString("base64") } });
    await vi.waitFor(() => expect(saveFile).toHaveBeenCalledTimes(1));
    const [name, bytes] = saveFile.mock.calls[0] as [string, Uint8Array];
    expect(name).toBe("notes.txt");
    expect(Buffer.from(bytes).toString("utf8")).toBe("héllo\n");
  });

  it("the default saver clicks a temporary <a download> with a blob URL", async () => {
    const created: Blob[] = [];
    // Kept to be put back afterwards, never called detached.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const orig = { create: URL.createObjectURL, revoke: URL.revokeObjectURL };
    // jsdom has no object URLs; stand in for the browser's.
    URL.createObjectURL = (b: Blob) => (created.push(b), "blob:test/1");
    URL.revokeObjectURL = () => {};
    const clicks: { download: string; href: string; attached: boolean }[] = [];
    const onClick = (e: Event) => {
      const a = e.target as HTMLAnchorElement;
      clicks.push({ download: a.download, href: a.getAttribute("href") ?? "", attached: a.isConnected });
      e.preventDefault(); // jsdom cannot navigate
    };
    document.addEventListener("click", onClick, true);
    try {
      const { c } = await setup();
      c.send({ type: "_DOWNLOAD", data: { filename: "r.bin", data: Buffer.from([1, 2, 3]).toString("base64") } });
      await vi.waitFor(() => expect(clicks).toHaveLength(1));
      expect(clicks[0]).toEqual({ download: "r.bin", href: "blob:test/1", attached: true });
      expect(created[0]?.size).toBe(3);
      expect(document.querySelectorAll("a[download]")).toHaveLength(0); // removed again
    } finally {
      document.removeEventListener("click", onClick, true);
      URL.createObjectURL = orig.create;
      URL.revokeObjectURL = orig.revoke;
    }
  });

  it("registers and deregisters event handlers", async () => {
    const { s, c } = await setup();
    const seen: Frame["data"][] = [];
    const h = (d: unknown) => seen.push(d);
    const off = s.registerEvent("CUSTOM", h);
    c.send({ type: "CUSTOM", data: 1 });
    await vi.waitFor(() => expect(seen).toEqual([1]));
    off();
    c.send({ type: "CUSTOM", data: 2 });
    s.registerEvent("CUSTOM", h);
    s.deregisterEvent("CUSTOM");
    c.send({ type: "CUSTOM", data: 3 });
    await sleep(40);
    expect(seen).toEqual([1]);
  });

  it("ignores malformed frames", async () => {
    const onError = vi.fn();
    const { c, k } = await setup({ onError });
    c.ws.send("not json");
    c.ws.send("[1,2]");
    c.ws.send('{"type": 5}');
    c.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/n", value: 1 }], v: 2 });
    await vi.waitFor(() => expect(k.state.n).toBe(1));
    expect(onError).not.toHaveBeenCalled();
  });
});
