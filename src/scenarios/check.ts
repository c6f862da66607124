// `faultline check` and `faultline replay` as functions: explore one scenario with the chosen
// strategy, turn each finding into a replay token and a report, and compare the result with
// the scenario's `expect`. The CLI adds files, flags, clocks and printing.

import { ScheduleDivergence } from "../check/choice.js";
import { DfsStrategy } from "../check/dfs.js";
import { DporStrategy } from "../check/dpor.js";
import {
  collectFindings,
  executionFingerprint,
  explore,
  type Progress,
  runSchedule,
} from "../check/explore.js";
import type { Finding } from "../check/finding.js";
import { PctStrategy } from "../check/pct.js";
import { PortfolioStrategy } from "../check/portfolio.js";
import { RandomStrategy } from "../check/random.js";
import type { Strategy } from "../check/strategy.js";
import { decodeToken, encodeToken, type ReplayToken } from "../check/token.js";
import { type PlanMode, planUnits, type WorkUnit } from "../check/units.js";
import type { TraceEvent } from "../trace/index.js";
import { timeline } from "./report.js";
import {
  type FindingKind,
  isSampling,
  type Scenario,
  type Strategy as StrategyName,
} from "./scenario.js";
import { type ProtocolFactory, ScenarioHarness } from "./system.js";

export interface CheckOptions {
  readonly strategy?: StrategyName;
  readonly preemptionBound?: number;
  readonly executions?: number;
  readonly seed?: number;
  readonly depth?: number;
  /** Plain DFS for `exhaustive` and `bounded`, without partial-order reduction (for comparison). */
  readonly noReduction?: boolean;
  /** Steps after which one execution stops and is checked for livelock. */
  readonly maxSteps?: number;
  /** Where the scenario came from, written into replay tokens ("litmus:<name>" or a path). */
  readonly source: string;
  /** Polled between executions; true ends the check (a time limit). */
  readonly shouldStop?: () => boolean;
  /** Progress of the check: totals over the units run so far, `explored` over the plan. */
  readonly onProgress?: (p: Progress) => void;
  /** Builds the protocol instead of the registry (tests use deliberately broken variants). */
  readonly makeProtocol?: ProtocolFactory;
  /** Run only this shard's units (`--shard i/n`). */
  readonly shard?: Shard;
}

/** Shard `index` (0-based) of `count`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** One finding of a check, ready to print. */
export interface ScenarioFinding {
  readonly kind: FindingKind;
  readonly message: string;
  /** The replay token; `faultline replay <token>` reproduces it. */
  readonly replay: string;
  readonly steps: number;
  readonly preemptions: number;
  /** The kernel-style report (lockdep splat, hung-task report, oops), when one applies. */
  readonly report?: string;
  /** The work unit that found it, and its execution number there (1-based). */
  readonly unit: number;
  readonly execution: number;
}

/** The contract's JSON result, minus elapsedMs (the CLI's clock). */
export interface CheckResult {
  readonly scenario: string;
  readonly protocol: string;
  readonly verdict: "ok" | FindingKind;
  readonly findings: readonly ScenarioFinding[];
  readonly expected: "ok" | readonly FindingKind[] | null;
  readonly matched: boolean;
  readonly complete: boolean;
  readonly executions: number;
  readonly steps: number;
  readonly strategy: StrategyName;
  /** What a complete run covers, or what was sampled. */
  readonly coverage: string;
  /** "exhausted", "sampled", "executions", "time", or "shard" when units of the plan were not run. */
  readonly stoppedBy: string;
  /** The units of the plan, and those whose results are in here. */
  readonly units: { readonly total: number; readonly run: readonly number[] };
}

/** Default limits, chosen so that every built-in litmus is checked completely. */
export const DEFAULT_MAX_STEPS = 4000;
export const DEFAULT_EXECUTIONS: Readonly<Record<StrategyName, number>> = {
  exhaustive: 200_000,
  bounded: 200_000,
  random: 2_000,
  pct: 2_000,
  portfolio: 2_000,
};

