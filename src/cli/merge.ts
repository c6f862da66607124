// `faultline merge FILE...`: reads the JSON lines that `check --json --shard i/n` printed,
// groups them by scenario and strategy, checks that they come from the same plan, and merges
// each group's unit results with mergeUnits, so that the result is the one an unsharded check
// prints. A missing unit (a shard not given) leaves the scenario incomplete, not an error.

import { readFileSync } from "node:fs";
import {
  type CheckResult,
  type CheckSubject,
  mergeUnits,
  type ScenarioFinding,
  type UnitResult,
} from "../scenarios/check.js";
import {
  FINDING_KINDS,
  type FindingKind,
  STRATEGIES,
  type Strategy,
} from "../scenarios/scenario.js";

/** An input error of merge: one line naming the file (and line), exit status 2. */
export class MergeError extends Error {
  override readonly name = "MergeError";
}

/** One scenario put together from its shards. */
export interface MergedScenario {
  readonly subject: CheckSubject;
  readonly result: CheckResult;
  /** The scenario file as the shards named it. */
  readonly file: string | undefined;
  /** The shards' times added up. */
  readonly elapsedMs: number;
  readonly maxSteps: number;
}

interface Group {
  readonly subject: CheckSubject;
  readonly strategy: Strategy;
  readonly total: number;
  readonly key: string;
  readonly maxSteps: number;
  readonly file: string | undefined;
  /** Where the group was first seen ("a.jsonl:3"). */
  readonly where: string;
  readonly results: Map<number, { readonly result: UnitResult; readonly where: string }>;
  elapsedMs: number;
}

type Json = Readonly<Record<string, unknown>>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Reads one line's fields, failing with the file, the line and the field. */
class LineReader {
  constructor(readonly where: string) {}

  fail(path: string, what: string): never {
    throw new MergeError(`${this.where}: ${path}: ${what}`);
  }

  string(o: Json, key: string, path = key): string {
    const v = o[key];
    if (typeof v !== "string") this.fail(path, "expected a string");
    return v;
  }

  count(o: Json, key: string, path = key): number {
    const v = o[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
      this.fail(path, "expected an integer >= 0");
    return v;
  }

  boolean(o: Json, key: string, path = key): boolean {
    const v = o[key];
    if (typeof v !== "boolean") this.fail(path, "expected true or false");
    return v;
  }

  object(o: Json, key: string, path = key): Json {
    const v = o[key];
    if (!isObject(v)) this.fail(path, "expected an object");
    return v;
  }

  array(o: Json, key: string, path = key): readonly unknown[] {
    const v = o[key];
    if (!Array.isArray(v)) this.fail(path, "expected an array");
    return v;
  }

  kind(o: Json, key: string, path = key): FindingKind {
    const v = this.string(o, key, path);
    if (!(FINDING_KINDS as readonly string[]).includes(v)) this.fail(path, "not a finding kind");
    return v as FindingKind;
  }

  expected(o: Json): CheckSubject["expected"] {
    const v = o.expected;
    if (v === null || v === "ok") return v;
    if (!Array.isArray(v)) this.fail("expected", 'expected null, "ok" or a list of finding kinds');
    return v.map((_, i) => this.kind(v as unknown as Json, String(i), `expected[${i}]`));
  }

  finding(v: unknown, path: string): ScenarioFinding {
    if (!isObject(v)) this.fail(path, "expected an object");
    const base = {
      kind: this.kind(v, "kind", `${path}.kind`),
      message: this.string(v, "message", `${path}.message`),
      replay: this.string(v, "replay", `${path}.replay`),
      steps: this.count(v, "steps", `${path}.steps`),
      preemptions: this.count(v, "preemptions", `${path}.preemptions`),
      unit: this.count(v, "unit", `${path}.unit`),
      execution: this.count(v, "execution", `${path}.execution`),
    };
    return v.report === undefined
      ? base
      : { ...base, report: this.string(v, "report", `${path}.report`) };
  }

  unitResult(v: unknown, path: string): UnitResult {
    if (!isObject(v)) this.fail(path, "expected an object");
    return {
      unit: this.count(v, "unit", `${path}.unit`),
      executions: this.count(v, "executions", `${path}.executions`),
      steps: this.count(v, "steps", `${path}.steps`),
      complete: this.boolean(v, "complete", `${path}.complete`),
      stoppedBy: this.string(v, "stoppedBy", `${path}.stoppedBy`),
      coverage: this.string(v, "coverage", `${path}.coverage`),
      findings: this.array(v, "findings", `${path}.findings`).map((f, i) =>
        this.finding(f, `${path}.findings[${i}]`),
      ),
    };
  }
}

/** Reads every file and merges each scenario; throws MergeError on bad input. */
export function mergeShardFiles(files: readonly string[]): MergedScenario[] {
  const groups = new Map<string, Group>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      const missing = (error as { code?: string }).code === "ENOENT";
      throw new MergeError(`${file}: ${missing ? "no such file" : "cannot read the file"}`);
    }
    text.split("\n").forEach((line, i) => {
      if (line.trim() === "") return;
      readLine(new LineReader(`${file}:${i + 1}`), line, groups);
    });
  }
  if (groups.size === 0)
    throw new MergeError(`${files.join(", ")}: no results of check --json --shard`);
  return [...groups.values()].map((g) => ({
    subject: g.subject,
    result: mergeUnits(
      g.subject,
      {
        strategy: g.strategy,
        units: Array.from({ length: g.total }, (_, index) => ({ index })),
      },
      [...g.results.values()].map((r) => r.result),
    ),
    file: g.file,
    elapsedMs: g.elapsedMs,
    maxSteps: g.maxSteps,
  }));
}

