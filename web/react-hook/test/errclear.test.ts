// An error goes once its cause does (docs/react-guide.md#errors): each rule, frame by frame
// against a real ws server.

import { describe, expect, it, vi } from "vitest";
import { useServer } from "./helpers";

const { live, server } = useServer();

type Notes = { title: string; notes: string[] };
const initial: Notes = { title: "T", notes: [] };
// A wssync server: versions and an epoch, so writes carry ids and are acknowledged.
async function notes() {
  const r = await live("NOTES", initial);
  r.c.send({ type: "_SET:NOTES", data: initial, v: 1, epoch: "e1" });
  await new Promise((res) => setTimeout(res, 30));
  return r;
}
const refusal = { code: "rejected", message: "The title cannot be empty.", path: "/title" };

describe("a write refusal", () => {
  it("stays through the rollback and clears when a later write of the key is acknowledged", async () => {
    const { k, c } = await notes();
    k.sync({ title: "" });
    const w = await c.nextOf("_PATCH:NOTES");
    c.send({ type: "_RESULT", id: w.id, error: refusal });
    c.send({ type: "_SET:NOTES", data: initial, v: 1, epoch: "e1" }); // the server's rollback
    await vi.waitFor(() => expect(k.getSnapshot().error?.code).toBe("rejected"));
    await new Promise((r) => setTimeout(r, 50));
    expect(k.getSnapshot().error?.path, "the rollback _SET is not the cause going").toBe("/title");

    k.sync({ title: "Fixed" });
    const w2 = await c.nextOf("_PATCH:NOTES");
    expect(k.getSnapshot().error, "sent is not acknowledged").toBeDefined();
    c.send({ type: "_RESULT", id: w2.id, data: { v: 2 } });
    await vi.waitFor(() => expect(k.getSnapshot().error).toBeUndefined());
  });

  it("clears when the server changes the field it named, not another", async () => {
    const { k, c } = await notes();
    k.sync({ title: "" });
    const w = await c.nextOf("_PATCH:NOTES");
    c.send({ type: "_RESULT", id: w.id, error: refusal });
    await vi.waitFor(() => expect(k.getSnapshot().error).toBeDefined());

    c.send({ type: "_PATCH:NOTES", data: [{ op: "add", path: "/notes/-", value: "n" }], v: 2 });
    await vi.waitFor(() => expect(k.state.notes).toEqual(["n"]));
    expect(k.getSnapshot().error, "a patch of /notes leaves a /title refusal").toBeDefined();

    c.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "Theirs" }], v: 3 });
    await vi.waitFor(() => expect(k.getSnapshot().error).toBeUndefined());
  });

  it("clearError() still clears it at once", async () => {
    const { k, c } = await notes();
    k.sync({ title: "" });
    const w = await c.nextOf("_PATCH:NOTES");
    c.send({ type: "_RESULT", id: w.id, error: refusal });
    await vi.waitFor(() => expect(k.getSnapshot().error).toBeDefined());
    k.clearError();
    expect(k.getSnapshot().error).toBeUndefined();
  });
});

describe("an action error", () => {
  it("rejects its caller and is shown until the next successful call of that action", async () => {
    const { k, c } = await notes();
    const failed = k.sendAction({ type: "add", text: "" });
    const f1 = await c.nextOf("_ACTION:NOTES");
    c.send({ type: "_RESULT", id: f1.id, error: { code: "bad_params", message: "empty", path: "/text" } });
    await expect(failed).rejects.toMatchObject({ code: "bad_params" });
    expect(k.getSnapshot().error?.code).toBe("bad_params");

    // Another action succeeding is not this one's cause going.
    const other = k.sendAction({ type: "clear" });
    const f2 = await c.nextOf("_ACTION:NOTES");
    c.send({ type: "_RESULT", id: f2.id, data: null });
    await other;
    expect(k.getSnapshot().error?.code).toBe("bad_params");

    const ok = k.sendAction({ type: "add", text: "x" });
    const f3 = await c.nextOf("_ACTION:NOTES");
    c.send({ type: "_RESULT", id: f3.id, data: null });
    await ok;
    expect(k.getSnapshot().error).toBeUndefined();
  });

  it("a newer error of another cause is not cleared by the first one's success", async () => {
    const { k, c } = await notes();
    const a = k.sendAction({ type: "add", text: "" });
    const f1 = await c.nextOf("_ACTION:NOTES");
    c.send({ type: "_RESULT", id: f1.id, error: { code: "bad_params", message: "empty" } });
    await expect(a).rejects.toBeDefined();
    k.sync({ title: "" });
    const w = await c.nextOf("_PATCH:NOTES");
    c.send({ type: "_RESULT", id: w.id, error: refusal });
    await vi.waitFor(() => expect(k.getSnapshot().error?.code).toBe("rejected"));

    const ok = k.sendAction({ type: "add", text: "x" });
    const f2 = await c.nextOf("_ACTION:NOTES");
    c.send({ type: "_RESULT", id: f2.id, data: null });
    await ok;
    expect(k.getSnapshot().error?.code).toBe("rejected");
  });
});

