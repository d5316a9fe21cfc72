// getToken: the token rides the subprotocol on every connect, is refreshed over the socket
// when the server announces the expiry, and a 4005 close reconnects with a fresh one.
import { describe, expect, it, vi } from "vitest";
import { CloseCode, type SyncError } from "../src";
import { useServer } from "./helpers";
import { sleep } from "./server";

const { server, session, connect } = useServer();

// Tokens "t1", "t2", …: a new one per call.
function tokens(): { getToken: () => Promise<string>; calls: () => number } {
  let n = 0;
  return { getToken: () => Promise.resolve(`t${++n}`), calls: () => n };
}

describe("getToken", () => {
  it("offers the token as a subprotocol beside wssync on every connect", async () => {
    const t = tokens();
    const s = session({ getToken: t.getToken });
    const c0 = await connect(s);
    expect(c0.offered).toEqual(["wssync", "wssync.bearer.t1"]);
    expect(c0.ws.protocol).toBe("wssync"); // the test server selects the first offer, as wssync does
    c0.close(1001, "going away");
    const c1 = await server().connection(1);
    expect(c1.offered).toEqual(["wssync", "wssync.bearer.t2"]);
  });

  it("reconnects with a fresh token after a 4005 close, which is not terminal", async () => {
    const t = tokens();
    const s = session({ getToken: t.getToken });
    const c0 = await connect(s);
    c0.send({ type: "_AUTH_EXPIRED", data: { expires: Date.now() } });
    c0.close(CloseCode.TokenExpired, "token expired");
    const c1 = await server().connection(1);
    expect(c1.offered).toEqual(["wssync", "wssync.bearer.t2"]);
    await vi.waitFor(() => expect(s.getConnectionState().status).toBe("open"));
    expect(s.getConnectionState()).toMatchObject({ terminal: false, lastCloseCode: 4005 });
  });

  it("sends _AUTH with a fresh token when the server announces the expiry", async () => {
    const t = tokens();
    const s = session({ getToken: t.getToken });
    const c = await connect(s);
    c.send({ type: "_AUTH_EXPIRING", data: { expires: Date.now() + 30_000, refresh: true } });
    c.send({ type: "_AUTH_EXPIRING", data: { expires: Date.now() + 30_000, refresh: true } }); // one refresh at a time
    const auth = await c.nextOf("_AUTH");
    expect(auth.data).toEqual({ token: "t2" });
    expect(typeof auth.id).toBe("string");
    expect(await c.quiet()).toBe(true);
    expect(t.calls()).toBe(2);
    c.send({ type: "_RESULT", id: auth.id, data: { expires: Date.now() + 3_600_000 } });
    // A later announcement refreshes again.
    await sleep(10);
    c.send({ type: "_AUTH_EXPIRING", data: { expires: Date.now() + 30_000, refresh: true } });
    expect((await c.nextOf("_AUTH")).data).toEqual({ token: "t3" });
  });

  it("does not send _AUTH to a server that does not take it", async () => {
    const t = tokens();
    const s = session({ getToken: t.getToken });
    const c = await connect(s);
    c.send({ type: "_AUTH_EXPIRING", data: { expires: Date.now() + 30_000, refresh: false } });
    expect(await c.quiet()).toBe(true);
    expect(t.calls()).toBe(1);
  });

  it("reports a refused refresh and a failing getToken to onError", async () => {
    const errors: SyncError[] = [];
    let fail = false;
    const s = session({
      getToken: () => (fail ? Promise.reject(new Error("signed out")) : Promise.resolve("tok")),
      onError: (e) => errors.push(e),
    });
    const c = await connect(s);
    c.send({ type: "_AUTH_EXPIRING", data: { expires: Date.now() + 30_000, refresh: true } });
    const auth = await c.nextOf("_AUTH");
    c.send({ type: "_RESULT", id: auth.id, error: { code: "token_rejected", message: "the token was refused", event: "_AUTH" } });
    await vi.waitFor(() => expect(errors.map((e) => e.code)).toEqual(["token_rejected"]));
    fail = true;
    c.send({ type: "_AUTH_EXPIRING", data: { expires: Date.now() + 30_000, refresh: true } });
    await vi.waitFor(() => expect(errors.map((e) => e.code)).toEqual(["token_rejected", "token_failed"]));
    await expect(s.refreshToken()).rejects.toMatchObject({ code: "token_failed" });
  });

  it("retries with backoff when getToken fails while connecting", async () => {
    let n = 0;
    const s = session({ getToken: () => (++n < 3 ? Promise.reject(new Error("offline")) : Promise.resolve("ok")) });
    s.connect();
    const c = await server().connection(0);
    expect(c.offered).toEqual(["wssync", "wssync.bearer.ok"]);
    expect(n).toBe(3);
    await vi.waitFor(() => expect(s.getConnectionState().status).toBe("open"));
  });

  it("opens nothing for a token that arrives after disconnect()", async () => {
    let release: (t: string) => void = () => {};
    const s = session({ getToken: () => new Promise<string>((r) => (release = r)) });
    s.connect();
    s.connect(); // one wait, not two
    await sleep(10);
    s.disconnect();
    release("late");
    await sleep(100);
    expect(server().conns.length).toBe(0);
    expect(s.getConnectionState().status).toBe("closed");
  });
});
