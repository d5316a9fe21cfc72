// Prints the minified + gzipped size of the ESM bundle (React excluded: it is external).
// Run through `npm run size`, which builds first.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { transform } from "esbuild";

const src = readFileSync(new URL("../dist/index.js", import.meta.url), "utf8");
const { code } = await transform(src, { minify: true, format: "esm", target: "es2020" });
const gz = gzipSync(code, { level: 9 });
const kb = (n) => `${(n / 1024).toFixed(2)} KB`;
console.log(`dist/index.js: ${kb(src.length)} raw, ${kb(code.length)} minified, ${kb(gz.length)} minified+gzipped`);
const limit = 9 * 1024;
if (gz.length > limit) {
  console.error(`over the ${kb(limit)} budget`);
  process.exit(1);
}
