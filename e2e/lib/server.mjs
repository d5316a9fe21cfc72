// Builds the notes example with `go build` and runs the binary on a free loopback port with
// NOTES_TEST_HOOKS=1, the way a person runs it, so the tests exercise the real server.
import { execFile, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const artifactsDir = fileURLToPath(new URL("../artifacts/", import.meta.url));

const run = promisify(execFile);

/**
 * Starts the example server with extraArgs (e.g. ["-redis", addr]). `name` names its log
 * file in artifacts/. `pkg` builds another server command instead (e.g. "./e2e/authserver"),
 * `env` adds to its environment.
 * Returns its base URL and helpers for the test hooks (see examples/notes/testhooks.go).
 */
export async function startServer(name, extraArgs = [], { pkg = "./examples/notes", env = {} } = {}) {
  await mkdir(artifactsDir, { recursive: true });
  const dir = await mkdtemp(join(tmpdir(), "notes-e2e-"));
  const bin = join(dir, "server");
  await run("go", ["build", "-o", bin, pkg], { cwd: repoRoot, timeout: 300_000 });

  const log = createWriteStream(join(artifactsDir, `${name}-server.log`));
  // Port 0: the kernel picks a free port and the server prints the address it got.
  const proc = spawn(bin, ["-addr", "127.0.0.1:0", ...extraArgs], {
    env: { ...process.env, NOTES_TEST_HOOKS: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stderr.pipe(log, { end: false });
  // Never leave a server behind, even when the test process dies before its after hook.
  const killOnExit = () => proc.kill("SIGKILL");
  process.on("exit", killOnExit);
  // "close", not "exit": it comes after the output streams ended, so no log line is lost.
  const exited = new Promise((resolve) => proc.once("close", (code, signal) => resolve({ code, signal })));

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the server did not report its address within 20 s")), 20_000);
    createInterface({ input: proc.stdout }).on("line", (line) => {
      log.write(line + "\n");
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the server exited early (code ${code}, signal ${signal}); see artifacts/${name}-server.log`));
    });
  });

  const hook = async (path, init) => {
    const res = await fetch(url + path, { ...init, signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    return res.json();
  };

  return {
    url,
    wsUrl: url.replace(/^http/, "ws") + "/ws",
    /** Cuts the TCP connections of `client`'s WebSockets and refuses its upgrades for holdMs. */
    drop: (client, holdMs = 0) => hook(`/_test/drop?client=${encodeURIComponent(client)}&holdMs=${holdMs}`, { method: "POST" }),
    /** The Manager's wssync.Stats. */
    stats: () => hook("/_test/stats"),
    /** SIGTERM (graceful shutdown), SIGKILL after 5 s; resolves with how it exited. */
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const killer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(killer);
      }
      process.off("exit", killOnExit);
      log.end();
      await rm(dir, { recursive: true, force: true });
      return exited;
    },
  };
}
