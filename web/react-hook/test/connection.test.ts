// Connection lifecycle against a real server: reconnect with backoff, terminal closes, wsAuth.
import { describe, expect, it, vi } from "vitest";
import { type ConnectionState, USER_ID_KEY, SESSION_ID_KEY, backoffDelay } from "../src";
import { useServer } from "./helpers";
import { sleep } from "./server";

const { server, session, connect } = useServer();

describe("backoffDelay", () => {
  it("is full jitter over min(max, base·2^(attempt-1))", () => {
    const top = () => 0.999999;
    expect([1, 2, 3, 4, 5, 6].map((a) => Math.ceil(backoffDelay(a, 100, 1000, top)))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelay(3, 100, 1000, () => 0)).toBe(0);
    expect(backoffDelay(2, 100, 1000, () => 0.5)).toBe(100);
    expect(backoffDelay(5000, 100, 1000, top)).toBeLessThanOrEqual(1000); // no overflow to NaN/Infinity
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(4, 50, 10_000);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(400);
    }
  });
});

describe("reconnect", () => {
  it("reconnects with growing backoff bounds and resets the attempt after an open", async () => {
    const states: ConnectionState[] = [];
    // random() = ~1 makes each delay its upper bound, so the growth is observable.
    const s = session({ reconnect: { baseDelayMs: 20, maxDelayMs: 50 }, random: () => 0.999 });
    s.subscribeConnection(() => states.push(s.getConnectionState()));
    const inits = vi.fn();
    s.registerInit(inits);
    const c0 = await connect(s);
    expect(inits).toHaveBeenCalledTimes(1);

    // Refuse the next two handshakes so the attempts count up.
    server().refuseHandshakes = 2;
    c0.close(1001, "going away");
    await server().connection(1, 3000);
    await vi.waitFor(() => expect(s.getConnectionState().status).toBe("open"));
    expect(inits).toHaveBeenCalledTimes(2); // init handlers run on every open

    const retries = states.filter((x) => x.retryInMs !== undefined);
    expect(retries.map((x) => x.attempt)).toEqual([1, 2, 3]);
    expect(retries.map((x) => x.retryInMs)).toEqual([19, 39, 49]); // 20, 40, then capped at 50
    expect(retries[0]?.lastCloseCode).toBe(1001);
    expect(server().refused).toBe(2);
    expect(retries[1]?.lastCloseCode).toBe(1006); // handshake refused: abnormal closure
    expect(states.some((x) => x.status === "connecting")).toBe(true);
    expect(s.getConnectionState()).toMatchObject({ status: "open", attempt: 0, terminal: false });

    // After the successful open the next failure starts again from attempt 1.
    states.length = 0;
    (await server().connection(1)).close(4001, "slow");
    await vi.waitFor(() => expect(states.find((x) => x.retryInMs !== undefined)).toBeDefined());
    expect(states.find((x) => x.retryInMs !== undefined)).toMatchObject({ attempt: 1, retryInMs: 19, lastCloseCode: 4001 });
    await server().connection(2, 3000);
  });

  it("reconnects when the server is not there yet", async () => {
    const s = session({ url: "ws://127.0.0.1:1/ws", reconnect: { baseDelayMs: 5, maxDelayMs: 10 } });
    s.connect();
    await vi.waitFor(() => expect(s.getConnectionState().attempt).toBeGreaterThanOrEqual(3));
    expect(s.getConnectionState().terminal).toBe(false);
    s.disconnect();
    const st = s.getConnectionState();
    await sleep(40);
    expect(s.getConnectionState()).toBe(st); // no retry after disconnect()
    expect(st.status).toBe("closed");
    expect(st.retryInMs).toBeUndefined();
  });

  it("does not reconnect after _DISCONNECT", async () => {
    const s = session();
    const c = await connect(s);
    c.send({ type: "_DISCONNECT", data: "replaced by a newer tab" });
    await sleep(10);
    c.close(4000, "replaced");
    await vi.waitFor(() => expect(s.getConnectionState().status).toBe("closed"));
    await sleep(150);
    expect(server().conns.length).toBe(1);
    expect(s.getConnectionState()).toMatchObject({
      status: "closed",
      terminal: true,
      lastCloseCode: 4000,
      lastCloseReason: "replaced by a newer tab",
    });
    expect(s.getConnectionState().retryInMs).toBeUndefined();
  });

  it("does not reconnect after _DISCONNECT even if the server closes with a normal code", async () => {
    const s = session();
    const c = await connect(s);
    c.send({ type: "_DISCONNECT", data: "bye" });
    c.close(1000);
    await vi.waitFor(() => expect(s.getConnectionState().status).toBe("closed"));
    await sleep(150);
    expect(server().conns.length).toBe(1);
  });

  it.each([4000, 4004, 1008])("does not reconnect after terminal close code %i", async (code) => {
    const s = session();
    const c = await connect(s);
    c.close(code, "terminal");
    await vi.waitFor(() => expect(s.getConnectionState().status).toBe("closed"));
    await sleep(150);
    expect(server().conns.length).toBe(1);
    expect(s.getConnectionState()).toMatchObject({ terminal: true, lastCloseCode: code });
  });

  it.each([1000, 1001, 1009, 1011, 4001, 4002, 4003])("reconnects after close code %i", async (code) => {
    const s = session();
    const c = await connect(s);
    c.close(code);
    await server().connection(1, 2000);
    await vi.waitFor(() => expect(s.getConnectionState().status).toBe("open"));
  });

  it("connect() after a terminal close starts again", async () => {
    const s = session();
    const c = await connect(s);
    c.close(4004);
    await vi.waitFor(() => expect(s.getConnectionState().terminal).toBe(true));
    await connect(s);
    expect(s.getConnectionState().terminal).toBe(false);
  });

  it("connect() while waiting for a retry connects at once", async () => {
    const s = session({ reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 }, random: () => 0.5 });
    const c = await connect(s);
    c.close(1001);
    await vi.waitFor(() => expect(s.getConnectionState().retryInMs).toBe(30_000));
    s.connect();
    await server().connection(1, 1000);
    await vi.waitFor(() => expect(s.getConnectionState().status).toBe("open"));
  });

  it("can turn reconnects off", async () => {
    const s = session({ reconnect: { enabled: false } });
    const c = await connect(s);
    c.close(1001);
    await vi.waitFor(() => expect(s.getConnectionState().status).toBe("closed"));
    await sleep(100);
    expect(server().conns.length).toBe(1);
  });

  it("the server gets a fresh _SET flow after reconnect", async () => {
    const s = session();
    const k = s.sync("NOTES", { n: 0 });
    server().onConnect = (c) => c.send({ type: "_SET:NOTES", data: { n: server().conns.length }, v: 1 });
    const c = await connect(s);
    await vi.waitFor(() => expect(k.state.n).toBe(1));
    c.close(1001);
    await vi.waitFor(() => expect(k.state.n).toBe(2));
  });
});

