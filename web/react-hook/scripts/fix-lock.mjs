// Adds lock entries for platform-specific optional packages the registry mirror does not
// serve (npm then leaves them out of package-lock.json, and `npm ci` refuses the lock).
// Each added entry carries os/cpu/libc from its name, so npm skips it on other platforms
// and fetches it normally on the platform it is for. Run after `npm install` changes the lock:
//   node scripts/fix-lock.mjs
import { readFileSync, writeFileSync } from "node:fs";

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(file, "utf8"));
const pkgs = lock.packages;
const have = new Set(Object.keys(pkgs).map((k) => k.slice(k.lastIndexOf("node_modules/") + 13)));

const OS = ["android", "darwin", "freebsd", "linux", "openbsd", "openharmony", "win32", "sunos", "aix", "netbsd"];
const CPU = { arm: "arm", arm64: "arm64", x64: "x64", ia32: "ia32", loong64: "loong64", ppc64: "ppc64", riscv64: "riscv64", s390x: "s390x" };

let added = 0;
for (const [path, meta] of Object.entries(pkgs)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    if (have.has(name)) continue;
    const parts = name.split("/").pop().split("-");
    const os = parts.find((p) => OS.includes(p));
    const cpu = parts.map((p) => CPU[p]).find(Boolean);
    if (!os || !cpu) {
      console.warn(`skip ${name} (from ${path}): platform not recognised`);
      continue;
    }
    // Key order as npm writes it, so a later `npm install` leaves the file unchanged.
    const entry = {
      version,
      cpu: [cpu],
      dev: meta.dev === true ? true : undefined,
      libc: os === "linux" ? [parts.some((p) => p.startsWith("musl")) ? "musl" : "glibc"] : undefined,
      optional: true,
      os: [os],
    };
    pkgs[`node_modules/${name}`] = JSON.parse(JSON.stringify(entry));
    have.add(name);
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(file, JSON.stringify(lock, null, 2) + "\n");
console.log(`added ${added} lock entries`);
