// The application-level ping against a real socket: sent only to a server that shows it is
// wssync, RTT in the connection state, stopped when the server does not know it.
import { describe, expect, it, vi } from "vitest";
import { useServer } from "./helpers";

const { server, session, connect } = useServer();

describe("ping", () => {
  it("pings a server that sent a versioned frame, at the interval, and reports the round trip as rttMs", async () => {
    const s = session({ pingIntervalMs: 40 });
    s.sync("NOTES", { n: 0 });
    const c = await connect(s);
    expect(s.getConnectionState().rttMs).toBeUndefined();
    c.send({ type: "_SET:NOTES", data: { n: 1 }, v: 1 });
    const p = await c.next();
    expect(p.type).toBe("ping");
    expect(typeof p.data).toBe("number");
    c.send({ type: "pong", data: p.data });
    await vi.waitFor(() => expect(s.getConnectionState().rttMs).toBeGreaterThanOrEqual(0));
    expect(s.getConnectionState().status).toBe("open");
    expect((await c.next()).type).toBe("ping"); // the next one, an interval later
  });

  it("pings at once when the server selected the wssync subprotocol", async () => {
    const s = session({ pingIntervalMs: 10_000, getToken: () => "tok" });
    const c = await connect(s);
    expect(c.offered).toContain("wssync"); // the test server selects the first offer
    expect((await c.next()).type).toBe("ping");
  });

  it("never pings a server that shows nothing of wssync (a ws-sync server: no subprotocol, no versions)", async () => {
    const s = session({ pingIntervalMs: 20 });
    s.sync("NOTES", { n: 0 });
    const c = await connect(s);
    c.send({ type: "_SET:NOTES", data: { n: 1 } });
    expect(await c.quiet(150)).toBe(true);
  });

  it("stops for the connection when the server refuses ping, without telling onError, and tries again on the next", async () => {
    const onError = vi.fn();
    const s = session({ pingIntervalMs: 20, onError });
    s.sync("NOTES", { n: 0 });
    const c = await connect(s);
    c.send({ type: "_SET:NOTES", data: { n: 1 }, v: 1 });
    expect((await c.next()).type).toBe("ping");
    c.send({ type: "_ERROR", data: { code: "unknown_event", message: "no handler for ping", event: "ping" } });
    const n = c.frames.length;
    await c.quiet(120);
    expect(c.frames.length - n).toBeLessThanOrEqual(1); // at most one already under way
    expect(onError).not.toHaveBeenCalled();

    c.close(1001);
    const c1 = await server().connection(1);
    c1.send({ type: "_SET:NOTES", data: { n: 1 }, v: 2 });
    expect((await c1.nextOf("ping")).type).toBe("ping");
  });

  it("pingIntervalMs: 0 turns it off", async () => {
    const s = session({ pingIntervalMs: 0, getToken: () => "tok" });
    s.sync("NOTES", { n: 0 });
    const c = await connect(s);
    c.send({ type: "_SET:NOTES", data: { n: 1 }, v: 1 });
    expect(await c.quiet(100)).toBe(true);
  });
});
