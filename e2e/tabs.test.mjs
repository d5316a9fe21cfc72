// Browser end-to-end test of liveness and duplicated tabs: the notes example, the real Go
// server and Debian's Chromium. A duplicated tab (it starts with a copy of its original's
// sessionStorage, so the same session id) takes a fresh id and both tabs stay connected and
// editable; a connection cut without a close frame is noticed by the heartbeat and
// reconnected within pingIntervalMs + heartbeatTimeoutMs.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launchBrowser, personContext } from "./lib/browser.mjs";
import { startProxy } from "./lib/proxy.mjs";
import { startServer } from "./lib/server.mjs";
import { eventually } from "./lib/wait.mjs";

let server, proxy, browser;
const pageErrors = [];

before(async () => {
  server = await startServer("tabs");
  proxy = await startProxy(server.url);
  browser = await launchBrowser();
}, { timeout: 300_000 });

after(async () => {
  await browser?.close();
  await proxy?.close();
  const how = await server?.stop();
  assert.deepEqual(pageErrors, [], "uncaught errors in the page");
  assert.equal(how?.code, 0, "the server exits cleanly on SIGTERM");
});

function tabOf(page, tag) {
  page.on("pageerror", (e) => pageErrors.push(`${tag}: ${e.message}`));
  const frames = [];
  page.on("websocket", (ws) => ws.on("framereceived", (f) => typeof f.payload === "string" && frames.push(f.payload)));
  return {
    tag,
    page,
    frames,
    status: () => page.getByTestId("connection").getAttribute("data-status"),
    sessionId: () => page.evaluate(() => JSON.parse(sessionStorage.getItem("_SESSION_ID") ?? "null")),
    notes: () => page.getByTestId("note").locator(".text").allTextContents(),
    async add(text) {
      await page.getByLabel("New note").fill(text);
      await page.getByRole("button", { name: "Add", exact: true }).click();
      await eventually(`${tag}'s add of “${text}” to be accepted`, async () => (await page.getByLabel("New note").inputValue()) === "");
    },
  };
}

test("a duplicated tab gets its own session and both stay connected and editable", { timeout: 60_000 }, async () => {
  const context = await personContext(browser, server.url, "dup");
  const a = tabOf(await context.newPage(), "original");
  await a.page.goto(server.url);
  await eventually("the original to connect", async () => (await a.status()) === "open");
  const id = await a.sessionId();
  assert.match(id, /^[0-9a-f-]{36}$/);

  // window.open copies the opener's sessionStorage into the new tab, as "Duplicate tab" does.
  const [popup] = await Promise.all([context.waitForEvent("page"), a.page.evaluate((u) => void window.open(u), server.url)]);
  const b = tabOf(popup, "duplicate");
  await eventually("the duplicate to connect", async () => (await b.status()) === "open", 15_000);
  const bid = await b.sessionId();
  assert.match(bid, /^[0-9a-f-]{36}$/);
  assert.notEqual(bid, id, "the duplicate took a fresh session id");
  assert.equal(await a.sessionId(), id, "the original kept its id");

  await a.add("from the original");
  await b.add("from the duplicate");
  for (const t of [a, b]) {
    await eventually(`${t.tag} to show both notes`, async () => {
      const n = await t.notes();
      return n.includes("from the original") && n.includes("from the duplicate");
    });
  }
  // Still connected a while later: the original was not replaced ("opened elsewhere", 4000).
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await a.status(), "open");
  assert.equal(await b.status(), "open");
  assert.ok(!a.frames.some((f) => f.includes('"_DISCONNECT"')), "the original got no _DISCONNECT");

  // A reload of the duplicate keeps its new id (nobody else holds it).
  await b.page.reload();
  await eventually("the reloaded duplicate to connect", async () => (await b.status()) === "open", 15_000);
  assert.equal(await b.sessionId(), bid);
  assert.equal(await a.status(), "open");
  await context.close();
});

test("a connection cut without a close frame is detected by the heartbeat and reconnected", { timeout: 60_000 }, async () => {
  const beat = 1_000; // ?heartbeat: pingIntervalMs = heartbeatTimeoutMs = 1 s, so the bound is 2 s
  const context = await personContext(browser, proxy.url, "cut");
  const t = tabOf(await context.newPage(), "cut");
  await t.page.goto(`${proxy.url}/?heartbeat=${beat}`);
  await eventually("the tab to connect through the proxy", async () => (await t.status()) === "open");
  const id = await t.sessionId();
  await new Promise((r) => setTimeout(r, 300)); // past the first ping's pong

  // The drop is recorded in the page as it happens: the reconnect backoff can be a few ms, so
  // polling the status from here can miss the whole closed-connecting-open run.
  await t.page.getByTestId("connection").evaluate((el) => {
    window.__leftOpenAt = 0;
    new MutationObserver(() => {
      if (!window.__leftOpenAt && el.getAttribute("data-status") !== "open") window.__leftOpenAt = Date.now();
    }).observe(el, { attributes: true, attributeFilter: ["data-status"] });
  });
  const cutAt = Date.now();
  assert.ok(proxy.blackhole() >= 1, "the proxy held the socket");
  const leftOpenAt = await eventually("the tab to notice the dead socket", () => t.page.evaluate(() => window.__leftOpenAt), 2 * beat + 2_000);
  const noticed = leftOpenAt - cutAt;
  await eventually("the tab to reconnect", async () => (await t.status()) === "open", 10_000);
  const back = Date.now() - cutAt;
  console.log(`cut without a close frame: noticed after ${noticed} ms, open again after ${back} ms (bound ${2 * beat} ms + backoff)`);
  assert.ok(noticed <= 2 * beat + 500, `noticed within pingIntervalMs + heartbeatTimeoutMs (${noticed} ms)`);
  assert.ok(noticed >= beat * 0.9, `not before the heartbeat could fire (${noticed} ms)`);
  assert.equal(proxy.live() >= 1, true, "a new connection goes through the proxy");
  assert.equal(await t.sessionId(), id, "same session after the reconnect");
  await t.add("after the cut");
  await context.close();
});