/** A check cut into work units (check/units.ts), ready to run them anywhere. */
export interface CheckPlan {
  readonly strategy: StrategyName;
  readonly units: readonly WorkUnit[];
  /** Steps of the default execution (PCT's step estimate). */
  readonly defaultSteps: number;
  readonly maxSteps: number;
  /** The execution budget of the whole check (systematic) or its sample size (sampling). */
  readonly executions: number;
}

/** What a merge needs to know of the scenario (a JSON result carries it too). */
export interface CheckSubject {
  readonly name: string;
  readonly protocol: { readonly name: string };
  readonly expected: Scenario["expected"];
}

/** What one unit found: everything the merge needs. */
export interface UnitResult {
  readonly unit: number;
  readonly executions: number;
  readonly steps: number;
  readonly complete: boolean;
  readonly stoppedBy: string;
  readonly coverage: string;
  readonly findings: readonly ScenarioFinding[];
}

/** Cuts the check of `scenario` into units; the cut depends only on the scenario and options. */
export function planCheck(scenario: Scenario, options: CheckOptions): CheckPlan {
  const strategy = options.strategy ?? scenario.explore.strategy;
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  const executions =
    options.executions ?? scenario.explore.executions ?? DEFAULT_EXECUTIONS[strategy];
  const mode: PlanMode = isSampling(strategy)
    ? "samples"
    : strategy === "exhaustive" && !options.noReduction
      ? "dpor"
      : "first-decision";
  const harness = new ScenarioHarness(scenario, options.makeProtocol);
  const plan = planUnits(harness, mode, { maxSteps, executions });
  return { strategy, units: plan.units, defaultSteps: plan.defaultSteps, maxSteps, executions };
}

function strategyFor(
  plan: CheckPlan,
  unit: WorkUnit,
  scenario: Scenario,
  options: CheckOptions,
): Strategy {
  const seed = options.seed ?? scenario.explore.seed ?? 1;
  const root = unit.kind === "subtree" ? unit.root : [];
  const first = unit.kind === "samples" ? unit.first : 0;
  const count = unit.kind === "samples" ? unit.count : Number.POSITIVE_INFINITY;
  switch (plan.strategy) {
    case "exhaustive":
      return options.noReduction
        ? new DfsStrategy(Number.POSITIVE_INFINITY, root)
        : new DporStrategy({ root, sleepers: unit.kind === "subtree" ? unit.sleepers : 0 });
    case "bounded": {
      const bound = options.preemptionBound ?? scenario.explore.preemptionBound ?? 2;
      return options.noReduction
        ? new DfsStrategy(bound, root)
        : new DporStrategy({ preemptionBound: bound, root });
    }
    case "random":
      return new RandomStrategy(seed, first, count);
    case "pct":
      return new PctStrategy(
        seed,
        options.depth ?? scenario.explore.depth ?? 3,
        plan.defaultSteps,
        first,
        count,
      );
    case "portfolio":
      return new PortfolioStrategy(seed, plan.defaultSteps, unit.index, first, count);
  }
}

/**
 * Whether the kinds found match the scenario's `expect`: the same set of kinds. "ok" (or no
 * expectation) needs no finding AND a search that covered its whole space: a check that did not
 * look everywhere cannot say "ok".
 */
export function matches(
  expected: Scenario["expected"],
  kinds: readonly string[],
  complete: boolean,
): boolean {
  if (expected === null || expected === "ok") return kinds.length === 0 && complete;
  const want = new Set<string>(expected);
  const got = new Set(kinds);
  return want.size === got.size && [...want].every((k) => got.has(k));
}

