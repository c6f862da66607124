// The exploration loop: run one execution per schedule the strategy hands out, from a fresh
// kernel each time (stateless re-execution), collect the findings of each, and keep the first
// schedule that shows each kind of finding. An execution that reaches the step bound is run
// again from the same prefix under a fair scheduler: if it still does not finish, the tasks are
// retrying without progress (a livelock); if it finishes, the first run merely starved someone.
//
// This file is generic: what runs and what is a finding is the harness's business.

import type { RunOutcome, Sched, Scheduler } from "../kernel/sched.js";
import { Fnv1a64 } from "../trace/hash.js";
import { countPreemptions, type Decision, fairAfterPrefix, prefixScheduler } from "./choice.js";
import { type Finding, findingKey } from "./finding.js";
import type { Strategy } from "./strategy.js";

/** One execution the harness ran. */
export interface ExecutionRun {
  readonly sched: Sched;
  readonly outcome: RunOutcome;
  readonly findings: readonly Finding[];
}

/** Builds a fresh system and runs it once under `scheduler`. */
export interface Harness {
  run(
    scheduler: Scheduler,
    options: { readonly trace: boolean; readonly maxSteps: number },
  ): ExecutionRun;
}

export interface ExploreOptions {
  readonly maxExecutions: number;
  /** Steps after which one execution stops (then checked for livelock). */
  readonly maxSteps: number;
  /** Polled between executions; true ends the run early (a time limit). */
  readonly shouldStop?: () => boolean;
  readonly onProgress?: (progress: Progress) => void;
  /** Executions between progress reports. */
  readonly progressEvery?: number;
  /** Replays minimisation may spend per finding. */
  readonly minimiseBudget?: number;
}

export interface Progress {
  readonly executions: number;
  readonly steps: number;
  readonly findings: number;
  /** The strategy's estimate of the fraction of its space explored (Strategy.explored). */
  readonly explored: number;
}

/** A finding with the schedule that reproduces it. */
export interface FoundFinding {
  readonly finding: Finding;
  readonly schedule: readonly number[];
  readonly steps: number;
  readonly fingerprint: string;
  readonly preemptions: number;
  /** Which execution first showed it (1-based). */
  readonly execution: number;
}

export interface ExploreResult {
  readonly findings: readonly FoundFinding[];
  readonly executions: number;
  readonly steps: number;
  /** The strategy covered its whole space. */
  readonly complete: boolean;
  /** Why exploration stopped. */
  readonly stoppedBy: "exhausted" | "executions" | "time" | "sampled";
  readonly coverage: string;
}

/** The fingerprint of an execution: every step's task, in order. */
export function executionFingerprint(sched: Sched): string {
  const h = new Fnv1a64();
  for (const id of sched.schedule) h.u32(id);
  return h.u32(sched.stepCount).hex();
}

/** Runs `schedule` (strictly or leniently) and returns the run and its decisions. */
export function runSchedule(
  harness: Harness,
  schedule: readonly number[],
  options: { readonly trace: boolean; readonly maxSteps: number; readonly strict: boolean },
): { run: ExecutionRun; decisions: readonly Decision[] } {
  const scheduler = prefixScheduler(schedule, options.strict);
  const run = harness.run(scheduler, options);
  return { run, decisions: scheduler.decisions };
}

/** The findings of an execution, plus a livelock if it hit the bound and a fair rerun does too. */
export function collectFindings(
  harness: Harness,
  run: ExecutionRun,
  decisions: readonly Decision[],
  maxSteps: number,
): Finding[] {
  if (run.outcome.kind !== "step-bound") return [...run.findings];
  const fair = fairAfterPrefix(decisions.map((d) => d.chosen));
  const rerun = harness.run(fair, { trace: false, maxSteps: maxSteps * 4 });
  if (rerun.outcome.kind !== "step-bound") return [...run.findings];
  return [
    ...run.findings,
    {
      kind: "livelock",
      message: `no progress under fair scheduling: ${rerun.outcome.explanation}`,
      step: rerun.sched.stepIndex,
    },
  ];
}

