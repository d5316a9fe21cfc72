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

  const note = b.state.NOTES.notes.find((n) => n.text === "Plain client note");
  b.action("NOTES", "rename", { id: note.id, text: "Renamed by b" });
  await a.waitState("a to see the rename", (s) => texts(s).includes("Renamed by b"));
  b.action("NOTES", "remove", { id: a.state.NOTES.notes[0].id });
  await a.waitState("a to see the removal", (s) => s.NOTES.notes.length === 2);
  assert.deepEqual(a.state.NOTES, b.state.NOTES);
});

test("refused writes roll back through the _SET that follows them", async () => {
  // ws-sync-react shows its optimistic value at once ...
  a.syncField("NOTES", "title", "t".repeat(61));
  assert.equal(a.state.NOTES.title.length, 61);
  // ... and the server's _SET after the (ignored) _ERROR puts it back.
  await a.waitState("the title to roll back", (s) => s.NOTES.title === "From a plain client");

  a.syncField("NOTES", "notes", []);
  await a.waitState("the read-only list to come back", (s) => s.NOTES.notes.length === 2);

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
