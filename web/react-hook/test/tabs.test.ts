// Duplicated tabs: a copy of sessionStorage must not take its original's session over.
import { describe, expect, it, vi } from "vitest";
import { SESSION_ID_KEY, type Session, type SessionOptions, type WebSocketConstructor } from "../src";
import { useServer } from "./helpers";
import { type Conn, WS } from "./server";

// One tab's sessionStorage; `copy` is what a duplicated tab (or a reload) starts with.
class TabStorage {
  readonly m: Map<string, string>;
  constructor(from?: TabStorage) {
    this.m = new Map(from?.m);
  }
  getItem(k: string): string | null {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.m.set(k, v);
  }
  copy(): Storage {
    return new TabStorage(this) as unknown as Storage;
  }
  id(): string {
    return JSON.parse(this.m.get(SESSION_ID_KEY) ?? "null") as string;
  }
}
const tab = (from?: Storage): TabStorage & Storage => new TabStorage(from as unknown as TabStorage) as TabStorage & Storage;

describe("duplicated tabs", () => {
  const { server, session, connect } = useServer();
  // Connects Sessions started together; resolves with their connections in any order.
  const together = async (...ss: Session[]): Promise<Conn[]> => {
    const n = server().conns.length;
    for (const s of ss) s.connect();
    await server().connection(n + ss.length - 1);
    for (const s of ss) await vi.waitFor(() => expect(s.getConnectionState().status).toBe("open"));
    return server().conns.slice(n);
  };
  const user = new TabStorage() as unknown as Storage;
  const open = (t: Storage, o: Partial<SessionOptions> = {}): Session => session({ wsAuth: true, idStorage: { user, session: t }, ...o });
  const ids = async (c: Conn): Promise<{ user: string; session: string }> => {
    c.send({ type: "_REQUEST_USER_SESSION" });
    const f = await c.next();
    expect(f.type).toBe("_USER_SESSION");
    return f.data as { user: string; session: string };
  };

  it("gives the duplicate a fresh session id and leaves the original's alone", async () => {
    const t1 = tab();
    const s1 = open(t1);
    const a = await ids(await connect(s1));
    const t2 = tab(t1); // duplicated: sessionStorage copied, same session id
    expect(t2.id()).toBe(a.session);
    const s2 = open(t2);
    const b = await ids(await connect(s2));
    expect(b.user).toBe(a.user); // localStorage is shared: same user
    expect(b.session).not.toBe(a.session);
    expect(t2.id()).toBe(b.session); // a reload of the duplicate keeps its new id
    expect(t1.id()).toBe(a.session);
    expect(s1.getConnectionState().status).toBe("open");

    // A third copy, of the duplicate, is told apart from both.
    const s3 = open(tab(t2));
    const c = await ids(await connect(s3));
    expect(new Set([a.session, b.session, c.session]).size).toBe(3);
  });

  it("keeps the id on a reload: the old document is gone, nobody answers", async () => {
    const t1 = tab();
    const s1 = open(t1);
    const a = await ids(await connect(s1));
    s1.disconnect(); // the old document unloads
    const s2 = open(tab(t1));
    expect((await ids(await connect(s2))).session).toBe(a.session);
  });

  it("does not count Sessions of one document as duplicates", async () => {
    const t1 = tab();
    const s1 = open(t1);
    const a = await ids(await connect(s1));
    const s2 = open(t1); // same sessionStorage object: another Session of the same page
    expect((await ids(await connect(s2))).session).toBe(a.session);
  });

  it("gives all Sessions of one duplicate the same fresh id", async () => {
    const t1 = tab();
    const a = await ids(await connect(open(t1)));
    const t2 = tab(t1);
    const [x, y] = [open(t2), open(t2)];
    const [cx, cy] = (await together(x, y)) as [Conn, Conn];
    const [bx, by] = [await ids(cx), await ids(cy)];
    expect(bx.session).not.toBe(a.session);
    expect(by.session).toBe(bx.session);
  });

  it("copies that start together do not share an id", async () => {
    const t0 = tab();
    t0.setItem(SESSION_ID_KEY, JSON.stringify("copied"));
    const [s1, s2] = [open(tab(t0)), open(tab(t0))];
    const [c1, c2] = (await together(s1, s2)) as [Conn, Conn];
    expect((await ids(c1)).session).not.toBe((await ids(c2)).session);
  });

  it("answers again after a reconnect, and stops answering after disconnect()", async () => {
    const t1 = tab();
    const s1 = open(t1);
    const c1 = await connect(s1);
    const a = await ids(c1);
    c1.close(1001); // reconnects, still holding the id
    await server().connection(1);
    await vi.waitFor(() => expect(s1.getConnectionState().status).toBe("open"));
    const b = await ids(await connect(open(tab(t1))));
    expect(b.session).not.toBe(a.session);
    s1.disconnect();
    const c = await ids(await connect(open(tab(t1))));
    expect(c.session).toBe(a.session); // nobody holds it any more
  });

  it("leaves no channel behind after connect, disconnect and connect while waiting", async () => {
    const t1 = tab();
    t1.setItem(SESSION_ID_KEY, JSON.stringify("restarted"));
    const s1 = open(t1);
    s1.connect();
    s1.disconnect();
    const c = await connect(s1); // the first wait's answer arrives too: it must not hold twice
    expect((await ids(c)).session).toBe("restarted");
    s1.disconnect();
    expect((await ids(await connect(open(tab(t1))))).session).toBe("restarted"); // nobody answers
  });

  it("without BroadcastChannel keeps the stored id and connects at once", async () => {
    vi.stubGlobal("BroadcastChannel", undefined);
    try {
      const t1 = tab();
      const a = await ids(await connect(open(t1)));
      const b = await ids(await connect(open(tab(t1))));
      expect(b.session).toBe(a.session); // the old behaviour: nothing to ask with
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("tabWaitMs: 0 disables the check", async () => {
    const t1 = tab();
    const a = await ids(await connect(open(t1)));
    const b = await ids(await connect(open(tab(t1), { tabWaitMs: 0 })));
    expect(b.session).toBe(a.session);
  });

  // The delay the check adds before the socket is made: none without a stored id, an answer's
  // round trip for a duplicate, tabWaitMs when nobody answers (a reload).
  it("bounds the delay before the first socket by tabWaitMs", async () => {
    let made = 0;
    class Timed extends WS {
      constructor(url: string, protocols?: string[]) {
        super(url, protocols);
        made = performance.now();
      }
    }
    const delay = async (t: Storage): Promise<{ s: Session; ms: number }> => {
      const s = open(t, { tabWaitMs: 50, WebSocketImpl: Timed as unknown as WebSocketConstructor });
      const t0 = performance.now();
      await connect(s);
      return { s, ms: made - t0 };
    };
    const runs: { fresh: number; dup: number; reload: number }[] = [];
    for (let i = 0; i < 5; i++) {
      const first = tab();
      const { s, ms: fresh } = await delay(first);
      const { ms: dup } = await delay(tab(first));
      s.disconnect(); // the original unloads; its copy below is a reload
      const { ms: reload } = await delay(tab(first));
      runs.push({ fresh, dup, reload });
    }
    const med = (k: "fresh" | "dup" | "reload"): string => {
      const v = runs.map((r) => r[k]).sort((a, b) => a - b);
      return `${(v[2] as number).toFixed(1)} ms (${(v[0] as number).toFixed(1)}–${(v[4] as number).toFixed(1)})`;
    };
    console.log(`delay before the first socket, median (range) of 5: no stored id ${med("fresh")}, duplicate ${med("dup")}, reload ${med("reload")}`);
    for (const r of runs) {
      expect(r.fresh).toBeLessThan(20);
      expect(r.dup).toBeLessThan(50); // answered before the wait ends
      expect(r.reload).toBeGreaterThanOrEqual(49); // nobody answers: the full wait...
      expect(r.reload).toBeLessThan(50 + 100); // ...and not much more on a loaded machine
    }
  });
});
