// Fails when the published declarations (dist/*.d.ts) expose an internal entry point: a
// member whose name starts with "_", or a declaration marked @internal (the build strips
// none, so it would ship). The Session reaches a key's frame handlers through a
// module-private inbox instead. Run by `npm run build` after tsup.
import { readFileSync, readdirSync } from "node:fs";

const dir = new URL("../dist/", import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith(".d.ts") || f.endsWith(".d.cts"));
if (files.length === 0) {
  console.error("check-dts: no declarations in dist/");
  process.exit(1);
}
const bad = [];
for (const f of files) {
  readFileSync(new URL(f, dir), "utf8")
    .split("\n")
    .forEach((line, i) => {
      // A member or property declaration: indentation, modifiers, then a name starting with "_".
      const member = /^\s+(?:(?:readonly|static|protected|public|get|set)\s+)*_\w*\??\s*[(:<]/.test(line);
      if (member || line.includes("@internal")) bad.push(`${f}:${i + 1}: ${line.trim()}`);
    });
}
if (bad.length > 0) {
  console.error("check-dts: internal members in the published types:\n" + bad.join("\n"));
  process.exit(1);
}
console.log(`check-dts: ${files.join(", ")} expose no internal members`);
