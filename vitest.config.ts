import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "threads",
    // Builds the browser viewer once, so that the report pages the tests open carry the viewer
    // of this source tree (npm install built it too, but maybe from older sources).
    globalSetup: ["test/viewer/build-viewer.ts"],
  },
});
