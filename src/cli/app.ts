// The `faultline` command (SCENARIO-FORMAT.md, "faultline check"): check scenario files or
// directories, replay a token. The only layer that touches the file system, the clock and the
// terminal; main.ts wires it to the process, tests call runCli with their own output.
//
// Exit status: 0 when every scenario's result matches its `expect` (for replay: the execution
// showed no finding), 1 otherwise, 2 on an input error, reported as one line without a stack.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { decodeToken, TokenError } from "../check/token.js";
import {
  type CheckResult,
  mergeUnits,
  planCheck,
  ReplayError,
  replayScenario,
  type UnitResult,
} from "../scenarios/check.js";
import { loadScenario, ScenarioError } from "../scenarios/loader.js";
import { type Scenario, STRATEGIES, type Strategy } from "../scenarios/scenario.js";
import { ScenarioSetupError } from "../scenarios/system.js";
import { MergeError, mergeShardFiles } from "./merge.js";
import {
  type CheckJob,
  defaultWorkers,
  runJobs,
  type UnitOptions,
  workersAvailable,
} from "./pool.js";
import { ProgressReporter } from "./progress.js";
import {
  definiteMismatch,
  type PlanJson,
  parseShard,
  planKey,
  type ShardSpec,
  shardItems,
  shardLabel,
  unitResultJson,
} from "./shard.js";
import {
  CheckArtifacts,
  registerViewCommand,
  ViewError,
  writePerfetto,
  writeTrace,
} from "./view.js";

/** An input error: printed as one line, exit status 2. */
class InputError extends Error {
  override readonly name = "InputError";
}

/** The package root (dist/src/cli/main.js or src/cli/main.ts are three or two levels down). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

const LIBRARY_DIR = join(packageRoot(), "scenarios", "litmus");

/** Every scenario file named on the command line: files as given, directories searched for *.json. */
function scenarioFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".json")) out.push(path);
    }
  };
  for (const path of paths) {
    if (!existsSync(path)) throw new InputError(`${path}: no such file or directory`);
    if (statSync(path).isDirectory()) walk(path);
    else out.push(path);
  }
  if (out.length === 0)
    throw new InputError(`${paths.join(", ")}: no scenario files (*.json) found`);
  return out;
}

/** Where a token should say the scenario came from: "litmus:<path>" inside the library. */
function sourceOf(file: string): string {
  const abs = resolve(file);
  if (abs.startsWith(LIBRARY_DIR + sep))
    return `litmus:${relative(LIBRARY_DIR, abs).split(sep).join("/")}`;
  return file;
}

function fileOfSource(source: string): string {
  return source.startsWith("litmus:") ? join(LIBRARY_DIR, source.slice("litmus:".length)) : source;
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    throw new InputError(`${file}: cannot read the file`);
  }
}

function readScenario(file: string): Scenario {
  return loadScenario(readText(file), file);
}

function integer(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${value}"`);
    return n;
  };
}

interface CheckFlags {
  json?: boolean;
  strategy?: Strategy;
  preemptionBound?: number;
  executions?: number;
  seed?: number;
  depth?: number;
  maxSteps?: number;
  timeLimit?: number;
  reduction?: boolean;
  summary?: boolean;
  trace?: string;
  perfetto?: string;
  html?: string;
  workers?: number;
  shard?: ShardSpec;
}

function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function protocolLabel(s: Scenario): string {
  const { name, ...options } = s.protocol as { name: string } & Record<string, unknown>;
  const opts = Object.entries(options).map(([k, v]) => `${k}=${v}`);
  return opts.length === 0 ? name : `${name} (${opts.join(", ")})`;
}

function expectedLabel(expected: CheckResult["expected"]): string {
  return expected === null ? "(none)" : expected === "ok" ? "ok" : expected.join(", ");
}

/**
 * What a report says about a scenario. `scenario` is there when its file could be read (always
 * for check; for merge when the file is where the shards found it), to replay counterexamples.
 */
