// Builds the browser viewer (src/viewer/browser/main.ts) into dist/viewer/viewer.js (one IIFE)
// and dist/viewer/viewer.css, which `faultline view` and `faultline check --html` inline into a
// self-contained report page. `npm run build` and `npm install` (prepare) run it.
import { defineConfig } from "vite";

export default defineConfig({
  publicDir: false,
  logLevel: "warn",
  build: {
    outDir: "dist/viewer",
    emptyOutDir: true,
    target: "es2022",
    minify: true,
    sourcemap: false,
    lib: {
      entry: "src/viewer/browser/main.ts",
      formats: ["iife"],
      name: "faultlineViewer",
      fileName: () => "viewer.js",
      cssFileName: "viewer",
    },
  },
});
