import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/core.ts"],
  format: ["esm", "cjs"],
  dts: true,
  tsconfig: "tsconfig.build.json",
  sourcemap: true,
  clean: true,
  target: "es2022",
  // React is the host's; never bundle it.
  external: ["react"],
  // Shared chunks for CJS too (ESM splits by default): require("@wssync/react") and
  // require("@wssync/react/core") then load one Session class, so instanceof and the
  // per-key stores agree whichever entry a module imports.
  splitting: true,
});
