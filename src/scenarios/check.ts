// `faultline check` and `faultline replay` as functions: explore one scenario with the chosen
// strategy, turn each finding into a replay token and a report, and compare the result with
// the scenario's `expect`. The CLI adds files, flags, clocks and printing.

import { ScheduleDivergence } from "../check/choice.js";
import { DfsStrategy } from "../check/dfs.js";
import { DporStrategy } from "../check/dpor.js";
import { collectFindings, executionFingerprint, explore, runSchedule } from "../check/explore.js";
import type { Finding } from "../check/finding.js";
import { PctStrategy } from "../check/pct.js";
import { RandomStrategy } from "../check/random.js";
import type { Strategy } from "../check/strategy.js";
import { decodeToken, encodeToken, type ReplayToken } from "../check/token.js";
import type { TraceEvent } from "../trace/index.js";
import { timeline } from "./report.js";
import type { FindingKind, Scenario, Strategy as StrategyName } from "./scenario.js";
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
  readonly onProgress?: (p: { executions: number; steps: number; findings: number }) => void;
  /** Builds the protocol instead of the registry (tests use deliberately broken variants). */
  readonly makeProtocol?: ProtocolFactory;
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
  readonly stoppedBy: string;
}

/** Default limits, chosen so that every built-in litmus is checked completely. */
export const DEFAULT_MAX_STEPS = 4000;
export const DEFAULT_EXECUTIONS: Readonly<Record<StrategyName, number>> = {
  exhaustive: 200_000,
  bounded: 200_000,
  random: 2_000,
  pct: 2_000,
};

function strategyFor(name: StrategyName, scenario: Scenario, options: CheckOptions): Strategy {
  const seed = options.seed ?? scenario.explore.seed ?? 1;
  switch (name) {
    case "exhaustive":
      return options.noReduction ? new DfsStrategy() : new DporStrategy();
    case "bounded": {
      const bound = options.preemptionBound ?? scenario.explore.preemptionBound ?? 2;
      return options.noReduction
        ? new DfsStrategy(bound)
        : new DporStrategy({ preemptionBound: bound });
    }
    case "random":
      return new RandomStrategy(seed);
    case "pct":
      return new PctStrategy(seed, options.depth ?? scenario.explore.depth ?? 3);
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

/** Explores `scenario` and reports its findings with replay tokens. */
export function checkScenario(scenario: Scenario, options: CheckOptions): CheckResult {
  const strategyName = options.strategy ?? scenario.explore.strategy;
  const strategy = strategyFor(strategyName, scenario, options);
  const harness = new ScenarioHarness(scenario, options.makeProtocol);
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  const result = explore(harness, strategy, {
    maxExecutions:
      options.executions ?? scenario.explore.executions ?? DEFAULT_EXECUTIONS[strategyName],
    maxSteps,
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
    };
    return f.finding.report === undefined ? base : { ...base, report: f.finding.report };
  });
  const kinds = findings.map((f) => f.kind);
  return {
    scenario: scenario.name,
    protocol: scenario.protocol.name,
    verdict: findings[0]?.kind ?? "ok",
    findings,
    expected: scenario.expected,
    matched: matches(scenario.expected, kinds, result.complete),
    complete: result.complete,
    executions: result.executions,
    steps: result.steps,
    strategy: strategyName,
    coverage: result.coverage,
    stoppedBy: result.stoppedBy,
  };
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
