// Liveness against a real socket: the heartbeat drops a connection that stops delivering
// frames, `online` and visibility wake it, a timer gap means sleep, and the pongs grade quality.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Conn } from "./server";
import { sleep } from "./server";
import { useServer } from "./helpers";

const { server, session, connect, live } = useServer();

// The server side stops reading and writing, as a peer behind a dead network does: the
// client gets no close, no error, no frame.
function goSilent(c: Conn): void {
  (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
}

// Answers every ping (after `delayMs`), except those `skip` picks (1-based count).
function autoPong(c: Conn, delayMs = 0, skip: (n: number) => boolean = () => false): void {
  let n = 0;
  c.ws.on("message", (raw: Buffer) => {
    const f = JSON.parse(raw.toString()) as { type: string; data: unknown };
    if (f.type !== "ping" || skip(++n)) return;
    setTimeout(() => c.closed || c.send({ type: "pong", data: f.data }), delayMs);
  });
}

function setVisibility(v: "visible" | "hidden"): void {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => v });
  document.dispatchEvent(new Event("visibilitychange"));
}

afterEach(() => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "visible" });
  vi.restoreAllMocks();
});

describe("heartbeat", () => {
  it("drops a socket that stops delivering frames within heartbeatTimeoutMs of a ping, and reconnects", async () => {
    const { s, c } = await live("NOTES", { n: 0 }, {}, { pingIntervalMs: 100, heartbeatTimeoutMs: 200 });
    await c.nextOf("ping");
    goSilent(c);
    const t0 = Date.now();
    await vi.waitFor(() => expect(s.getConnectionState().status).not.toBe("open"), { timeout: 2000, interval: 5 });
    const detected = Date.now() - t0;
    // Bound: the last ping left at most pingIntervalMs ago, and the timeout runs from it.
    expect(detected).toBeLessThanOrEqual(100 + 200 + 50);
    expect(s.getConnectionState().lastCloseReason).toBe("heartbeat timeout");
    await server().connection(1); // backoff ≤ 80 ms in these tests
    await vi.waitFor(() => expect(s.getConnectionState().status).toBe("open"));
  });

  it("keeps a connection whose server answers, and grades it good", async () => {
    server().onConnect = (c) => autoPong(c);
    const { s } = await live("NOTES", { n: 0 }, {}, { pingIntervalMs: 40, heartbeatTimeoutMs: 60 });
    await sleep(400);
    expect(server().conns).toHaveLength(1);
    const st = s.getConnectionState();
    expect(st.status).toBe("open");
    expect(st.quality).toBe("good");
    expect(st.missedPongs).toBe(0);
    expect(st.jitterMs).toBeGreaterThanOrEqual(0);
  });

  it("heartbeatTimeoutMs: 0 never drops", async () => {
    const { s, c } = await live("NOTES", { n: 0 }, {}, { pingIntervalMs: 30, heartbeatTimeoutMs: 0 });
    await c.nextOf("ping");
    goSilent(c);
    await sleep(300);
    expect(s.getConnectionState().status).toBe("open");
  });

  it("a ping tick far later than due (a sleeping machine) drops the socket at once", async () => {
    server().onConnect = (c) => autoPong(c);
    const { s } = await live("NOTES", { n: 0 }, {}, { pingIntervalMs: 40, heartbeatTimeoutMs: 5000 });
    await sleep(100);
    const real = Date.now.bind(Date);
    vi.spyOn(Date, "now").mockImplementation(() => real() + 60_000); // the clock jumped: timers were frozen
    await vi.waitFor(() => expect(s.getConnectionState().lastCloseReason).toBe("asleep"), { timeout: 1000, interval: 5 });
    await server().connection(1);
  });
});

describe("quality", () => {
  // Pings slower than the delay, so none overlaps: only `skip` misses pongs.
  const grade = async (delayMs: number, skip?: (n: number) => boolean): Promise<string | undefined> => {
    server().onConnect = (c) => autoPong(c, delayMs, skip);
    const { s } = await live("NOTES", { n: 0 }, {}, { pingIntervalMs: delayMs + 60, heartbeatTimeoutMs: 5000 });
    await vi.waitFor(() => expect(s.getConnectionState().quality).toBeDefined(), { timeout: 3000 });
    return s.getConnectionState().quality;
  };
  it("is good under 150 ms", async () => expect(await grade(0)).toBe("good"));
  it("is fair from 150 ms", async () => expect(await grade(200)).toBe("fair"));
  it("is fair with one pong missing", async () => expect(await grade(0, (n) => n === 1)).toBe("fair"));
  it("is poor with two pongs missing", async () => expect(await grade(0, (n) => n <= 2)).toBe("poor"));
  it("is poor from 400 ms", async () => {
    server().onConnect = (c) => autoPong(c, 450);
    const { s } = await live("NOTES", { n: 0 }, {}, { pingIntervalMs: 1000, heartbeatTimeoutMs: 5000 });
    await vi.waitFor(() => expect(s.getConnectionState().quality).toBe("poor"), { timeout: 3000 });
    expect(s.getConnectionState().rttMs).toBeGreaterThanOrEqual(400);
  });
});

