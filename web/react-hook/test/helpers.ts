import { afterEach, beforeEach, expect, vi } from "vitest";
import { type AnyParams, type ParamMap, Session, type SessionOptions, type SyncedKey } from "../src";
import { type Conn, TestServer, WS } from "./server";

/**
 * Per-test server and sessions, torn down after each test. Sessions do not ping unless a test
 * asks (pingIntervalMs), so frame-by-frame assertions see only the frames they test.
 */
export function useServer(): {
  server: () => TestServer;
  session: (opts?: Partial<SessionOptions>) => Session;
  connect: (s: Session) => Promise<Conn>;
  live: <S, A extends ParamMap = AnyParams, T extends ParamMap = AnyParams>(
    key: string,
    initialState: S,
    set?: { data?: S; v?: number },
    opts?: Partial<SessionOptions>,
  ) => Promise<{ s: Session; k: SyncedKey<S, A, T>; c: Conn }>;
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
  const session = (opts: Partial<SessionOptions> = {}): Session => {
    const s = new Session({ url: srv().url, WebSocketImpl: WS, reconnect: { baseDelayMs: 20, maxDelayMs: 80 }, pingIntervalMs: 0, ...opts });
    sessions.push(s);
    return s;
  };
  // Connects and resolves with the server side once the client reports "open".
  const connect = async (s: Session): Promise<Conn> => {
    const n = srv().conns.length;
    s.connect();
    const c = await srv().connection(n);
    await vi.waitFor(() => expect(s.getConnectionState().status).toBe("open"));
    return c;
  };
  return {
    server: srv,
    session,
    connect,
    // A connected session whose store of `key` has applied the server's first _SET
    // (`set.data`, default initialState, at version `set.v`, default 1).
    live: async <S, A extends ParamMap = AnyParams, T extends ParamMap = AnyParams>(
      key: string,
      initialState: S,
      set: { data?: S; v?: number } = {},
      opts: Partial<SessionOptions> = {},
    ) => {
      const s = session(opts);
      const k = s.sync<S, A, T>(key, initialState);
      const c = await connect(s);
      c.send({ type: `_SET:${key}`, data: set.data ?? initialState, v: set.v ?? 1 });
      await vi.waitFor(() => expect(k.getSnapshot().loaded).toBe(true));
      return { s, k, c };
    },
  };
}