describe("wsAuth", () => {
  it("answers _REQUEST_USER_SESSION with persisted ids: user per browser, session per tab", async () => {
    localStorage.clear();
    sessionStorage.clear();
    const s1 = session({ wsAuth: true });
    const c1 = await connect(s1);
    c1.send({ type: "_REQUEST_USER_SESSION" });
    const f1 = await c1.next();
    expect(f1.type).toBe("_USER_SESSION");
    const ids = f1.data as { user: string; session: string };
    expect(ids.user).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids.session).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids.user).not.toBe(ids.session);
    // Stored as JSON strings, like ws-sync-react, so both clients share them.
    expect(JSON.parse(localStorage.getItem(USER_ID_KEY) ?? "null")).toBe(ids.user);
    expect(JSON.parse(sessionStorage.getItem(SESSION_ID_KEY) ?? "null")).toBe(ids.session);

    // Same tab, new Session (e.g. a page reload): same ids.
    const s2 = session({ wsAuth: true });
    const c2 = await connect(s2);
    c2.send({ type: "_REQUEST_USER_SESSION" });
    expect((await c2.next()).data).toEqual(ids);

    // Another tab: sessionStorage is per tab, localStorage is shared.
    const otherTab = new Map<string, string>();
    const tabStorage = {
      getItem: (k: string) => otherTab.get(k) ?? null,
      setItem: (k: string, v: string) => void otherTab.set(k, v),
    } as unknown as Storage;
    const s3 = session({ wsAuth: true, idStorage: { user: localStorage, session: tabStorage } });
    const c3 = await connect(s3);
    c3.send({ type: "_REQUEST_USER_SESSION" });
    const ids3 = (await c3.next()).data as { user: string; session: string };
    expect(ids3.user).toBe(ids.user);
    expect(ids3.session).not.toBe(ids.session);
  });

  it("stays silent without wsAuth, and hints once on the console what to set", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const s = session();
      const c = await connect(s);
      c.send({ type: "_REQUEST_USER_SESSION" });
      expect(await c.quiet(80)).toBe(true);
      expect(warn).toHaveBeenCalledTimes(1);
      const msg = String(warn.mock.calls[0]?.[0]);
      expect(msg).toContain("Manager");
      expect(msg).toContain("ids");
      expect(msg).toContain("set wsAuth");
    } finally {
      warn.mockRestore();
    }
  });

  it("keeps ids stable in memory when storage is unavailable", async () => {
    const s = session({ wsAuth: true, idStorage: { user: undefined, session: undefined } });
    const c = await connect(s);
    c.send({ type: "_REQUEST_USER_SESSION" });
    const a = (await c.next()).data;
    c.send({ type: "_REQUEST_USER_SESSION" });
    expect((await c.next()).data).toEqual(a);
  });
});