describe("wake", () => {
  const slowRetry = { reconnect: { baseDelayMs: 10_000, maxDelayMs: 10_000 }, random: () => 0.99 };

  it("`online` while waiting for a retry connects at once", async () => {
    const s = session(slowRetry);
    const c = await connect(s);
    c.close(1001);
    await vi.waitFor(() => expect(s.getConnectionState().retryInMs).toBeGreaterThan(5000));
    const t0 = Date.now();
    window.dispatchEvent(new Event("online"));
    await server().connection(1);
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it("`online` while open probes the socket with a ping", async () => {
    const { c } = await live("NOTES", { n: 0 }, {}, { pingIntervalMs: 60_000 });
    await c.nextOf("ping");
    window.dispatchEvent(new Event("online"));
    expect((await c.next(500)).type).toBe("ping");
  });

  it("becoming visible while waiting for a retry connects at once", async () => {
    const s = session(slowRetry);
    const c = await connect(s);
    setVisibility("hidden");
    c.close(1001);
    await vi.waitFor(() => expect(s.getConnectionState().retryInMs).toBeGreaterThan(5000));
    setVisibility("visible");
    await server().connection(1, 500);
  });

  it("becoming visible after a short hide probes; after a hide longer than the heartbeat bound, reconnects", async () => {
    server().onConnect = (c) => autoPong(c);
    const { s, c } = await live("NOTES", { n: 0 }, {}, { pingIntervalMs: 60_000, heartbeatTimeoutMs: 100 });
    await c.nextOf("ping");
    setVisibility("hidden");
    setVisibility("visible");
    expect((await c.nextOf("ping", 500)).type).toBe("ping");
    expect(server().conns).toHaveLength(1);
    // A bound of 60 s + 100 ms: fake the elapsed time rather than wait it.
    setVisibility("hidden");
    const real = Date.now.bind(Date);
    vi.spyOn(Date, "now").mockImplementation(() => real() + 61_000);
    setVisibility("visible");
    expect(s.getConnectionState().lastCloseReason).toBe("asleep");
    await server().connection(1);
  });
});

describe("listeners", () => {
  const spies = () => ({
    wAdd: vi.spyOn(window, "addEventListener"),
    wRem: vi.spyOn(window, "removeEventListener"),
    dAdd: vi.spyOn(document, "addEventListener"),
    dRem: vi.spyOn(document, "removeEventListener"),
  });
  const pairs = (add: { mock: { calls: unknown[][] } }) => add.mock.calls.map((c) => [c[0], c[1]]);

  it("a Session that never connects adds none (a discarded one leaks no pagehide listener)", () => {
    const sp = spies();
    session({ persist: true });
    expect(sp.wAdd).not.toHaveBeenCalled();
    expect(sp.dAdd).not.toHaveBeenCalled();
  });

  it("connect adds pagehide, online and visibilitychange; disconnect removes exactly those, and saves", async () => {
    const sp = spies();
    const s = session({ persist: true });
    s.sync("NOTES", { n: 0 });
    await connect(s);
    expect(pairs(sp.wAdd).map((p) => p[0]).sort()).toEqual(["online", "pagehide"]);
    expect(pairs(sp.dAdd).map((p) => p[0])).toEqual(["visibilitychange"]);
    sessionStorage.clear();
    s.disconnect();
    expect(pairs(sp.wRem)).toEqual(pairs(sp.wAdd));
    expect(pairs(sp.dRem)).toEqual(pairs(sp.dAdd));
    expect(sessionStorage.getItem("wssync:" + s.url)).not.toBeNull();
  });

  it("a terminal close removes them too, and a later connect adds them once again", async () => {
    const sp = spies();
    const s = session();
    const c = await connect(s);
    c.close(4000, "opened elsewhere");
    await vi.waitFor(() => expect(s.getConnectionState().terminal).toBe(true));
    expect(pairs(sp.wRem)).toEqual(pairs(sp.wAdd));
    expect(pairs(sp.dRem)).toEqual(pairs(sp.dAdd));
    await connect(s);
    expect(sp.wAdd).toHaveBeenCalledTimes(2); // online only: no persist, no pagehide
    s.disconnect();
    expect(sp.wRem).toHaveBeenCalledTimes(2);
  });
});
