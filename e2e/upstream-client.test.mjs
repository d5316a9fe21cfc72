// An unmodified ws-sync-react client must work against a wssync server. This test drives
// the notes example with a client that speaks only ws-sync-react's frames (lib/upstream.mjs)
// and checks that its naively patched state converges with the server's.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { startServer } from "./lib/server.mjs";
import { UpstreamClient } from "./lib/upstream.mjs";

let server;
const clients = [];
const ids = () => ({ user: randomUUID(), session: randomUUID() });
const alice = ids();
const bob = ids();

async function connect(who) {
  const c = new UpstreamClient(server.wsUrl, who);
  clients.push(c);
  await c.connect();
  await c.waitState("the _SET of both keys", (s) => s.NOTES && s.VIEW);
  return c;
}

const texts = (state) => state.NOTES.notes.map((n) => n.text);
const frameCodes = (c) => c.unhandled.filter((f) => f.type === "_ERROR").map((f) => f.data.code);

let a, b;

before(async () => {
  server = await startServer("upstream");
}, { timeout: 300_000 });

after(async () => {
  for (const c of clients) c.ws.terminate();
  const how = await server?.stop();
  assert.equal(how?.code, 0, "the server exits cleanly on SIGTERM");
});

test("the wsAuth handshake gets the full state", async () => {
  a = await connect(alice);
  b = await connect(bob);
  assert.equal(a.state.NOTES.title, "Team notes");
  assert.equal(a.state.NOTES.notes.length, 2);
  assert.match(a.state.VIEW.name, /^Guest [0-9a-f]{4}$/);
  assert.notEqual(a.state.VIEW.name, b.state.VIEW.name, "each session has its own private VIEW");
});

test("a syncX-style title write reaches every client", async () => {
  a.syncField("NOTES", "title", "From a plain client");
  await b.waitState("b to see the title", (s) => s.NOTES.title === "From a plain client");
  await a.waitState("a's echo", (s) => s.NOTES.title === "From a plain client");
});

test("actions without request ids change the shared list", async () => {
  a.action("NOTES", "add", { text: "Plain client note" });
  await b.waitState("b to see the note", (s) => texts(s).includes("Plain client note"));
  await b.waitState("b's toast", () => b.toasts.some((t) => t.type === "info" && t.message.endsWith("added “Plain client note”")));
  assert.equal(a.toasts.length, 0, "the author is not toasted");

  // Only the author renames or removes a note: a did not write b's rename.
  const note = b.state.NOTES.notes.find((n) => n.text === "Plain client note");
  a.action("NOTES", "rename", { id: note.id, text: "Renamed by a" });
  await b.waitState("b to see the rename", (s) => texts(s).includes("Renamed by a"));
  a.action("NOTES", "remove", { id: note.id });
  await b.waitState("b to see the removal", (s) => s.NOTES.notes.length === 2);
  assert.deepEqual(a.state.NOTES, b.state.NOTES);
});

test("refused writes roll back through the _SET that follows them", async () => {
  // ws-sync-react shows its optimistic value at once ...
  a.syncField("NOTES", "title", "t".repeat(61));
  assert.equal(a.state.NOTES.title.length, 61);
  // ... and the server's _SET after the (ignored) _ERROR puts it back.
  await a.waitState("the title to roll back", (s) => s.NOTES.title === "From a plain client");

  a.syncField("NOTES", "notes", []);
  await a.waitState("the list (emptied only by actions) to come back", (s) => s.NOTES.notes.length === 2);

  a.action("NOTES", "add", { text: "" });
  await a.waitState("three refusals", () => frameCodes(a).length === 3);
  assert.deepEqual(frameCodes(a), ["rejected", "read_only", "bad_params"]);
  assert.equal(b.state.NOTES.title, "From a plain client", "b never saw a refused value");
  assert.equal(b.unhandled.filter((f) => f.type === "_ERROR").length, 0, "refusals go to the writer only");
});

test("tasks start, report progress and cancel", async () => {
  a.startTask("VIEW", "review", { stepMs: 50 });
  await a.waitState("progress", (s) => s.VIEW.progress > 0 && s.VIEW.runningTasks.includes("review"));
  a.cancelTask("VIEW", "review");
  await a.waitState("the cancel", (s) => s.VIEW.runningTasks.length === 0 && s.VIEW.progress === 0);
  await a.waitState("the cancel toast", () => a.toasts.some((t) => t.type === "warning" && t.message.startsWith("Review cancelled at")));

  a.startTask("VIEW", "review", { stepMs: 1 });
  await a.waitState("the review's end", (s) => s.VIEW.lastReview.startsWith("2 notes") && s.VIEW.runningTasks.length === 0);
  await a.waitState("the done toast", () => a.toasts.some((t) => t.type === "success"));
  assert.equal(b.state.VIEW.lastReview, "", "b's VIEW is its own");
});

