// @vitest-environment node
// The framework-free entry point on its own: a Session and a SyncedKey from src/core.ts
// against the real ws server, the Svelte store example over it, and the built core carrying
// no React import (ESM and CJS), with one Session class shared by both CJS entry points.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { build } from "tsup";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { keyStore } from "../examples/svelte-store";
import { type KeySnapshot, Session, SyncedKey } from "../src/core";
import tsupConfig from "../tsup.config";
import { TestServer, WS } from "./server";

let server: TestServer;
const sessions: Session[] = [];
beforeEach(async () => {
  server = await TestServer.start();
});
afterEach(async () => {
  for (const s of sessions.splice(0)) s.disconnect();
  await server.close();
});
function session(): Session {
  const s = new Session({ url: server.url, WebSocketImpl: WS, reconnect: { baseDelayMs: 20, maxDelayMs: 80 }, pingIntervalMs: 0 });
  sessions.push(s);
  return s;
}

type Notes = { title: string; count: number };
const init: Notes = { title: "", count: 0 };

describe("Session and SyncedKey without React", () => {
  it("applies the server's state, sends a write as _PATCH and notifies subscribers", async () => {
    const s = session();
    const k = s.sync<Notes>("NOTES", init);
    expect(k).toBeInstanceOf(SyncedKey);
    const seen: string[] = [];
    const off = k.subscribe(() => seen.push(k.state.title));
    s.connect();
    const c = await server.connection(0);
    c.send({ type: "_SET:NOTES", data: { title: "a", count: 1 }, v: 1 });
    await vi.waitFor(() => expect(k.getSnapshot().loaded).toBe(true));
    expect(k.state).toEqual({ title: "a", count: 1 });

    k.sync({ title: "b" });
    expect(k.state.title).toBe("b"); // applied locally at once
    const f = await c.nextOf("_PATCH:NOTES");
    expect(f.data).toEqual([{ op: "replace", path: "/title", value: "b" }]);

    c.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/count", value: 2 }], v: 2 });
    await vi.waitFor(() => expect(k.state.count).toBe(2));
    off();
    expect(seen).toContain("a");
    expect(seen).toContain("b");
  });
});

describe("the Svelte store example", () => {
  it("calls run at once and on each change, writes through, and stops after unsubscribe", async () => {
    const s = session();
    const notes = keyStore(s, "NOTES", init);
    const values: KeySnapshot<Notes>[] = [];
    const unsubscribe = notes.subscribe((v) => values.push(v));
    expect(values).toHaveLength(1);
    expect(values[0]?.state).toEqual(init);

    s.connect();
    const c = await server.connection(0);
    c.send({ type: "_SET:NOTES", data: { title: "x", count: 5 }, v: 1 });
    await vi.waitFor(() => expect(values.at(-1)?.state.title).toBe("x"));

    notes.sync((prev) => ({ count: prev.count + 1 }));
    expect(values.at(-1)?.state.count).toBe(6);
    expect((await c.nextOf("_PATCH:NOTES")).data).toEqual([{ op: "replace", path: "/count", value: 6 }]);

    unsubscribe();
    const n = values.length;
    c.send({ type: "_PATCH:NOTES", data: [{ op: "replace", path: "/title", value: "y" }], v: 2 });
    await vi.waitFor(() => expect(s.sync<Notes>("NOTES", init).state.title).toBe("y"));
    expect(values).toHaveLength(n);
  });
});

describe("the built core", () => {
  let out = "";
  beforeAll(async () => {
    // Inside the package, so the built index.cjs resolves react from its node_modules.
    out = mkdtempSync(join(process.cwd(), ".core-build-"));
    // The package's own tsup config, without declarations (slow, and not what this checks).
    await build({ ...tsupConfig, dts: false, sourcemap: false, silent: true, outDir: out, config: false });
  }, 60_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  // The entry file plus every local chunk it reaches.
  function reachable(entry: string): string[] {
    const seen = new Set<string>();
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = readFileSync(join(out, file), "utf8");
      for (const m of src.matchAll(/(?:from\s*|require\()\s*["']\.\/([^"']+)["']/g)) walk(m[1] as string);
    };
    walk(entry);
    return [...seen];
  }
  const importsReact = (file: string): boolean => /(?:from\s*|require\(\s*|import\(\s*)["']react(?:\/[^"']*)?["']/.test(readFileSync(join(out, file), "utf8"));

  it("core.js and core.cjs reach no React import; index.js does import React", () => {
    for (const entry of ["core.js", "core.cjs"]) {
      const files = reachable(entry);
      expect(files.length).toBeGreaterThan(1); // the shared chunk is followed
      expect(files.filter(importsReact)).toEqual([]);
    }
    expect(reachable("index.js").some(importsReact)).toBe(true); // the check can see React
  });

  it("index.cjs and core.cjs share one Session class", () => {
    const require = createRequire(join(out, "index.cjs"));
    const full = require("./index.cjs") as { Session: unknown };
    const core = require("./core.cjs") as { Session: unknown; useSynced?: unknown };
    expect(core.Session).toBe(full.Session);
    expect(core.useSynced).toBeUndefined();
  });
});
