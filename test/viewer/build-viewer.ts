// Vitest global setup: builds the browser viewer (vite.config.ts) into dist/viewer before any
// test file runs.
import { join } from "node:path";
import { build } from "vite";

export default async function setup(): Promise<void> {
  await build({
    configFile: join(import.meta.dirname, "..", "..", "vite.config.ts"),
    logLevel: "warn",
  });
}
