// Lint rules of @wssync/react: `npm run lint` (part of `make test`; warnings fail it too).
// typescript-eslint's type-checked recommended set over sources, tests and configs, plus the
// Rules of Hooks for the React layer.
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["dist/", "node_modules/"] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["*.js", "scripts/*.mjs"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    // Components and hooks: src/ and the .tsx tests. The .ts tests have no components;
    // their `useServer` is a test fixture, not a React hook.
    files: ["src/**/*.{ts,tsx}", "test/**/*.tsx"],
    plugins: { "react-hooks": reactHooks },
    // Only the two classic rules. The plugin's React Compiler rules (refs, immutability,
    // globals) reject what useSynced does on purpose: it fills per-store caches while
    // rendering and reads latest-value refs inside callbacks; the package is not built
    // with the compiler.
    rules: {
      "react-hooks/rules-of-hooks": "error",
      "react-hooks/exhaustive-deps": "warn",
    },
  },
  {
    // Plain JavaScript (this file, scripts/): no type information, Node's globals.
    files: ["**/*.js", "**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { console: "readonly", process: "readonly", URL: "readonly" } },
  },
);
