// Runs built-in litmus scenarios as tests: each must match the expectation the catalogue gives,
// with a search that covered its whole space.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { checkScenario } from "../../src/scenarios/check.js";
import { loadScenario } from "../../src/scenarios/loader.js";
import type { Scenario } from "../../src/scenarios/scenario.js";

export const LITMUS_DIR = join(import.meta.dirname, "..", "..", "scenarios", "litmus");
export const LARGE_DIR = join(import.meta.dirname, "..", "..", "scenarios", "large");

/** Every scenario in `dir` (the litmus library by default) whose file name matches `pattern`. */
export function litmus(
  pattern: RegExp,
  dir: string = LITMUS_DIR,
): Array<{ file: string; scenario: Scenario }> {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json") && pattern.test(f))
    .sort()
    .map((f) => {
      const file = join(dir, f);
      return { file, scenario: loadScenario(readFileSync(file, "utf8"), file) };
    });
}

/** Three contending tasks: plain DFS with one preemption takes minutes on these. */
const HEAVY_FOR_DFS = new Set(["l14-ttm-concurrent-unmaps", "l15-ttm-two-openers"]);

/** The preemption bound under which a test compares DPOR with plain DFS on a litmus: 1, or 0. */
export function dfsBoundFor(name: string): number {
  return HEAVY_FOR_DFS.has(name) ? 0 : 1;
}

/** The finding kinds a scenario expects, sorted; none for "ok". */
export function expectedKinds(scenario: Scenario): string[] {
  return scenario.expected === "ok" || scenario.expected === null
    ? []
    : [...scenario.expected].sort();
}

/** One test per scenario: the verdict matches the catalogue and the search was complete. */
export function litmusVerdicts(pattern: RegExp): void {
  for (const { file, scenario } of litmus(pattern)) {
    it(`${scenario.name}: ${JSON.stringify(scenario.expected)}`, () => {
      const r = checkScenario(scenario, { source: file });
      const kinds = r.findings.map((f) => f.kind).sort();
      expect({ complete: r.complete, kinds }).toEqual({
        complete: true,
        kinds: expectedKinds(scenario),
      });
      expect(r.matched).toBe(true);
    }, 180_000);
  }
}
