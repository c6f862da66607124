// The sampling strategies through checkScenario: portfolio finds what random and PCT find, no
// sample is ever complete (so it never matches "ok"), and the same seed gives the same result.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkScenario } from "../../src/scenarios/check.js";
import { loadScenario } from "../../src/scenarios/loader.js";
import { litmus } from "./litmus_helpers.js";

const [nopfn] = litmus(/^l08-nopfn\.json$/);
const [ticket] = litmus(/^l18-reserve-ticket\.json$/);

describe("sampling strategies", () => {
  it("portfolio finds the isolation breach of nopfn and says it sampled", () => {
    const r = checkScenario(nopfn!.scenario, {
      source: nopfn!.file,
      strategy: "portfolio",
      executions: 1000,
    });
    expect(r.findings.map((f) => f.kind)).toContain("isolation-breach");
    expect(r.complete).toBe(false);
    expect(r.stoppedBy).toBe("sampled");
    expect(r.coverage).toMatch(/random walk and PCT/);
    expect(r.executions).toBe(1000);
  }, 60_000);

  it("a sample that finds nothing does not match an expectation of ok", () => {
    for (const strategy of ["random", "pct", "portfolio"] as const) {
      const r = checkScenario(ticket!.scenario, {
        source: ticket!.file,
        strategy,
        executions: 300,
      });
      expect(r.findings).toEqual([]);
      expect(r.matched).toBe(false);
    }
  }, 60_000);

  it("the same seed gives the same findings, tokens and step counts", () => {
    const run = () =>
      checkScenario(nopfn!.scenario, {
        source: nopfn!.file,
        strategy: "pct",
        executions: 500,
        seed: 42,
      });
    const a = run();
    const b = run();
    expect(b.findings).toEqual(a.findings);
    expect(b.steps).toBe(a.steps);
  }, 60_000);

  it("the scenario format accepts portfolio as an explore strategy", () => {
    const json = JSON.parse(readFileSync(nopfn!.file, "utf8")) as Record<string, unknown>;
    const text = JSON.stringify({ ...json, explore: { strategy: "portfolio", seed: 3 } });
    const scenario = loadScenario(text, "portfolio.json");
    expect(scenario.explore).toMatchObject({ strategy: "portfolio", seed: 3 });
  });
});