test("a reconnect with the same ids resumes the session", async () => {
  a.syncField("VIEW", "filter", "plain");
  await a.waitState("the filter echo", (s) => s.VIEW.filter === "plain");
  await a.close();
  b.action("NOTES", "add", { text: "While a was away" });
  await b.waitState("b's note", (s) => texts(s).includes("While a was away"));

  a = await connect(alice);
  assert.ok(texts(a.state).includes("While a was away"), "the _SET on reconnect carries the change");
  assert.equal(a.state.VIEW.filter, "plain", "the private VIEW was kept");
});

test("a second connection of one session replaces the first with _DISCONNECT", async () => {
  const again = await connect(alice);
  await a.waitState("the _DISCONNECT", () => a.disconnected !== undefined);
  await a.closed;
  assert.deepEqual(again.state.VIEW, a.state.VIEW, "the old connection's naive state matched the server's");
  a = again;
});

test("naively patched state equals a fresh client's full state", async () => {
  const fresh = await connect(ids());
  for (const c of [a, b]) assert.deepEqual(c.state.NOTES, fresh.state.NOTES);
});

// The writer has applied its own write (immer patches, at once) and ignores "v", so what the
// server echoes to it must be only what the server did beyond the write (here the computed
// count), and other tabs get the ordinary patch. ECHO is a key of the test hooks.
test("array writes leave the writer in the server's state", async () => {
  const isDeep = (x, y) => JSON.stringify(x) === JSON.stringify(y);
  const count = (s) => s.tags.length + s.doc.items.length;
  a.action("ECHO", "reset");
  for (const c of [a, b]) await c.waitState("ECHO reset", (s) => s.ECHO?.tags.join() === "a,b" && s.ECHO.count === 4);

  const scenarios = [
    ["push top-level", () => a.setState("ECHO", (d) => void d.tags.push("c")), { tags: ["a", "b", "c"], items: ["x", "y"] }],
    ["splice top-level", () => a.setState("ECHO", (d) => void d.tags.splice(0, 1)), { tags: ["b", "c"], items: ["x", "y"] }],
    ["replace top-level", () => a.setState("ECHO", { tags: [...a.state.ECHO.tags, "d"] }), { tags: ["b", "c", "d"], items: ["x", "y"] }],
    ["push nested", () => a.setState("ECHO", (d) => void d.doc.items.push("z")), { tags: ["b", "c", "d"], items: ["x", "y", "z"] }],
    ["splice nested", () => a.setState("ECHO", (d) => void d.doc.items.splice(0, 2)), { tags: ["b", "c", "d"], items: ["z"] }],
    ["replace nested", () => a.setState("ECHO", (d) => void (d.doc.items = ["n1", "n2"])), { tags: ["b", "c", "d"], items: ["n1", "n2"] }],
    [
      "five edits folded into one patch",
      () => {
        for (const t of ["e", "f", "g"]) a.setState("ECHO", (d) => void d.tags.push(t));
        a.setState("ECHO", (d) => void d.tags.splice(1, 1));
        a.setState("ECHO", (d) => void d.doc.items.unshift("m"));
      },
      { tags: ["b", "d", "e", "f", "g"], items: ["m", "n1", "n2"] },
    ],
  ];
  for (const [name, write, want] of scenarios) {
    write();
    a.sync("ECHO");
    const expected = { tags: want.tags, doc: { items: want.items } };
    await b.waitState(`${name}: the other tab`, (s) => isDeep(s.ECHO.tags, want.tags) && isDeep(s.ECHO.doc.items, want.items));
    await a.waitState(`${name}: the writer's echo (count)`, (s) => s.ECHO.count === count(expected));
    assert.deepEqual(a.state.ECHO, { ...expected, count: count(expected) }, name);
    assert.deepEqual(b.state.ECHO, a.state.ECHO, name);
  }

  // A server change to the same array published right before the write is processed: the
  // writer applies it on top of its write, and its echo then carries the array whole. (What
  // the array ends as is what immer's index-based patches make of it on the server's
  // array; the point is that the writer ends with exactly that.)
  for (let i = 0; i < 3; i++) {
    a.action("ECHO", "serverPush");
    a.setState("ECHO", (d) => void d.tags.splice(1, 0, `mine${i}`));
    a.sync("ECHO");
    await b.waitState(`crossing ${i}: the other tab`, (s) => s.ECHO.tags.includes(`mine${i}`));
    await a.waitState(`crossing ${i}: the writer equals the server`, (s) => isDeep(s.ECHO, b.state.ECHO));
  }
  const fresh = await connect(ids());
  await fresh.waitState("ECHO", (s) => s.ECHO);
  assert.deepEqual(a.state.ECHO, fresh.state.ECHO);
  assert.equal(a.state.ECHO.count, count(a.state.ECHO));
  assert.deepEqual(a.patchErrors, [], "every frame applied");
});
