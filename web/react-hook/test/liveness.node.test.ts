// @vitest-environment node
// Without window or document (Node, workers): the heartbeat still drops a dead socket.
import { describe, expect, it, vi } from "vitest";
import { useServer } from "./helpers";

const { server, live } = useServer();

describe("liveness without window", () => {
  it("has no window, connects, and reconnects after a heartbeat timeout", async () => {
    expect(typeof (globalThis as { window?: unknown }).window).toBe("undefined");
    const { s, c } = await live("NOTES", { n: 0 }, {}, { pingIntervalMs: 50, heartbeatTimeoutMs: 100 });
    await c.nextOf("ping");
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await vi.waitFor(() => expect(s.getConnectionState().lastCloseReason).toBe("heartbeat timeout"), { timeout: 1000 });
    await server().connection(1);
    s.disconnect();
  });
});
