// Shards (`check --shard i/n`): the work items of a run (every unit of every scenario, in file
// and unit order) are numbered across the whole run and dealt out round-robin, item k to shard
// k mod n. Dealing across scenarios, rather than each scenario's units on their own, keeps the
// shards even when most scenarios are one unit. Every shard prints a JSON line for every
// scenario (with the units it ran, maybe none), and `faultline merge` puts them together
// (merge.ts): the result is the one an unsharded run prints, because a unit's result depends
// only on the scenario and the options. All shards must be run with the same files and flags.

import { createHash } from "node:crypto";
import { InvalidArgumentError } from "commander";
import type { WorkUnit } from "../check/units.js";
import type { CheckPlan, CheckResult, ScenarioFinding, UnitResult } from "../scenarios/check.js";
import type { Scenario } from "../scenarios/scenario.js";
import type { UnitOptions } from "./pool.js";

/** Shard `index` (1-based, as Playwright and Jest count) of `count`. */
export interface ShardSpec {
  readonly index: number;
  readonly count: number;
}

/** Parses the value of --shard ("2/4"); a commander argument error otherwise. */
export function parseShard(value: string): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = m === null ? Number.NaN : Number(m[1]);
  const count = m === null ? Number.NaN : Number(m[2]);
  if (
    !Number.isSafeInteger(index) ||
    !Number.isSafeInteger(count) ||
    count < 1 ||
    index < 1 ||
    index > count
  ) {
    throw new InvalidArgumentError(
      `--shard must be i/n with 1 <= i <= n (for example 2/4), got "${value}"`,
    );
  }
  return { index, count };
}

export function shardLabel(shard: ShardSpec): string {
  return `${shard.index}/${shard.count}`;
}

/** The units of each scenario that a shard runs (all of them without a shard). */
export function shardItems(
  plans: ReadonlyArray<Pick<CheckPlan, "units">>,
  shard: ShardSpec | undefined,
): WorkUnit[][] {
  let item = 0;
  return plans.map((plan) =>
    plan.units.filter(() => shard === undefined || item++ % shard.count === shard.index - 1),
  );
}

/**
 * What identifies a plan across machines: the scenario's content hash, the options that decide
 * what a unit does, and the cut itself. Shards with different keys cannot be merged.
 */
export function planKey(scenario: Scenario, options: UnitOptions, plan: CheckPlan): string {
  const { source: _source, ...decisive } = options;
  const text = JSON.stringify({ scenario: scenario.source.hash, options: decisive, plan });
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** The `plan` field of a shard's JSON line. */
export interface PlanJson {
  readonly units: number;
  readonly key: string;
  readonly maxSteps: number;
}

/** A finding as a shard's unitResults carry it: every field mergeUnits needs. */
export function findingJson(f: ScenarioFinding): ScenarioFinding {
  const base = {
    kind: f.kind,
    message: f.message,
    replay: f.replay,
    steps: f.steps,
    preemptions: f.preemptions,
    unit: f.unit,
    execution: f.execution,
  };
  return f.report === undefined ? base : { ...base, report: f.report };
}

export function unitResultJson(r: UnitResult): UnitResult {
  return {
    unit: r.unit,
    executions: r.executions,
    steps: r.steps,
    complete: r.complete,
    stoppedBy: r.stoppedBy,
    coverage: r.coverage,
    findings: r.findings.map(findingJson),
  };
}

/**
 * Whether a partial result already shows a mismatch that no other shard can undo: a kind of
 * finding the scenario does not expect (the merge keeps every kind any shard found).
 */
export function definiteMismatch(r: CheckResult): boolean {
  if (r.units.run.length === r.units.total) return !r.matched;
  const expected = r.expected;
  if (expected === null || expected === "ok") return r.findings.length > 0;
  return r.findings.some((f) => !expected.includes(f.kind));
}