/** Runs one unit of a plan with at most `budget` executions. */
export function runUnit(
  scenario: Scenario,
  plan: CheckPlan,
  unit: WorkUnit,
  options: CheckOptions,
  budget: number,
): UnitResult {
  const strategy = strategyFor(plan, unit, scenario, options);
  const harness = new ScenarioHarness(scenario, options.makeProtocol);
  const result = explore(harness, strategy, {
    maxExecutions: budget,
    maxSteps: plan.maxSteps,
    ...(options.shouldStop === undefined ? {} : { shouldStop: options.shouldStop }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  const findings: ScenarioFinding[] = result.findings.map((f) => {
    const token: ReplayToken = {
      scenario: scenario.name,
      hash: scenario.source.hash,
      source: options.source,
      steps: f.steps,
      fingerprint: f.fingerprint,
      schedule: f.schedule,
    };
    const base = {
      kind: f.finding.kind as FindingKind,
      message: f.finding.message,
      replay: encodeToken(token),
      steps: f.steps,
      preemptions: f.preemptions,
      unit: unit.index,
      execution: f.execution,
    };
    return f.finding.report === undefined ? base : { ...base, report: f.finding.report };
  });
  // A sampling unit that ran all its executions did what it set out to.
  const sampled = unit.kind === "samples" && result.stoppedBy === "exhausted";
  return {
    unit: unit.index,
    executions: result.executions,
    steps: result.steps,
    complete: result.complete || sampled,
    stoppedBy: sampled ? "sampled" : result.stoppedBy,
    coverage: result.coverage,
    findings,
  };
}

/**
 * The result of a whole check from the results of some of its units (all of them, or one
 * shard's): findings of a kind come from the lowest unit that showed it, so that the merge of
 * shards equals an unsharded run. Complete only if every unit of the plan is there and complete.
 */
export function mergeUnits(
  scenario: CheckSubject,
  plan: {
    readonly strategy: StrategyName;
    readonly units: ReadonlyArray<{ readonly index: number }>;
  },
  results: readonly UnitResult[],
): CheckResult {
  const byUnit = [...results].sort((a, b) => a.unit - b.unit);
  const found = new Map<FindingKind, ScenarioFinding>();
  for (const r of byUnit) for (const f of r.findings) if (!found.has(f.kind)) found.set(f.kind, f);
  const findings = [...found.values()];
  const covered = new Set(byUnit.filter((r) => r.complete).map((r) => r.unit));
  const sampling = isSampling(plan.strategy);
  const allUnits = plan.units.every((u) => covered.has(u.index));
  const complete = !sampling && allUnits;
  const kinds = findings.map((f) => f.kind);
  const stopped = byUnit.find((r) => r.stoppedBy !== "exhausted" && r.stoppedBy !== "sampled");
  const missing = plan.units.length - new Set(byUnit.map((r) => r.unit)).size;
  return {
    scenario: scenario.name,
    protocol: scenario.protocol.name,
    verdict: findings[0]?.kind ?? "ok",
    findings,
    expected: scenario.expected,
    matched: matches(scenario.expected, kinds, complete),
    complete,
    executions: byUnit.reduce((n, r) => n + r.executions, 0),
    steps: byUnit.reduce((n, r) => n + r.steps, 0),
    strategy: plan.strategy,
    coverage: byUnit.find((r) => r.coverage !== "")?.coverage ?? "nothing",
    stoppedBy: missing > 0 ? "shard" : (stopped?.stoppedBy ?? (sampling ? "sampled" : "exhausted")),
    units: { total: plan.units.length, run: byUnit.map((r) => r.unit) },
  };
}

/** The units shard `index` of `count` runs: every count-th, starting at index. */
export function shardUnits(units: readonly WorkUnit[], shard: Shard | undefined): WorkUnit[] {
  if (shard === undefined) return [...units];
  return units.filter((u) => u.index % shard.count === shard.index);
}

/**
 * Explores `scenario` (or one shard of it) and reports its findings with replay tokens. Each
 * systematic unit may use the whole execution budget, so that what a unit does never depends on
 * which units ran before it in the same process.
 */
export function checkScenario(scenario: Scenario, options: CheckOptions): CheckResult {
  const plan = planCheck(scenario, options);
  const units = shardUnits(plan.units, options.shard);
  const results: UnitResult[] = [];
  const done = { executions: 0, steps: 0, findings: 0 };
  for (const unit of units) {
    if (options.shouldStop?.() === true) {
      // Out of time: the units not started are incomplete for that reason.
      results.push({
        unit: unit.index,
        executions: 0,
        steps: 0,
        complete: false,
        stoppedBy: "time",
        coverage: results[0]?.coverage ?? "",
        findings: [],
      });
      continue;
    }
    const progress = options.onProgress;
    const r = runUnit(
      scenario,
      plan,
      unit,
      {
        ...options,
        ...(progress === undefined
          ? {}
          : {
              onProgress: (p: Progress) =>
                progress({
                  executions: done.executions + p.executions,
                  steps: done.steps + p.steps,
                  findings: done.findings + p.findings,
                  explored: (results.length + p.explored) / units.length,
                }),
            }),
      },
      unitBudget(plan, unit),
    );
    results.push(r);
    done.executions += r.executions;
    done.steps += r.steps;
    done.findings += r.findings.length;
  }
  return mergeUnits(scenario, plan, results);
}

/** Executions one unit may run: a sampling unit its count, a systematic one the whole budget. */
export function unitBudget(plan: CheckPlan, unit: WorkUnit): number {
  return unit.kind === "samples" ? unit.count : plan.executions;
}

/** Why a replay could not run or did not reproduce what the token recorded. */
export class ReplayError extends Error {
  override readonly name = "ReplayError";
}

export interface ReplayResult {
  readonly token: ReplayToken;
  readonly findings: readonly Finding[];
  readonly events: readonly TraceEvent[];
  /** The per-task timeline of the execution, as report text. */
  readonly timeline: string;
  readonly steps: number;
}

/**
 * Replays a token against its scenario, strictly: the scenario text must hash to the token's
 * hash, every decision must exist, and the execution must end with the recorded step count and
 * fingerprint; otherwise a ReplayError says where it diverged.
 */
export function replayScenario(
  scenario: Scenario,
  tokenText: string,
  maxSteps = DEFAULT_MAX_STEPS,
): ReplayResult {
  const token = decodeToken(tokenText);
  if (token.hash !== scenario.source.hash) {
    throw new ReplayError(
      `the token was made for another version of ${token.source} (hash ${token.hash}, the file now hashes to ${scenario.source.hash})`,
    );
  }
  if (token.scenario !== scenario.name)
    throw new ReplayError(
      `the token names scenario ${token.scenario}, the file holds ${scenario.name}`,
    );
  const harness = new ScenarioHarness(scenario);
  let run: ReturnType<typeof runSchedule>;
  try {
    run = runSchedule(harness, token.schedule, { trace: true, maxSteps, strict: true });
  } catch (error) {
    if (error instanceof ScheduleDivergence)
      throw new ReplayError(`replay diverged: ${error.message}`);
    throw error;
  }
  const { sched } = run.run;
  if (run.decisions.length !== token.schedule.length) {
    throw new ReplayError(
      `replay diverged: the token has ${token.schedule.length} decisions, the execution made ${run.decisions.length}`,
    );
  }
  if (sched.stepCount !== token.steps || executionFingerprint(sched) !== token.fingerprint) {
    throw new ReplayError(
      `replay diverged: ${sched.stepCount} steps (fingerprint ${executionFingerprint(sched)}), the token recorded ${token.steps} (${token.fingerprint})`,
    );
  }
  const findings = collectFindings(harness, run.run, run.decisions, maxSteps);
  const events = sched.trace ?? [];
  return { token, findings, events, timeline: timeline(events, sched), steps: sched.stepCount };
}
