// Fails when the committed build in dist/ is not what the sources build to, so the UI that
// `go run ./examples/notes` embeds cannot silently fall behind web/src or web/react-hook/src.
// Builds into a temporary directory (dist/ is left alone) and compares the two trees byte
// for byte; the Vite build is deterministic, so any difference means a stale dist/.
//   node scripts/check-dist.mjs        (npm run check, make example-check)
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";

const root = fileURLToPath(new URL("..", import.meta.url));
const committed = join(root, "dist");
const fresh = await mkdtemp(join(tmpdir(), "notes-dist-"));

async function files(dir) {
  const out = new Map();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      const path = join(e.parentPath, e.name);
      out.set(relative(dir, path), await readFile(path));
    }
  }
  return out;
}

try {
  await build({ root, logLevel: "warn", build: { outDir: fresh, emptyOutDir: true } });
  const [want, have] = await Promise.all([files(fresh), files(committed).catch(() => new Map())]);
  const problems = [];
  for (const [name, bytes] of want) {
    if (!have.has(name)) problems.push(`missing: dist/${name}`);
    else if (!bytes.equals(have.get(name))) problems.push(`differs: dist/${name}`);
  }
  for (const name of have.keys()) if (!want.has(name)) problems.push(`extra:   dist/${name}`);
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    console.error("examples/notes/web/dist is stale: run `npm run build` in examples/notes/web and commit dist/.");
    process.exitCode = 1;
  } else {
    console.log(`examples/notes/web/dist is up to date (${want.size} files).`);
  }
} finally {
  await rm(fresh, { recursive: true, force: true });
}