interface Reported {
  readonly name: string;
  readonly protocol: string;
  readonly scenario: Scenario | undefined;
  readonly result: CheckResult;
  readonly elapsedMs: number;
  /** The shard that produced this partial result ("2/4"), if it is one. */
  readonly shard?: string;
}

function reported(
  s: Scenario,
  result: CheckResult,
  elapsedMs: number,
  shard: ShardSpec | undefined,
): Reported {
  const base = { name: s.name, protocol: protocolLabel(s), scenario: s, result, elapsedMs };
  return shard === undefined ? base : { ...base, shard: shardLabel(shard) };
}

/** Whether a shard's partial result cannot decide the scenario yet (other shards have units). */
function undecided(x: Reported): boolean {
  return (
    x.shard !== undefined &&
    x.result.units.run.length < x.result.units.total &&
    !definiteMismatch(x.result)
  );
}

/** The readable report of one scenario's check, with each counterexample replayed for its timeline. */
function printReport(x: Reported, maxSteps: number | undefined): void {
  const r = x.result;
  const out: string[] = [];
  out.push(`${x.name}: ${x.protocol}${x.shard === undefined ? "" : `   [shard ${x.shard}]`}`);
  const missing = r.units.total - r.units.run.length;
  const coverage = r.complete
    ? r.strategy === "bounded"
      ? `complete within the preemption bound (${r.coverage})`
      : `complete (${r.coverage})`
    : r.stoppedBy === "sampled"
      ? `sampled (${r.coverage}): it can find bugs, it cannot show there are none`
      : r.stoppedBy === "shard"
        ? `INCOMPLETE: ${x.shard === undefined ? "" : `shard ${x.shard} `}ran ${r.units.run.length} of ${r.units.total} units, ${missing} ${missing === 1 ? "is" : "are"} in other shards (faultline merge puts the shards' --json output together)`
        : `INCOMPLETE: stopped by the ${r.stoppedBy} limit before covering ${r.coverage}`;
  out.push(
    `  ${r.strategy}: ${r.executions} executions, ${r.steps} steps, ${formatSeconds(x.elapsedMs)}; ${coverage}`,
  );
  const verdict = undecided(x)
    ? "undecided until the shards are merged"
    : (x.shard === undefined ? r.matched : !definiteMismatch(r))
      ? "matched"
      : "MISMATCH";
  out.push(
    `  verdict${x.shard === undefined ? "" : " so far"}: ${r.verdict}   expected: ${expectedLabel(r.expected)}   ${verdict}`,
  );
  r.findings.forEach((f, i) => {
    out.push("", `  [${i + 1}] ${f.kind}: ${f.message}`);
    if (x.scenario === undefined) {
      out.push("      (the counterexample is not replayed here: the scenario file was not found)");
    } else {
      try {
        const replay = replayScenario(x.scenario, f.replay, maxSteps);
        out.push(
          `      counterexample: ${replay.steps} steps, ${f.preemptions} preemption${f.preemptions === 1 ? "" : "s"}`,
          "",
        );
        out.push(...replay.timeline.split("\n").map((l) => `      ${l}`));
      } catch (error) {
        out.push(`      (the counterexample did not replay: ${(error as Error).message})`);
      }
    }
    if (f.report !== undefined) out.push("", ...f.report.split("\n").map((l) => `      ${l}`));
    out.push("", `      faultline replay ${f.replay}`);
  });
  io.out(`${out.join("\n")}\n\n`);
}

