import { afterEach, beforeEach, expect, vi } from "vitest";
import { Session, type SessionOptions } from "../src";
import { type Conn, TestServer, WS } from "./server";

/** Per-test server and sessions, torn down after each test. */
export function useServer(): {
  server: () => TestServer;
  session: (opts?: Partial<SessionOptions>) => Session;
  connect: (s: Session) => Promise<Conn>;
} {
  let server: TestServer | undefined;
  const sessions: Session[] = [];
  beforeEach(async () => {
    server = await TestServer.start();
  });
  afterEach(async () => {
    for (const s of sessions.splice(0)) s.disconnect();
    await server?.close();
  });
  const srv = (): TestServer => {
    if (!server) throw new Error("no server");
    return server;
  };
  return {
    server: srv,
    session: (opts = {}) => {
      const s = new Session({ url: srv().url, WebSocketImpl: WS, reconnect: { baseDelayMs: 20, maxDelayMs: 80 }, ...opts });
      sessions.push(s);
      return s;
    },
    // Connects and resolves with the server side once the client reports "open".
    connect: async (s: Session) => {
      const n = srv().conns.length;
      s.connect();
      const c = await srv().connection(n);
      await vi.waitFor(() => expect(s.getConnectionState().status).toBe("open"));
      return c;
    },
  };
}
