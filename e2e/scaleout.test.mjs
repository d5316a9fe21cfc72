// Browser end-to-end test of the notes example run as two servers sharing one Redis
// (-redis), the deployment of docs/scale-out.md: tabs on different servers see each
// other's edits, and a tab whose connection the load balancer moves to the other server
// keeps its own session (its filter), restored from Redis.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launchBrowser, openTab } from "./lib/browser.mjs";
import { startBalancer, startRedis } from "./lib/scaleout.mjs";
import { startServer } from "./lib/server.mjs";
import { eventually } from "./lib/wait.mjs";

let redis, servers, balancer, browser;
const pageErrors = [];

before(async () => {
  redis = await startRedis();
  servers = [await startServer("node1", ["-redis", redis.addr]), await startServer("node2", ["-redis", redis.addr])];
  balancer = await startBalancer(servers.map((s) => s.url));
  browser = await launchBrowser();
}, { timeout: 300_000 });

after(async () => {
  await browser?.close();
  await balancer?.close();
  const exits = await Promise.all((servers ?? []).map((s) => s.stop()));
  await redis?.stop();
  assert.deepEqual(pageErrors, [], "uncaught errors in the page");
  for (const how of exits) assert.equal(how?.code, 0, "each server exits cleanly on SIGTERM");
});

test("tabs on two servers see each other's edits through Redis", { timeout: 60_000 }, async () => {
  const one = await openTab(browser, servers[0].url, "on-node1", pageErrors);
  const two = await openTab(browser, servers[1].url, "on-node2", pageErrors);

  await one.newNote.fill("Written on node one");
  await one.button("Add").click();
  await eventually("node two's tab to show node one's note", async () => (await two.notes()).includes("Written on node one"));

  await two.title.fill("Shared across servers");
  await eventually("node one's tab to show node two's title", async () => (await one.title.inputValue()) === "Shared across servers");
  await one.page.context().close();
  await two.page.context().close();
});

test("a tab moved to the other server keeps its session", { timeout: 60_000 }, async () => {
  const tab = await openTab(browser, balancer.url, "behind-balancer", pageErrors);
  await tab.filter.fill("node");
  await eventually("the filter to be sent", async () => (await tab.filter.getAttribute("aria-busy")) === "false");
  await eventually("the filter to come back from node one", async () => (await tab.filter.inputValue()) === "node");

  balancer.moveTo(1); // node one leaves the rotation: the tab reconnects, to node two
  // The reconnect can be quicker than one poll of the status, so the move is seen on the
  // servers: node two serves the tab, node one no longer does.
  await eventually("node two to serve the tab", async () => (await servers[1].stats()).connections === 1, 15_000);
  await eventually("node one to let the tab go", async () => (await servers[0].stats()).connections === 0);
  await eventually("the tab to be open", async () => (await tab.status()) === "open");
  // Node two never saw this session: it built it with the factory (filter "") and then
  // restored the tab's VIEW from Redis. Its _SET must keep the filter, not clear it.
  await new Promise((r) => setTimeout(r, 500)); // its _SET frames arrive on loopback well within this
  assert.equal(await tab.filter.inputValue(), "node");
  assert.deepEqual(await tab.notes(), ["Written on node one"], "the list is filtered by the restored filter");
  await tab.page.context().close();
});
