// Every scenario file shipped under scenarios/ (the examples and the litmus library, at any
// depth) must load: a file that does not is an input error for every user of `faultline check`.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { loadScenario } from "../../src/scenarios/loader.js";

const ROOT = join(import.meta.dirname, "..", "..");
const SCENARIOS = join(ROOT, "scenarios");

/** The `*.json` files under `dir`, as paths relative to the repository root, in sorted order. */
function scenarioFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".json"))
    .map((name) => relative(ROOT, join(dir, name)))
    .sort();
}

const files = scenarioFiles(SCENARIOS);

describe("the scenario library", () => {
  it("has scenario files", () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)("%s loads", (file) => {
    const text = readFileSync(join(ROOT, file), "utf8");
    expect(() => loadScenario(text, file)).not.toThrow();
  });
});
