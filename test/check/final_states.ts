// Shared by the soundness tests: run every execution a strategy hands out and collect the final
// states a harness describes, so that a reduced search can be compared with plain DFS.
import type { Harness } from "../../src/check/explore.js";
import type { Strategy } from "../../src/check/strategy.js";

/** A harness that describes the final state of its last run in `last`; "stopped" means none. */
export interface FinalStateHarness extends Harness {
  readonly last: string;
}

/** Runs `strategy` to the end (at most 200,000 executions): its final states and executions. */
export function exploreFinalStates(
  harness: FinalStateHarness,
  strategy: Strategy,
  maxSteps: number,
): { states: Set<string>; executions: number } {
  const states = new Set<string>();
  let executions = 0;
  for (; executions < 200_000; executions++) {
    const scheduler = strategy.nextExecution();
    if (scheduler === null) break;
    harness.run(scheduler, { trace: false, maxSteps });
    // A stopped execution (every runnable task asleep) is equivalent to explored ones.
    if (harness.last !== "stopped") states.add(harness.last);
    strategy.executionDone(scheduler.decisions);
  }
  return { states, executions };
}
