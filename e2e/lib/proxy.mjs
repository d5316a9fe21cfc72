// A TCP proxy on a free loopback port in front of a server, for cutting connections the way a
// laptop lid or a Wi-Fi switch does: `blackhole()` stops forwarding on the open connections in
// both directions without closing them, so neither end sees a FIN, RST or close frame. New
// connections are forwarded as before.
import { createServer, connect } from "node:net";

export async function startProxy(targetUrl) {
  const target = new URL(targetUrl);
  const pairs = new Set();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    const pair = { client, upstream, dead: false };
    pairs.add(pair);
    const forward = (from, to) =>
      from.on("data", (chunk) => {
        if (!pair.dead) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // A black-holed pair stays open until close(): an end that closes is not told.
    client.on("close", () => pair.dead || end());
    upstream.on("close", () => pair.dead || end());
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    /** Stops forwarding on every open connection; returns how many. */
    blackhole() {
      let n = 0;
      for (const p of pairs) if (!p.dead) (p.dead = true), n++;
      return n;
    },
    /** Connections currently forwarded. */
    live: () => [...pairs].filter((p) => !p.dead).length,
    close() {
      for (const p of pairs) p.client.destroy(), p.upstream.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
