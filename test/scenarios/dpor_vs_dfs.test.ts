// DPOR against plain DFS on every built-in litmus: with the same preemption bound both searches
// are complete and must find the same kinds of finding (plain DFS over every schedule is out of
// reach for all but the smallest: two tasks of fifty steps have 10^29 interleavings). The
// verdicts of unbounded DPOR against the catalogue are in litmus_*.test.ts; the soundness of
// DPOR against unbounded DFS on small programs is in test/check/dpor_soundness.test.ts.
import { describe, expect, it } from "vitest";
import { checkScenario } from "../../src/scenarios/check.js";
import { dfsBoundFor, litmus } from "./litmus_helpers.js";

describe("bounded DPOR and bounded DFS agree on every litmus", () => {
  for (const { file, scenario } of litmus(/\.json$/)) {
    const bound = dfsBoundFor(scenario.name);
    it(`${scenario.name} (at most ${bound} preemption${bound === 1 ? "" : "s"})`, () => {
      const run = (noReduction: boolean) =>
        checkScenario(scenario, {
          source: file,
          strategy: "bounded",
          preemptionBound: bound,
          noReduction,
        });
      const dpor = run(false);
      const dfs = run(true);
      expect(dpor.complete && dfs.complete).toBe(true);
      const kinds = (r: typeof dpor) => r.findings.map((f) => f.kind).sort();
      expect(kinds(dpor)).toEqual(kinds(dfs));
      expect(dpor.executions).toBeLessThanOrEqual(dfs.executions);
    }, 120_000);
  }
});
