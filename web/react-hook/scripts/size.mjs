// Prints the minified + gzipped size of each entry point, bundled with its shared chunks
// (React excluded: it is the host's), and fails over budget. Run through `npm run size`,
// which builds first. The core's budget is the project's 9 KB target; the React entry adds
// the hooks on top of it. Bundled for ES2022, as tsup builds dist: an older target would
// downlevel the classes' #private members into WeakMaps and measure code nobody ships.
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const budgets = [
  { entry: "core.js", limit: 9 * 1024 },
  { entry: "index.js", limit: 10 * 1024 },
];
const kb = (n) => `${(n / 1024).toFixed(2)} KB`;
let over = false;
for (const { entry, limit } of budgets) {
  const out = await build({
    entryPoints: [new URL(`../dist/${entry}`, import.meta.url).pathname],
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2022",
    external: ["react"],
    write: false,
  });
  const code = out.outputFiles[0].contents;
  const gz = gzipSync(code, { level: 9 }).length;
  console.log(`dist/${entry}: ${kb(code.length)} minified, ${kb(gz)} minified+gzipped (budget ${kb(limit)})`);
  if (gz > limit) {
    console.error(`dist/${entry} is over its ${kb(limit)} budget`);
    over = true;
  }
}
if (over) process.exit(1);
