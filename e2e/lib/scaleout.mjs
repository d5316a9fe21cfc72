// The parts of a scale-out deployment for the browser test: Debian's redis-server on a free
// loopback port, and a small load balancer that forwards HTTP and WebSocket upgrades to
// one of several servers and can move every connection to another one.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { artifactsDir } from "./server.mjs";

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Starts redis-server without persistence; resolves once it accepts connections. */
export async function startRedis() {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "notes-redis-"));
  const log = createWriteStream(join(artifactsDir, "redis.log"));
  const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stderr.pipe(log, { end: false });
  const killOnExit = () => proc.kill("SIGKILL");
  process.on("exit", killOnExit);
  const exited = new Promise((resolve) => proc.once("close", resolve));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("redis-server did not start within 10 s; is Debian's redis-server installed?")), 10_000);
    proc.once("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`redis-server: ${e.message}; install Debian's redis-server (.ci/run does)`));
    });
    createInterface({ input: proc.stdout }).on("line", (line) => {
      log.write(line + "\n");
      if (line.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    addr: `127.0.0.1:${port}`,
    async stop() {
      proc.kill("SIGTERM");
      await exited;
      process.off("exit", killOnExit);
      log.end();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A load balancer on a free loopback port that sends every request and WebSocket upgrade
 * to targets[current]. moveTo(i) makes target i current and cuts every proxied
 * connection, as a balancer does when it takes a server out of rotation.
 */
export async function startBalancer(targets) {
  let current = 0;
  const open = new Set();
  const target = () => new URL(targets[current]);
  const cutAll = () => {
    for (const { socket, up } of open) {
      socket.destroy();
      up.destroy();
    }
    open.clear();
  };
  const server = http.createServer((req, res) => {
    const t = target();
    const up = http.request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  server.on("upgrade", (req, socket, head) => {
    const t = target();
    const up = net.connect(Number(t.port), t.hostname, () => {
      let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(raw + "\r\n");
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    const pair = { socket, up };
    open.add(pair);
    const drop = () => {
      socket.destroy();
      up.destroy();
      open.delete(pair);
    };
    socket.on("error", drop);
    up.on("error", drop);
    socket.on("close", drop);
    up.on("close", drop);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    moveTo(i) {
      current = i;
      cutAll();
    },
    close: () =>
      new Promise((resolve) => {
        cutAll();
        server.close(resolve);
        server.closeAllConnections();
      }),
  };
}
