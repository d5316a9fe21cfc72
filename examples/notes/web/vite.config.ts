// Builds the notes UI into dist/, which the Go server embeds (see ../assets.go).
//
// @wssync/react is compiled from its source (web/react-hook/src) through an alias rather
// than installed from a build of the package: a clean checkout builds this UI without
// building the library first, and the UI always matches the library beside it. The
// library has no runtime dependencies, and `dedupe` makes its `import "react"` resolve to
// this package's React, so there is exactly one React in the bundle.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  resolve: {
    alias: { "@wssync/react": fileURLToPath(new URL("../../../web/react-hook/src/index.ts", import.meta.url)) },
    dedupe: ["react", "react-dom"],
  },
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Small enough to commit and diff; no source maps in the committed build.
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev` serves the UI with hot reload; the Go server (`go run ./examples/notes`)
    // provides the WebSocket.
    proxy: {
      "/ws": { target: "ws://localhost:8080", ws: true }, // also /ws-admin, the admins' route
      "/api": { target: "http://localhost:8080" }, // the admin token
    },
  },
});