function printTable(rows: readonly Reported[], shard: ShardSpec | undefined): void {
  const header = [
    "scenario",
    "protocol",
    "verdict",
    "expected",
    "match",
    "complete",
    "executions",
    "time",
  ];
  const cells = rows.map((x) => [
    x.name,
    x.protocol,
    x.result.verdict,
    expectedLabel(x.result.expected),
    undecided(x)
      ? "?"
      : (x.shard === undefined ? x.result.matched : !definiteMismatch(x.result))
        ? "yes"
        : "NO",
    x.result.complete ? "yes" : "no",
    String(x.result.executions),
    formatSeconds(x.elapsedMs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]): string =>
    c
      .map((x, i) => x.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  const matched = rows.filter((x) => x.result.matched).length;
  const open = rows.filter(undecided).length;
  const footer =
    shard === undefined
      ? `${matched}/${rows.length} scenarios matched their expectation`
      : `shard ${shardLabel(shard)}: ${rows.filter((x) => definiteMismatch(x.result)).length} of ${rows.length} scenarios mismatched, ${open} undecided until the shards are merged (faultline merge)`;
  io.out(
    `${[line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n")}\n\n${footer}\n`,
  );
}

/** The contract's JSON line of one scenario, with a shard's plan and unit results. */
function jsonLine(
  r: CheckResult,
  elapsedMs: number,
  file: string | undefined,
  shard?: {
    readonly spec: ShardSpec;
    readonly plan: PlanJson;
    readonly results: readonly UnitResult[];
  },
): string {
  const json = {
    scenario: r.scenario,
    protocol: r.protocol,
    verdict: r.verdict,
    findings: r.findings.map((f) => ({
      kind: f.kind,
      message: f.message,
      replay: f.replay,
      ...(f.report === undefined ? {} : { report: f.report }),
    })),
    expected: r.expected,
    matched: r.matched,
    complete: r.complete,
    executions: r.executions,
    steps: r.steps,
    elapsedMs: Math.round(elapsedMs),
    strategy: r.strategy,
    coverage: r.coverage,
    stoppedBy: r.stoppedBy,
    file,
    ...(shard === undefined
      ? {}
      : {
          shard: shardLabel(shard.spec),
          plan: shard.plan,
          unitResults: shard.results.map(unitResultJson),
        }),
  };
  return `${JSON.stringify(json)}\n`;
}

function unitOptions(flags: CheckFlags, source: string): UnitOptions {
  return {
    source,
    ...(flags.strategy === undefined ? {} : { strategy: flags.strategy }),
    ...(flags.preemptionBound === undefined ? {} : { preemptionBound: flags.preemptionBound }),
    ...(flags.executions === undefined ? {} : { executions: flags.executions }),
    ...(flags.seed === undefined ? {} : { seed: flags.seed }),
    ...(flags.depth === undefined ? {} : { depth: flags.depth }),
    ...(flags.maxSteps === undefined ? {} : { maxSteps: flags.maxSteps }),
    noReduction: flags.reduction === false,
  };
}

/** Exit status of a run: a shard fails only on a mismatch no other shard can undo. */
function exitStatus(rows: readonly Reported[]): number {
  return rows.every((x) => (x.shard === undefined ? x.result.matched : !definiteMismatch(x.result)))
    ? 0
    : 1;
}

function runCheck(paths: string[], flags: CheckFlags): number {
  const files = scenarioFiles(paths);
  const texts = files.map(readText);
  const scenarios = files.map((file, i) => loadScenario(texts[i]!, file));
  const options = files.map((file) => unitOptions(flags, sourceOf(file)));
  const plans = scenarios.map((s, i) => planCheck(s, options[i]!));
  const units = shardItems(plans, flags.shard);
  const jobs: CheckJob[] = files.map((file, i) => ({
    file,
    text: texts[i]!,
    scenario: scenarios[i]!,
    options: options[i]!,
    plan: plans[i]!,
    units: units[i]!,
  }));
  const workers = flags.workers ?? defaultWorkers();
  if (flags.workers !== undefined && flags.workers > 1 && !workersAvailable()) {
    throw new InputError(
      "--workers: worker threads need the compiled command (dist/src/cli/main.js, built by npm run build)",
    );
  }
  const rows: Reported[] = [];
  const progress = new ProgressReporter(!flags.json && io.progress);
  const artifacts = new CheckArtifacts(flags);
  progress.start();
  runJobs(jobs, {
    workers,
    ...(flags.timeLimit === undefined ? {} : { timeLimitMs: flags.timeLimit * 1000 }),
    ...(flags.shard === undefined ? {} : { label: `shard ${shardLabel(flags.shard)}` }),
    onProgress: (p) => progress.update(p),
    onJobDone: (i, results, ms) => {
      const s = scenarios[i]!;
      const r = mergeUnits(s, plans[i]!, results);
      const row = reported(s, r, ms, flags.shard);
      rows.push(row);
      artifacts.add(s, r, flags.maxSteps);
      if (flags.json) {
        const shard =
          flags.shard === undefined
            ? undefined
            : {
                spec: flags.shard,
                plan: {
                  units: plans[i]!.units.length,
                  key: planKey(s, options[i]!, plans[i]!),
                  maxSteps: plans[i]!.maxSteps,
                },
                results,
              };
        io.out(jsonLine(r, ms, files[i], shard));
      } else if (!flags.summary) {
        progress.pause();
        printReport(row, flags.maxSteps);
      }
    },
  });
  progress.stop();
  if (!flags.json && (rows.length > 1 || flags.summary)) printTable(rows, flags.shard);
  artifacts.finish();
  return exitStatus(rows);
}

/** What `merge` takes: how to print, and the artifacts `check` would write. */
interface MergeFlags {
  json?: boolean;
  summary?: boolean;
  trace?: string;
  perfetto?: string;
  html?: string;
}

/** `faultline merge`: the shards' JSON lines put together, printed as check prints them. */
function runMerge(files: string[], flags: MergeFlags): number {
  const merged = mergeShardFiles(files);
  const artifacts = new CheckArtifacts(flags);
  const rows: Reported[] = merged.map((m) => {
    let scenario: Scenario | undefined;
    if (m.file !== undefined && existsSync(m.file)) {
      try {
        scenario = loadScenario(readFileSync(m.file, "utf8"), m.file);
      } catch {
        scenario = undefined;
      }
    }
    return {
      name: m.subject.name,
      protocol: scenario === undefined ? m.subject.protocol.name : protocolLabel(scenario),
      scenario,
      result: m.result,
      elapsedMs: m.elapsedMs,
    };
  });
  rows.forEach((x, i) => {
    const { file, maxSteps } = merged[i]!;
    if (x.scenario !== undefined) artifacts.add(x.scenario, x.result, maxSteps);
    else if (artifacts.wanted && x.result.findings.length > 0) {
      io.err(
        `faultline: merge: the findings of ${x.name} are not replayed for --trace, --perfetto or --html: its scenario file ${file ?? "(unnamed)"} is not here or does not load\n`,
      );
    }
    if (flags.json) io.out(jsonLine(x.result, x.elapsedMs, file));
    else if (!flags.summary) printReport(x, maxSteps);
  });
  if (!flags.json && (rows.length > 1 || flags.summary)) printTable(rows, undefined);
  artifacts.finish();
  return exitStatus(rows);
}

function runReplay(
  token: string,
  flags: { trace?: string; scenario?: string; perfetto?: string },
): number {
  const decoded = decodeToken(token);
  const file = flags.scenario ?? fileOfSource(decoded.source);
  const s = readScenario(file);
  const replay = replayScenario(s, token);
  const out = [
    `${s.name}: ${protocolLabel(s)} — replay of ${replay.steps} steps`,
    "",
    replay.timeline,
  ];
  for (const f of replay.findings) {
    out.push("", `${f.kind}: ${f.message}`);
    if (f.report !== undefined) out.push("", f.report);
  }
  if (replay.findings.length === 0) out.push("", "no finding in this execution");
  io.out(`${out.join("\n")}\n`);
  if (flags.trace !== undefined) writeTrace(flags.trace, s.name, token, replay.events);
  if (flags.perfetto !== undefined) writePerfetto(flags.perfetto, s.name, token, replay.events);
  return replay.findings.length === 0 ? 0 : 1;
}

function main(argv: readonly string[]): number {
  const program = new Command();
  program
    .name("faultline")
    .description(
      "Explore the interleavings of buffer moves and page faults on a simulated Linux DRM TTM.",
    )
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: (s) => io.out(s) })
    .showHelpAfterError(false);
  let status = 0;
  program
    .command("check")
    .description("check scenario files or directories of them")
    .argument("<paths...>", "scenario files (*.json) or directories")
    .option("--json", "print one JSON object per scenario")
    .option("--summary", "print only the summary table, not each finding's counterexample")
    .option("--no-reduction", "exhaustive without partial-order reduction (plain DFS)")
    .addOption(new Option("--strategy <name>", "exploration strategy").choices(STRATEGIES))
    .option(
      "--preemption-bound <n>",
      "preemption bound for the bounded strategy",
      integer("--preemption-bound", 0),
    )
    .option("--executions <n>", "stop after this many executions", integer("--executions", 1))
    .option("--seed <n>", "seed for random and pct", integer("--seed", 0))
    .option("--depth <d>", "bug depth for pct", integer("--depth", 1))
    .option(
      "--max-steps <n>",
      "steps after which one execution is checked for livelock",
      integer("--max-steps", 10),
    )
    .option(
      "--time-limit <seconds>",
      "stop exploring a scenario after this long",
      integer("--time-limit", 1),
    )
    .option(
      "--workers <n>",
      "worker threads that share the units of the run (default: the number of CPUs; 1 runs in this thread)",
      integer("--workers", 1),
    )
    .option(
      "--shard <i/n>",
      "run only shard i of n of the run's units (1-based); merge the --json outputs with faultline merge",
      parseShard,
    )
    .option("--trace <out.json>", "write the trace of the first finding")
    .option("--perfetto <out.json>", "write the first finding in the Chrome trace event format")
    .option("--html <report.html>", "write a self-contained viewer page of every finding")
    .action((paths: string[], flags: CheckFlags) => {
      status = runCheck(paths, flags);
    });
  program
    .command("merge")
    .description("merge the --json outputs of check --shard i/n into the result of the whole check")
    .argument("<files...>", "files of JSON lines written by check --json --shard i/n")
    .option("--json", "print one JSON object per scenario")
    .option("--summary", "print only the summary table, not each finding's counterexample")
    .option("--trace <out.json>", "write the trace of the first finding")
    .option("--perfetto <out.json>", "write the first finding in the Chrome trace event format")
    .option("--html <report.html>", "write a self-contained viewer page of every finding")
    .action((files: string[], flags: MergeFlags) => {
      status = runMerge(files, flags);
    });
  program
    .command("replay")
    .description("replay a finding from its token")
    .argument("<token>", "the token a check printed")
    .option("--trace <out.json>", "write the trace of the replayed execution")
    .option("--perfetto <out.json>", "write the execution in the Chrome trace event format")
    .option("--scenario <file>", "the scenario file, when it is not where the token says")
    .action((token: string, flags: { trace?: string; scenario?: string; perfetto?: string }) => {
      status = runReplay(token, flags);
    });
  registerViewCommand(program, {
    out: (text) => io.out(text),
    readScenario,
    fileOfSource,
    setStatus: (s) => {
      status = s;
    },
  });
  program.parse(argv as string[], { from: "user" });
  return status;
}

/** Where the command writes. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** Show a progress bar (stderr is a terminal). */
  readonly progress: boolean;
}

let io: CliIO = { out: () => {}, err: () => {}, progress: false };

/**
 * Runs the command with `argv` (without "node faultline"), writing to `output`. Returns the
 * exit status: 0, 1 (a mismatch or a finding), or 2 (an input error, reported in one line).
 */
export function runCli(argv: readonly string[], output: CliIO): number {
  io = output;
  try {
    return main(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return 0;
      io.err(`faultline: ${error.message.replace(/^error: /, "")}\n`);
      return 2;
    }
    if (
      error instanceof ScenarioError ||
      error instanceof InputError ||
      error instanceof TokenError ||
      error instanceof ReplayError ||
      error instanceof ScenarioSetupError ||
      error instanceof ViewError ||
      error instanceof MergeError
    ) {
      io.err(`faultline: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
