// Runs built-in litmus scenarios as tests: each must match the expectation the catalogue gives,
// with a search that covered its whole space.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { checkScenario } from "../../src/scenarios/check.js";
import { loadScenario } from "../../src/scenarios/loader.js";
import type { Scenario } from "../../src/scenarios/scenario.js";

export const LITMUS_DIR = join(import.meta.dirname, "..", "..", "scenarios", "litmus");

/** Every litmus scenario whose file name matches `pattern`. */
export function litmus(pattern: RegExp): Array<{ file: string; scenario: Scenario }> {
  return readdirSync(LITMUS_DIR)
    .filter((f) => f.endsWith(".json") && pattern.test(f))
    .sort()
    .map((f) => {
      const file = join(LITMUS_DIR, f);
      return { file, scenario: loadScenario(readFileSync(file, "utf8"), file) };
    });
}

/** One test per scenario: the verdict matches the catalogue and the search was complete. */
export function litmusVerdicts(pattern: RegExp): void {
  for (const { file, scenario } of litmus(pattern)) {
    it(`${scenario.name}: ${JSON.stringify(scenario.expected)}`, () => {
      const r = checkScenario(scenario, { source: file });
      const kinds = r.findings.map((f) => f.kind).sort();
      expect({ complete: r.complete, kinds }).toEqual({
        complete: true,
        kinds:
          scenario.expected === "ok" || scenario.expected === null
            ? []
            : [...scenario.expected].sort(),
      });
      expect(r.matched).toBe(true);
    }, 180_000);
  }
}