function readLine(r: LineReader, line: string, groups: Map<string, Group>): void {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (error) {
    throw new MergeError(`${r.where}: not JSON (${(error as Error).message})`);
  }
  if (!isObject(json)) r.fail("(line)", "expected a JSON object, one per line");
  const name = r.string(json, "scenario");
  if (json.unitResults === undefined || json.plan === undefined) {
    throw new MergeError(
      `${r.where}: scenario ${name} has no plan and unitResults: not the output of check --json --shard i/n`,
    );
  }
  const strategy = r.string(json, "strategy");
  if (!(STRATEGIES as readonly string[]).includes(strategy)) r.fail("strategy", "unknown strategy");
  const plan = r.object(json, "plan");
  const total = r.count(plan, "units", "plan.units");
  const key = r.string(plan, "key", "plan.key");
  const maxSteps = r.count(plan, "maxSteps", "plan.maxSteps");
  const subject: CheckSubject = {
    name,
    protocol: { name: r.string(json, "protocol") },
    expected: r.expected(json),
  };
  const results = r.array(json, "unitResults").map((u, i) => r.unitResult(u, `unitResults[${i}]`));
  const elapsedMs = typeof json.elapsedMs === "number" ? json.elapsedMs : 0;
  const groupKey = `${name}\u0000${strategy}`;
  let group = groups.get(groupKey);
  if (group === undefined) {
    group = {
      subject,
      strategy: strategy as Strategy,
      total,
      key,
      maxSteps,
      file: typeof json.file === "string" ? json.file : undefined,
      where: r.where,
      results: new Map(),
      elapsedMs: 0,
    };
    groups.set(groupKey, group);
  } else if (group.key !== key || group.total !== total) {
    throw new MergeError(
      `${r.where}: scenario ${name} (${strategy}) was checked with another plan than in ${group.where} (another version of the scenario file, or other check options); shards must come from the same command`,
    );
  }
  group.elapsedMs += elapsedMs;
  for (const result of results) {
    if (result.unit >= total)
      r.fail("unitResults", `unit ${result.unit} is outside the plan's ${total} units`);
    const seen = group.results.get(result.unit);
    if (seen === undefined) group.results.set(result.unit, { result, where: r.where });
    else if (JSON.stringify(seen.result) !== JSON.stringify(result)) {
      throw new MergeError(
        `${r.where}: unit ${result.unit} of scenario ${name} is also in ${seen.where}, with another result`,
      );
    }
  }
}
