// The larger scenarios (scenarios/large/: four and five threads, several buffers, eviction under
// pressure, GPU jobs) must find the bugs they expect, and nothing else, with the strategy each
// file names: a bounded search that exhausts its bound, or a PCT sample of the flawed designs.
// How fast is the benchmark's business (bench/check.ts, check.large); here only the verdict counts.
import { describe, expect, it } from "vitest";
import { checkScenario } from "../../src/scenarios/check.js";
import { isSampling } from "../../src/scenarios/scenario.js";
import { expectedKinds, LARGE_DIR, litmus } from "./litmus_helpers.js";

const large = litmus(/\.json$/, LARGE_DIR);

describe("scenarios/large", () => {
  it("has between four and six threads in every scenario", () => {
    expect(large.length).toBeGreaterThanOrEqual(10);
    for (const { scenario } of large) {
      expect(scenario.threads.length).toBeGreaterThanOrEqual(4);
      expect(scenario.threads.length).toBeLessThanOrEqual(6);
    }
  });

  for (const { file, scenario } of large) {
    it(`${scenario.name}: ${JSON.stringify(scenario.expected)}`, () => {
      const r = checkScenario(scenario, { source: file });
      const kinds = [...new Set(r.findings.map((f) => f.kind))].sort();
      expect(kinds).toEqual(expectedKinds(scenario));
      expect(r.matched).toBe(true);
      if (isSampling(scenario.explore.strategy)) {
        // A sample proves nothing, so only a scenario with a bug may rely on one.
        expect(scenario.expected).not.toBe("ok");
        expect(r.complete).toBe(false);
      } else {
        expect({ complete: r.complete, stoppedBy: r.stoppedBy }).toEqual({
          complete: true,
          stoppedBy: "exhausted",
        });
      }
    }, 300_000);
  }
});
