// Token authentication in a real browser: headless Chromium offers an HS256 token as the
// subprotocol "wssync.bearer.TOKEN" beside "wssync" (a browser cannot set headers on a
// WebSocket), the server (e2e/authserver, package wsauth) selects "wssync", and the page
// gets the token's identity; a refreshed token keeps the socket open past the first one's
// expiry, and an expired one closes it with 4005.
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { launchBrowser } from "./lib/browser.mjs";
import { startServer } from "./lib/server.mjs";

const secret = randomBytes(32).toString("hex");
let server, browser, page;

const b64url = (s) => Buffer.from(s).toString("base64url");

/** An HS256 JWT for user and session sid, expiring in `seconds`. */
function token({ user = "ann", sid = "tab-1", roles = ["editor"], seconds = 600, key = secret } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(JSON.stringify({ sub: user, sid, roles, iss: "wssync-e2e", aud: "wssync-e2e", iat: now, exp: now + seconds }));
  const sig = createHmac("sha256", key).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

before(async () => {
  server = await startServer("auth", [], { pkg: "./e2e/authserver", env: { WSSYNC_E2E_SECRET: secret } });
  browser = await launchBrowser();
  page = await browser.newPage();
  await page.goto(server.url); // the server's origin, which its origin check accepts
}, { timeout: 300_000 });

after(async () => {
  await browser?.close();
  const how = await server?.stop();
  assert.equal(how?.code, 0, "the server exits cleanly on SIGTERM");
});

/**
 * Opens a WebSocket in the page offering `protocols`, and resolves with what happened: the
 * selected protocol and the first PROFILE state if it opened, the close code otherwise.
 */
function openInPage(protocols) {
  return page.evaluate(
    ({ url, protocols }) =>
      new Promise((resolve) => {
        const ws = new WebSocket(url, protocols);
        ws.onmessage = (ev) => {
          const f = JSON.parse(ev.data);
          if (f.type === "_SET:PROFILE") {
            resolve({ opened: true, protocol: ws.protocol, state: f.data });
            ws.close(1000);
          }
        };
        ws.onclose = (ev) => resolve({ opened: false, code: ev.code });
      }),
    { url: server.wsUrl, protocols },
  );
}

test("Chromium accepts the upgrade with a subprotocol token; the server selects wssync", { timeout: 30_000 }, async () => {
  const got = await openInPage(["wssync", "wssync.bearer." + token()]);
  assert.deepEqual(got, { opened: true, protocol: "wssync", state: { user: "ann", roles: ["editor"] } });
});

test("a token signed with another key, or an expired one, never opens the socket", { timeout: 30_000 }, async () => {
  for (const bad of [token({ key: "another key of at least thirty-two bytes" }), token({ seconds: -60 })]) {
    const got = await openInPage(["wssync", "wssync.bearer." + bad]);
    assert.deepEqual(got, { opened: false, code: 1006 }); // HTTP 401: the handshake fails
  }
});

test("without the wssync subprotocol in the offer, the browser fails the upgrade", { timeout: 30_000 }, async () => {
  // The server reads the token and upgrades, but selects no subprotocol (it never echoes the
  // token): Chromium then fails the connection, which is why the client offers "wssync".
  const got = await openInPage(["wssync.bearer." + token()]);
  assert.deepEqual(got, { opened: false, code: 1006 });
});

test("a token refreshed over the socket keeps it open past the first expiry; an unrefreshed one closes with 4005", { timeout: 30_000 }, async () => {
  const first = token({ user: "bea", sid: "tab-2", seconds: 2 });
  const fresh = token({ user: "bea", sid: "tab-2", roles: ["admin"], seconds: 600 });
  const lone = token({ user: "cid", sid: "tab-3", seconds: 2 }); // exp is in whole seconds: 1 to 2 s left
  const got = await page.evaluate(
    ({ url, first, fresh, lone }) => {
      const refreshed = new Promise((resolve, reject) => {
        const ws = new WebSocket(url, ["wssync", "wssync.bearer." + first]);
        const seen = [];
        let expires = 0;
        ws.onmessage = (ev) => {
          const f = JSON.parse(ev.data);
          seen.push(f.type);
          if (f.type === "_AUTH_EXPIRING") {
            expires = f.data.expires;
            ws.send(JSON.stringify({ type: "_AUTH", id: "r1", data: { token: fresh } }));
          } else if (f.type === "_RESULT" && !f.error) {
            // Wait until after the first token's expiry, then ask for the state again.
            setTimeout(() => ws.send(JSON.stringify({ type: "_GET:PROFILE", data: {} })), expires - Date.now() + 500);
          } else if (f.type === "_SET:PROFILE" && seen.filter((t) => t === "_SET:PROFILE").length === 2) {
            resolve({ open: ws.readyState === WebSocket.OPEN, seen, pastExpiry: Date.now() > expires });
            ws.close(1000);
          }
        };
        ws.onclose = (ev) => reject(new Error(`closed ${ev.code} after ${seen.join(",")}`));
      });
      const expired = new Promise((resolve) => {
        const ws = new WebSocket(url, ["wssync", "wssync.bearer." + lone]);
        const seen = [];
        ws.onmessage = (ev) => seen.push(JSON.parse(ev.data).type);
        ws.onclose = (ev) => resolve({ code: ev.code, seen });
      });
      return Promise.all([refreshed, expired]);
    },
    { url: server.wsUrl, first, fresh, lone },
  );
  const [refreshed, expired] = got;
  assert.equal(refreshed.open, true);
  assert.equal(refreshed.pastExpiry, true);
  assert.deepEqual(refreshed.seen, ["_SET:PROFILE", "_AUTH_EXPIRING", "_RESULT", "_SET:PROFILE"]);
  assert.equal(expired.code, 4005);
  assert.deepEqual(expired.seen, ["_SET:PROFILE", "_AUTH_EXPIRING", "_AUTH_EXPIRED"]);
});
