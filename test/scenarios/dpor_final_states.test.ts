// DPOR against plain DFS on every built-in litmus, by what the executions end in rather than by
// verdict: with the same preemption bound, every final state bounded DFS reaches (what each task
// loaded, where each buffer ended up, the last value written to each buffer word, the findings,
// how the run ended) bounded DPOR must reach too. This checks the dependence relation on the
// real kernel paths (faults under a shared mmap_lock, unmaps under a shared i_mmap_rwsem,
// lockless fence reads), where test/check/dpor_soundness.test.ts checks small synthetic
// programs and dpor_vs_dfs.test.ts compares verdicts.
import { describe, expect, it } from "vitest";
import { DfsStrategy } from "../../src/check/dfs.js";
import { DporStrategy } from "../../src/check/dpor.js";
import type { ExecutionRun } from "../../src/check/explore.js";
import type { Strategy } from "../../src/check/strategy.js";
import type { Scheduler } from "../../src/kernel/sched.js";
import type { Scenario } from "../../src/scenarios/scenario.js";
import { ScenarioSystem } from "../../src/scenarios/system.js";
import { exploreFinalStates, type FinalStateHarness } from "../check/final_states.js";
import { dfsBoundFor, litmus } from "./litmus_helpers.js";

const MAX_STEPS = 4000;

/** Runs a scenario and describes the final state of the last run in `last`. */
class ScenarioFinalStates implements FinalStateHarness {
  last = "";

  constructor(private readonly scenario: Scenario) {}

  run(scheduler: Scheduler, options: { trace: boolean; maxSteps: number }): ExecutionRun {
    const system = new ScenarioSystem(this.scenario, options.trace);
    // Each task's loads in its own order: the same in every execution equivalent to this one.
    const loads = new Map<string, number[]>();
    system.k.mem.accessObservers.push({
      onAccess: (k, a) => {
        if (a.kind !== "load") return;
        const task = k.sched.current?.name ?? "none";
        loads.set(task, [...(loads.get(task) ?? []), a.value]);
      },
    });
    system.setup(options.maxSteps);
    system.startThreads();
    const outcome = system.sched.run(scheduler, options.maxSteps);
    const findings = system.findings(outcome);
    const kinds = [...new Set(findings.map((f) => f.kind))].sort();
    // A deadlock or a BUG ends the execution wherever the other tasks are, so only the fact
    // and the findings count; a stopped execution (every runnable task asleep) has none.
    this.last =
      outcome.kind === "stopped"
        ? "stopped"
        : outcome.kind !== "done"
          ? JSON.stringify({ end: outcome.kind, kinds })
          : JSON.stringify({
              end: "done",
              kinds,
              loads: [...loads].sort(([a], [b]) => a.localeCompare(b)),
              placements: [...system.buffers].map(([name, bo]) => [
                name,
                system.destroyed.has(name) ? "destroyed" : (bo.resource?.mem_type ?? null),
              ]),
              shadow: [...system.shadow],
            });
    return { sched: system.sched, outcome, findings };
  }
}

/** Every final state a strategy reaches. */
function finalStates(harness: ScenarioFinalStates, strategy: Strategy): Set<string> {
  const { states } = exploreFinalStates(harness, strategy, MAX_STEPS);
  expect(strategy.complete).toBe(true);
  return states;
}

describe("bounded DPOR reaches every final state bounded DFS reaches, on every litmus", () => {
  for (const { scenario } of litmus(/\.json$/)) {
    const bound = dfsBoundFor(scenario.name);
    it(`${scenario.name} (at most ${bound} preemption${bound === 1 ? "" : "s"})`, () => {
      const harness = new ScenarioFinalStates(scenario);
      const dfs = finalStates(harness, new DfsStrategy(bound));
      const dpor = finalStates(harness, new DporStrategy({ preemptionBound: bound }));
      expect([...dfs].filter((s) => !dpor.has(s))).toEqual([]);
    }, 120_000);
  }
});
