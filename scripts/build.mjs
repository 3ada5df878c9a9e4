// Bundles the CLI into one file that plain `node` runs: dist/warm-reconcile.mjs.
import { build } from "esbuild"
import { chmod } from "node:fs/promises"

const outfile = "dist/warm-reconcile.mjs"
await build({
  entryPoints: ["src/bin.ts"],
  outfile,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  minifyWhitespace: false,
  legalComments: "none",
  // undici and other CommonJS dependencies call require(): give the ESM bundle one.
  banner: {
    js:
      "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);"
  },
  logLevel: "warning"
})
await chmod(outfile, 0o755)