export function explore(
  harness: Harness,
  strategy: Strategy,
  options: ExploreOptions,
): ExploreResult {
  const found = new Map<string, FoundFinding>();
  let executions = 0;
  let steps = 0;
  let stoppedBy: ExploreResult["stoppedBy"] = strategy.complete ? "exhausted" : "executions";
  const every = options.progressEvery ?? 500;
  for (;;) {
    if (executions >= options.maxExecutions) {
      stoppedBy = strategy.complete ? "exhausted" : sampled(strategy) ? "sampled" : "executions";
      break;
    }
    if (options.shouldStop?.()) {
      stoppedBy = "time";
      break;
    }
    const scheduler = strategy.nextExecution();
    if (scheduler === null) {
      stoppedBy = "exhausted";
      break;
    }
    const run = harness.run(scheduler, { trace: false, maxSteps: options.maxSteps });
    executions++;
    steps += run.sched.stepCount;
    for (const finding of collectFindings(harness, run, scheduler.decisions, options.maxSteps)) {
      const key = findingKey(finding);
      if (found.has(key)) continue;
      found.set(key, {
        finding,
        schedule: scheduler.decisions.map((d) => d.chosen),
        steps: run.sched.stepCount,
        fingerprint: executionFingerprint(run.sched),
        preemptions: countPreemptions(scheduler.decisions),
        execution: executions,
      });
    }
    strategy.executionDone(scheduler.decisions);
    if (executions % every === 0) {
      options.onProgress?.({
        executions,
        steps,
        findings: found.size,
        explored: strategy.explored(),
      });
    }
  }
  const findings = [...found.values()].map((f) => minimise(harness, f, options));
  return {
    findings,
    executions,
    steps,
    complete: strategy.complete,
    stoppedBy,
    coverage: strategy.coverage,
  };
}

function sampled(strategy: Strategy): boolean {
  return strategy.name === "random" || strategy.name === "pct" || strategy.name === "portfolio";
}

/**
 * Shortens a finding's schedule and removes preemptions while the same kind of finding still
 * shows: first the shortest prefix after which "keep running the current task" still reaches
 * it, then each remaining choice reset to 0 where that keeps it. Bounded by a replay budget.
 */
export function minimise(
  harness: Harness,
  found: FoundFinding,
  options: ExploreOptions,
): FoundFinding {
  const kind = found.finding.kind;
  let budget = options.minimiseBudget ?? 200;
  const reproduces = (
    schedule: readonly number[],
  ): { run: ExecutionRun; decisions: readonly Decision[] } | null => {
    if (budget-- <= 0) return null;
    const attempt = runSchedule(harness, schedule, {
      trace: false,
      maxSteps: options.maxSteps,
      strict: false,
    });
    const kinds = collectFindings(harness, attempt.run, attempt.decisions, options.maxSteps).map(
      (f) => f.kind,
    );
    return kinds.includes(kind) ? attempt : null;
  };
  let best = [...found.schedule];
  // Shortest reproducing prefix, found by doubling then bisecting (a heuristic: not monotone).
  let hi = 0;
  while (hi < best.length && reproduces(best.slice(0, hi)) === null) hi = hi === 0 ? 1 : hi * 2;
  if (hi < best.length) {
    let lo = Math.floor(hi / 2);
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (reproduces(best.slice(0, mid)) !== null) hi = mid;
      else lo = mid + 1;
    }
    best = best.slice(0, hi);
  }
  for (let i = best.length - 1; i >= 0 && budget > 0; i--) {
    if (best[i] === 0) continue;
    const candidate = [...best];
    candidate[i] = 0;
    if (reproduces(candidate) !== null) best = candidate;
  }
  const final = runSchedule(harness, best, {
    trace: false,
    maxSteps: options.maxSteps,
    strict: false,
  });
  const finding = collectFindings(harness, final.run, final.decisions, options.maxSteps).find(
    (f) => f.kind === kind,
  );
  if (finding === undefined) return found;
  return {
    finding,
    schedule: final.decisions.map((d) => d.chosen),
    steps: final.run.sched.stepCount,
    fingerprint: executionFingerprint(final.run.sched),
    preemptions: countPreemptions(final.decisions),
    execution: found.execution,
  };
}
