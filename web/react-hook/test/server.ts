// A real WebSocket server on 127.0.0.1 (port 0) that tests script frame by frame.

import { type RawData, WebSocket, WebSocketServer } from "ws";
import type { WebSocketConstructor } from "../src";

export interface Frame {
  type: string;
  data?: unknown;
  v?: number;
  id?: string;
  error?: unknown;
  epoch?: string;
  base?: number;
}

/** `ws`'s client, typed as the Session expects. */
export const WS: WebSocketConstructor = WebSocket;

type Msg = { text: Frame } | { binary: Buffer };

/** One accepted connection, seen from the server. */
export class Conn {
  readonly messages: Msg[] = [];
  private waiters: (() => void)[] = [];
  private cursor = 0;
  closed = false;

  /** `offered`: the subprotocols the client offered (its Sec-WebSocket-Protocol header). */
  constructor(
    readonly ws: WebSocket,
    readonly offered: string[] = [],
  ) {
    ws.on("message", (data: RawData, isBinary: boolean) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      this.messages.push(isBinary ? { binary: buf } : { text: JSON.parse(buf.toString("utf8")) as Frame });
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  send(frame: Frame): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendBinary(bytes: Uint8Array): void {
    this.ws.send(bytes, { binary: true });
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }

  /** Text frames received so far. */
  get frames(): Frame[] {
    return this.messages.flatMap((m) => ("text" in m ? [m.text] : []));
  }

  /** The next message after the previous `next*` call (text or binary), waiting up to `ms`. */
  async nextMessage(ms = 2000): Promise<Msg> {
    const deadline = Date.now() + ms;
    while (this.cursor >= this.messages.length) {
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) throw new Error(`no message within ${ms} ms (closed=${this.closed})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.messages[this.cursor++] as Msg;
  }

  /** The next text frame (skipping nothing: a binary frame here is an error). */
  async next(ms = 2000): Promise<Frame> {
    const m = await this.nextMessage(ms);
    if (!("text" in m)) throw new Error("expected a text frame, got binary");
    return m.text;
  }

  /** Skips messages until a text frame of `type` arrives. */
  async nextOf(type: string, ms = 2000): Promise<Frame> {
    for (;;) {
      const m = await this.nextMessage(ms);
      if ("text" in m && m.text.type === type) return m.text;
    }
  }

  /** Resolves true if no new message arrives within `ms`. */
  async quiet(ms = 150): Promise<boolean> {
    const n = this.messages.length;
    await new Promise((r) => setTimeout(r, ms));
    return this.messages.length === n;
  }
}

/** The server; `onConnect` runs for each new connection before any test code sees it. */
export class TestServer {
  readonly conns: Conn[] = [];
  onConnect: ((c: Conn) => void) | undefined;
  /** Number of upcoming handshakes to refuse with HTTP 503 (the client never sees "open"). */
  refuseHandshakes = 0;
  /** Handshakes refused so far. */
  refused = 0;
  private waiters: (() => void)[] = [];

  private constructor(private readonly wss: WebSocketServer) {
    wss.on("connection", (ws, req) => {
      const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim()).filter(Boolean);
      const c = new Conn(ws, offered);
      this.conns.push(c);
      this.onConnect?.(c);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static start(onConnect?: (c: Conn) => void): Promise<TestServer> {
    return new Promise((resolve, reject) => {
      const wss = new WebSocketServer({
        host: "127.0.0.1",
        port: 0,
        // Called per handshake, after `s` below exists.
        verifyClient: (_info, cb) => {
          if (s.refuseHandshakes > 0) {
            s.refuseHandshakes--;
            s.refused++;
            cb(false, 503);
          } else cb(true);
        },
      });
      const s = new TestServer(wss);
      s.onConnect = onConnect;
      wss.once("listening", () => resolve(s));
      wss.once("error", reject);
    });
  }

  get url(): string {
    const addr = this.wss.address();
    if (addr === null || typeof addr === "string") throw new Error("unexpected address");
    return `ws://127.0.0.1:${addr.port}/ws`;
  }

  /** Waits for connection number `n` (0-based). */
  async connection(n: number, ms = 3000): Promise<Conn> {
    const deadline = Date.now() + ms;
    while (this.conns.length <= n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection ${n} did not arrive within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.conns[n] as Conn;
  }

  close(): Promise<void> {
    for (const c of this.conns) c.ws.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
