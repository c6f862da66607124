// The checker core runs in a browser worker, not only in Node (issue: "the core stays free of
// Node APIs, so it also runs in a browser worker"). Vite bundles browser_worker_entry.ts, with
// the core it imports, into one script; headless Chromium runs it as a Web Worker on a page
// that may not load anything, and checks a litmus scenario there. The result must be the one
// Node gives: the same executions, steps, findings and replay tokens, so a counterexample found
// in a browser replays with `faultline replay`.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { build, type Rollup } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CheckResult, checkScenario } from "../../src/scenarios/check.js";
import { loadScenario } from "../../src/scenarios/loader.js";

const CHROMIUM = "/usr/bin/chromium";
const SCENARIO = join(import.meta.dirname, "..", "..", "scenarios", "litmus", "l08-nopfn.json");
const SOURCE = "litmus:l08-nopfn";

/** The part of the DOM's Worker this test uses. */
type BrowserWorkerClass = new (
  url: string,
) => {
  onmessage: ((event: { data: string }) => void) | null;
  onerror: ((event: { message: string }) => void) | null;
  postMessage(message: unknown): void;
};

let browser: Browser;
let workerScript = "";

beforeAll(async () => {
  const output = (await build({
    configFile: false,
    logLevel: "silent",
    publicDir: false,
    build: {
      write: false,
      target: "es2022",
      minify: false,
      lib: {
        entry: join(import.meta.dirname, "browser_worker_entry.ts"),
        formats: ["iife"],
        name: "faultlineCheckWorker",
      },
    },
  })) as Rollup.RollupOutput | Rollup.RollupOutput[];
  const chunks = (Array.isArray(output) ? output : [output]).flatMap((o) => o.output);
  workerScript = chunks.map((c) => (c.type === "chunk" ? c.code : "")).join("\n");
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

describe("the checker core in a browser worker", () => {
  it("checks a litmus scenario in Chromium exactly as Node does", async () => {
    const text = readFileSync(SCENARIO, "utf8");
    const page = await browser.newPage();
    const requests: string[] = [];
    await page.route("**/*", (route) => {
      requests.push(route.request().url());
      return route.abort();
    });
    const json = await page.evaluate(
      ({ script, text, source }) =>
        new Promise<string>((resolve, reject) => {
          // The page's own Worker (this function runs in Chromium, typed here without the DOM).
          const { Worker } = globalThis as unknown as { Worker: BrowserWorkerClass };
          const url = URL.createObjectURL(new Blob([script], { type: "text/javascript" }));
          const worker = new Worker(url);
          worker.onmessage = (event) => resolve(event.data);
          worker.onerror = (event) => reject(new Error(event.message));
          worker.postMessage({ text, source });
        }),
      { script: workerScript, text, source: SOURCE },
    );
    await page.close();
    const inBrowser = JSON.parse(json) as CheckResult;
    const inNode = checkScenario(loadScenario(text, SOURCE), { source: SOURCE });
    expect(requests).toEqual([]);
    expect(inBrowser.findings.length).toBeGreaterThan(0);
    expect(inBrowser).toEqual(JSON.parse(JSON.stringify(inNode)));
  }, 120_000);
});
