// Work units: one check cut into pieces that can run anywhere, in any order, and be merged into
// the result of the whole (`--workers`, `--shard i/n`, `faultline merge`). The cut depends only
// on the scenario and the strategy, never on how many workers or shards there are, so a merged
// result is the result of one unsharded run: same executions, same findings, same tokens.
//
// - Systematic strategies (exhaustive, bounded) are cut at the split state: the first state of
//   the default (non-preemptive) execution whose chosen step touches something. Before it every
//   chosen step touches nothing, so running it first loses no behaviour (a persistent set of
//   one); at it every runnable task starts a unit of its own. For DPOR, the unit of option r puts
//   the tasks of options 0..r-1 to sleep at the split state (their schedules are explored there),
//   which is the sleep set sequential DPOR would have. Option 0's subtree, which holds most of
//   the work (the others start with a sleeper), is cut the same way at the next SPINE_LEVELS
//   decisions of the default execution, so that one scenario spreads over workers too. Each
//   such cut runs every option there, where sequential DPOR might have tried fewer: over the
//   exhaustive litmus, two levels cost 1.2% more executions and halve the largest unit of
//   l12-ttm-gpu-write-then-move and l01-ttm-abba; a third cost 9% more on l12. Units are listed
//   in the order sequential search reaches them: the default path first, then the alternatives
//   of the deepest cut. Plain DFS, and bounded DPOR (which runs without sleep
//   sets), are cut at the first decision instead: no task has run yet, so choosing any of them
//   costs no preemption, and each unit explores the subtree sequential search would explore
//   under that choice. Sequential bounded DPOR ends up trying every task there anyway (loom's
//   extra backtrack point at the last context switch reaches back to the first state), so the
//   units do the same work, in parallel.
// - Sampling strategies (random, pct) are cut into runs of consecutive execution numbers; each
//   execution's seed depends only on the run's seed and its number.

import type { Sched, Task } from "../kernel/sched.js";
import { ChoiceScheduler } from "./choice.js";
import { accessesOf } from "./dpor.js";
import type { Harness } from "./explore.js";

/** One piece of a check. */
export type WorkUnit =
  | {
      readonly kind: "subtree";
      /** Position of the unit in the plan. */
      readonly index: number;
      /** The decisions every execution of the unit starts with. */
      readonly root: readonly number[];
      /** Options of the last root decision whose tasks sleep there (explored by other units). */
      readonly sleepers: number;
    }
  | {
      readonly kind: "samples";
      readonly index: number;
      /** Number of the first execution of the unit. */
      readonly first: number;
      readonly count: number;
    };

/** How a check is cut. */
export interface UnitPlan {
  readonly units: readonly WorkUnit[];
  /** Steps of the default execution (PCT takes its number of steps from it). */
  readonly defaultSteps: number;
}

/** Executions per sampling unit. */
export const SAMPLES_PER_UNIT = 250;

/** Decisions after the split state at which DPOR's option-0 subtree is cut again. */
export const SPINE_LEVELS = 2;

export type PlanMode = "dpor" | "first-decision" | "samples";

/**
 * Cuts a check. `dpor` and `first-decision` run the default execution once to find the split
 * (the first state whose chosen step touches something, or the first decision); `samples` cuts
 * `executions` into runs of SAMPLES_PER_UNIT.
 */
export function planUnits(
  harness: Harness,
  mode: PlanMode,
  options: { readonly maxSteps: number; readonly executions: number },
): UnitPlan {
  const probe = probeDefault(harness, options.maxSteps);
  if (mode === "samples") {
    const units: WorkUnit[] = [];
    for (let first = 0, i = 0; first < options.executions; first += SAMPLES_PER_UNIT, i++) {
      const count = Math.min(SAMPLES_PER_UNIT, options.executions - first);
      units.push({ kind: "samples", index: i, first, count });
    }
    return { units, defaultSteps: probe.steps };
  }
  const split = mode === "dpor" ? probe.firstVisible : 0;
  const at = probe.decisions[split];
  // A first decision taken while a task could have gone on running (the setup left one
  // running) is not cut: a forced switch there would spend a preemption a bounded search may
  // not have.
  if (at === undefined || (mode === "first-decision" && at.preemptible)) {
    return {
      units: [{ kind: "subtree", index: 0, root: [], sleepers: 0 }],
      defaultSteps: probe.steps,
    };
  }
  // The spine: option 0 at the split and, for DPOR, at the next SPINE_LEVELS decisions. Its
  // unit comes first, then the other options of each cut, deepest cut first.
  const prefix = new Array<number>(split).fill(0);
  const spine = [...prefix, 0];
  const cuts: Array<{ at: number[]; options: number }> = [{ at: prefix, options: at.options }];
  for (let level = 0; level < (mode === "dpor" ? SPINE_LEVELS : 0); level++) {
    const next = probe.decisions[spine.length];
    if (next === undefined) break;
    cuts.push({ at: [...spine], options: next.options });
    spine.push(0);
  }
  const units: WorkUnit[] = [{ kind: "subtree", index: 0, root: spine, sleepers: 0 }];
  for (const { at: cut, options } of cuts.reverse()) {
    for (let q = 1; q < options; q++) {
      const sleepers = mode === "dpor" ? q : 0;
      units.push({ kind: "subtree", index: units.length, root: [...cut, q], sleepers });
    }
  }
  return { units, defaultSteps: probe.steps };
}

interface Probe {
  readonly steps: number;
  readonly decisions: ReadonlyArray<{ readonly options: number; readonly preemptible: boolean }>;
  /** Index of the first decision whose chosen step touched something, or -1. */
  readonly firstVisible: number;
}

/** Runs the default execution and notes each decision and whether its step touched anything. */
function probeDefault(harness: Harness, maxSteps: number): Probe {
  let decisions = 0;
  let firstVisible = -1;
  let decisionStep = false;
  let touched = false;
  const scheduler = new ChoiceScheduler(() => {
    decisions++;
    return 0;
  }, true);
  scheduler.onStep((_task: Task, step, runnable: readonly Task[], _sched: Sched) => {
    decisionStep = runnable.length > 1;
    touched = accessesOf(step).length > 0;
  });
  scheduler.onStepDone((touches) => {
    if (decisionStep && firstVisible < 0 && (touched || touches.length > 0))
      firstVisible = decisions - 1;
  });
  const run = harness.run(scheduler, { trace: false, maxSteps });
  return { steps: run.sched.stepCount, decisions: scheduler.decisions, firstVisible };
}
