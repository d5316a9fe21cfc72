// Browser end-to-end test of resume and the offline queue: the notes example (its UI
// persists state in sessionStorage), the real Go server and Debian's Chromium. A tab
// reloaded while its connection is down comes back from its persisted state with only the
// patches it missed; an edit made while offline is replayed after the reconnect, with an id
// and the version it was made against, and acknowledged.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launchBrowser, openTab } from "./lib/browser.mjs";
import { artifactsDir, startServer } from "./lib/server.mjs";
import { eventually } from "./lib/wait.mjs";

let server, browser, a, b;
const pageErrors = [];

/** Every text frame of page's WebSockets, in order, parsed, with its direction; reloads included. */
function recordFrames(page) {
  const frames = [];
  page.on("websocket", (ws) => {
    const push = (dir) => (f) => {
      if (typeof f.payload !== "string") return;
      try {
        frames.push({ dir, ...JSON.parse(f.payload) });
      } catch {
        // not JSON: not ours
      }
    };
    ws.on("framesent", push("sent"));
    ws.on("framereceived", push("received"));
  });
  return frames;
}

async function withScreenshots(name, fn) {
  try {
    await fn();
  } catch (e) {
    for (const tab of [a, b]) await tab?.page.screenshot({ path: join(artifactsDir, `failed-${name}-${tab.tag}.png`) }).catch(() => {});
    throw e;
  }
}

before(async () => {
  server = await startServer("resume");
  browser = await launchBrowser();
  a = await openTab(browser, server.url, "A", pageErrors);
  b = await openTab(browser, server.url, "B", pageErrors);
}, { timeout: 300_000 });

after(async () => {
  await browser?.close();
  const how = await server?.stop();
  assert.deepEqual(pageErrors, [], "uncaught errors in the page");
  assert.equal(how?.code, 0, "the server exits cleanly on SIGTERM");
});

test("a tab reloaded while its connection is down resumes with the patches it missed", { timeout: 60_000 }, () =>
  withScreenshots("reload", async () => {
    const frames = recordFrames(a.page);
    // The review task moves this tab's VIEW (progress) every 100 ms, with or without a connection.
    await a.button("Start review").click();
    await a.button("Cancel review").waitFor({ timeout: 5_000 });
    const { dropped } = await server.drop("A", 1_500);
    assert.equal(dropped, 1);
    await eventually("A to notice the drop", async () => (await a.status()) !== "open", 5_000);
    const before = frames.length;
    await a.page.reload(); // pagehide persists the state; the new page restores it and reconnects
    await eventually("the reloaded tab to reconnect", async () => (await a.status()) === "open", 15_000);
    await eventually("its resume to be answered", async () => frames.slice(before).some((f) => f.type === "_RESUMED"), 10_000);

    const after = frames.slice(before);
    const resume = after.find((f) => f.dir === "sent" && f.type === "_RESUME");
    assert.ok(resume, "the reloaded page sends _RESUME");
    assert.equal(typeof resume.data.VIEW?.v, "number", "with VIEW's version from sessionStorage");
    assert.equal(typeof resume.data.VIEW?.epoch, "string", "and its epoch");
    const resumed = after.find((f) => f.type === "_RESUMED");
    assert.ok(resumed.data.patched.includes("VIEW"), "VIEW resumed with patches");
    assert.ok(resumed.data.set.includes("NOTES"), "NOTES (an object with views, which keeps no history) came as a _SET");
    const upTo = after.indexOf(resumed);
    const viewFrames = after.slice(0, upTo).filter((f) => f.dir === "received" && f.type.endsWith(":VIEW"));
    assert.ok(viewFrames.length > 0, "the missed progress arrived");
    assert.ok(viewFrames.every((f) => f.type === "_PATCH:VIEW"), "as patches, no _SET:VIEW");
    for (let i = 1; i < viewFrames.length; i++) assert.equal(viewFrames[i].v, viewFrames[i - 1].v + 1, "one version at a time");
    assert.equal(viewFrames[0].v, resume.data.VIEW.v + 1, "starting right after the version the page held");

    // The task is still this session's: the reloaded tab can cancel it.
    await a.button("Cancel review").click();
    await a.button("Start review").waitFor({ timeout: 5_000 });
  }),
);

test("an edit made offline is replayed after the reconnect with its base, and acknowledged", { timeout: 60_000 }, () =>
  withScreenshots("offline", async () => {
    const frames = recordFrames(a.page);
    const { dropped } = await server.drop("A", 2_000);
    assert.equal(dropped, 1);
    await eventually("A to notice the drop", async () => (await a.status()) !== "open", 5_000);
    await a.title.fill("Written offline");
    await eventually("A to reconnect", async () => (await a.status()) === "open", 15_000);
    await eventually("B to see the offline edit", async () => (await b.title.inputValue()) === "Written offline", 10_000);

    const write = frames.find((f) => f.dir === "sent" && f.type === "_PATCH:NOTES" && f.data?.[0]?.value === "Written offline");
    assert.ok(write, "the queued write went out");
    assert.equal(typeof write.id, "string", "with an id");
    assert.equal(typeof write.base, "number", "and the version it was made against");
    await eventually("its _RESULT", async () => frames.some((f) => f.type === "_RESULT" && f.id === write.id), 5_000);
    const result = frames.find((f) => f.type === "_RESULT" && f.id === write.id);
    assert.equal(result.error, undefined, "accepted");
    assert.equal(typeof result.data.v, "number");
    assert.equal(await a.title.inputValue(), "Written offline");
  }),
);