describe("a task error", () => {
  it("a failed run clears when the task reports again or starts successfully", async () => {
    const { k, c } = await live("VIEW", {});
    c.send({ type: "_TASK_STATUS:VIEW", data: { type: "review", status: "failed", error: { code: "task_failed", message: "boom" } } });
    await vi.waitFor(() => expect(k.getSnapshot().error?.code).toBe("task_failed"));
    c.send({ type: "_TASK_STATUS:VIEW", data: { type: "export", status: "running" } });
    await vi.waitFor(() => expect(k.getSnapshot().tasks.export?.status).toBe("running"));
    expect(k.getSnapshot().error, "another task running").toBeDefined();

    const started = k.startTask({ type: "review" });
    const f = await c.nextOf("_TASK_START:VIEW");
    c.send({ type: "_RESULT", id: f.id, data: null });
    await started;
    expect(k.getSnapshot().error).toBeUndefined();

    c.send({ type: "_TASK_STATUS:VIEW", data: { type: "review", status: "failed", error: { code: "task_failed", message: "again" } } });
    await vi.waitFor(() => expect(k.getSnapshot().error?.message).toBe("again"));
    c.send({ type: "_TASK_STATUS:VIEW", data: { type: "review", status: "running" } });
    await vi.waitFor(() => expect(k.getSnapshot().error).toBeUndefined());
  });

  it("a refused start clears on the next successful start of that task", async () => {
    const { k, c } = await live("VIEW", {});
    const refused = k.startTask({ type: "review" });
    const f1 = await c.nextOf("_TASK_START:VIEW");
    c.send({ type: "_RESULT", id: f1.id, error: { code: "task_running", message: "already running" } });
    await expect(refused).rejects.toMatchObject({ code: "task_running" });
    expect(k.getSnapshot().error?.code).toBe("task_running");
    const ok = k.startTask({ type: "review" });
    const f2 = await c.nextOf("_TASK_START:VIEW");
    c.send({ type: "_RESULT", id: f2.id, data: null });
    await ok;
    expect(k.getSnapshot().error).toBeUndefined();
  });
});

describe("a connection error", () => {
  it("lives in the connection state, and a successful reconnect shows open again", async () => {
    const { s, k, c } = await live("NOTES", initial);
    // caught at once: the close may reject it before the assertion below is attached
    const pending = k.sendAction({ type: "add", text: "x" }).catch((e: unknown) => e);
    await c.nextOf("_ACTION:NOTES");
    const seen: string[] = [];
    s.subscribeConnection(() => seen.push(s.getConnectionState().status));
    c.close(1011, "restart");
    await vi.waitFor(() => expect(seen).toContain("closed"));
    expect(s.getConnectionState().lastCloseCode).toBe(1011);
    expect(await pending).toMatchObject({ code: "disconnected" });
    expect(k.getSnapshot().error, "a request cut by the close rejects its caller only").toBeUndefined();
    const back = await server().connection(1);
    expect(back).toBeDefined();
    await vi.waitFor(() => expect(s.getConnectionState()).toMatchObject({ status: "open", attempt: 0, terminal: false }));
    expect(s.getConnectionState().retryInMs).toBeUndefined();
  });
});

describe("a plain write's _ERROR (a server without epochs)", () => {
  it("clears when the server changes the field it named", async () => {
    const { k, c } = await live("NOTES", initial);
    k.sync({ title: "" });
    const w = await c.nextOf("_PATCH:NOTES");
    expect(w.id, "no ids without an epoch").toBeUndefined();
    c.send({ type: "_ERROR", data: { ...refusal, event: "_PATCH:NOTES" } });
    await vi.waitFor(() => expect(k.getSnapshot().error?.code).toBe("rejected"));
    c.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "Theirs" }], v: 2 });
    await vi.waitFor(() => expect(k.getSnapshot().error).toBeUndefined());
  });
});
