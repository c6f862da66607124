// Checker benchmarks (the rows of the "checking at scale" issue):
// - check.random: raw simulated steps per second on one core, random strategy, on a
//   fault-heavy `ttm` scenario (every execution boots a kernel and runs the setup, as a check
//   does; those steps count).
// - check.boot: what that boot costs on its own: building the system of the same scenario, and
//   building it and running its setup, in microseconds, so that check.random's figure can be
//   split into boot and exploration.
// - check.dpor_reduction: for each built-in litmus with 3 or more tasks, executions of plain DFS
//   over the executions of DPOR, each with the scenario's own strategy (exhaustive, or bounded
//   with its preemption bound). Plain DFS gets at most DFS_SECONDS; when it does not finish,
//   the ratio is a lower bound (dfsComplete: false).
// - check.library_exhaustive: wall time of `faultline check scenarios/litmus` (the CLI, with its
//   default workers) on this machine, every scenario with its own strategy.
// - check.large: for each scenario of scenarios/large (four to six threads, eviction under
//   pressure, GPU jobs), the CLI's time to its verdict with the strategy the file names; the goal
//   is to find every known bug within a minute.
// - check.peak_memory: peak resident memory of a child process that checks the largest built-in
//   exhaustive scenario.

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { checkScenario, DEFAULT_MAX_STEPS } from "../src/scenarios/check.js";
import { loadScenario } from "../src/scenarios/loader.js";
import type { Scenario } from "../src/scenarios/scenario.js";
import { ScenarioSystem } from "../src/scenarios/system.js";
import { type Benchmark, type BenchRow, measureNs, round, timeMs } from "./harness.js";

const ROOT = join(import.meta.dirname, "..", "..");
const LITMUS = join(ROOT, "scenarios", "litmus");
const LARGE = join(ROOT, "scenarios", "large");
const CLI = join(ROOT, "dist", "src", "cli", "main.js");
const DFS_SECONDS = 60;
const RANDOM_SCENARIO = "l08-ttm";
const RANDOM_EXECUTIONS = 4000;
/** The built-in exhaustive check with the most executions. */
const LARGEST = "l12-ttm-gpu-write-then-move";

function litmus(): Array<{ file: string; scenario: Scenario }> {
  return readdirSync(LITMUS)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => {
      const file = join(LITMUS, f);
      return { file, scenario: loadScenario(readFileSync(file, "utf8"), file) };
    });
}

function randomRow(): BenchRow {
  const { file, scenario } = litmus().find((l) => l.scenario.name === RANDOM_SCENARIO)!;
  // Warm up the JIT on a few hundred executions first.
  checkScenario(scenario, { source: file, strategy: "random", executions: 300, seed: 7 });
  const { ms, value } = timeMs(() =>
    checkScenario(scenario, {
      source: file,
      strategy: "random",
      executions: RANDOM_EXECUTIONS,
      seed: 1,
    }),
  );
  return {
    name: "check.random",
    scenario: RANDOM_SCENARIO,
    executions: value.executions,
    steps: value.steps,
    stepsPerSec: Math.round(value.steps / (ms / 1000)),
    executionsPerSec: Math.round(value.executions / (ms / 1000)),
  };
}

function bootRow(): BenchRow {
  const { scenario } = litmus().find((l) => l.scenario.name === RANDOM_SCENARIO)!;
  const boots = 4000;
  const buildNs = measureNs(boots, () => new ScenarioSystem(scenario, false), 500);
  const setupNs = measureNs(
    boots,
    () => new ScenarioSystem(scenario, false).setup(DEFAULT_MAX_STEPS),
    500,
  );
  return {
    name: "check.boot",
    scenario: RANDOM_SCENARIO,
    buildUs: round(buildNs / 1000),
    buildAndSetupUs: round(setupNs / 1000),
  };
}

function reductionRows(): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const { file, scenario } of litmus()) {
    if (scenario.threads.length < 3) continue;
    const dpor = timeMs(() => checkScenario(scenario, { source: file }));
    const deadline = performance.now() + DFS_SECONDS * 1000;
    const dfs = timeMs(() =>
      checkScenario(scenario, {
        source: file,
        noReduction: true,
        shouldStop: () => performance.now() > deadline,
      }),
    );
    rows.push({
      name: "check.dpor_reduction",
      scenario: scenario.name,
      tasks: scenario.threads.length,
      strategy: dpor.value.strategy,
      dporExecutions: dpor.value.executions,
      dporMs: Math.round(dpor.ms),
      dfsExecutions: dfs.value.executions,
      dfsComplete: dfs.value.complete,
      ratio: round(dfs.value.executions / dpor.value.executions),
    });
  }
  return rows;
}

interface CliResult {
  readonly scenario: string;
  readonly strategy: string;
  readonly matched: boolean;
  readonly complete: boolean;
  readonly executions: number;
  readonly elapsedMs: number;
  readonly findings: ReadonlyArray<{ readonly kind: string }>;
}

/** `faultline check --json DIR` with the CLI's defaults: its wall time and one result per file. */
function checkDirectory(dir: string): { ms: number; status: number; results: CliResult[] } {
  const { ms, value } = timeMs(() =>
    spawnSync(process.execPath, [CLI, "check", "--json", dir], { encoding: "utf8" }),
  );
  const results = value.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as CliResult);
  return { ms, status: value.status ?? -1, results };
}

function libraryRow(): BenchRow {
  const { ms, status, results } = checkDirectory(LITMUS);
  return {
    name: "check.library_exhaustive",
    ms: Math.round(ms),
    scenarios: results.length,
    matched: results.filter((r) => r.matched).length,
    complete: results.filter((r) => r.complete).length,
    executions: results.reduce((n, r) => n + r.executions, 0),
    exitStatus: status,
  };
}

function largeRows(): BenchRow[] {
  return checkDirectory(LARGE).results.map((r) => ({
    name: "check.large",
    scenario: r.scenario,
    strategy: r.strategy,
    ms: r.elapsedMs,
    executions: r.executions,
    complete: r.complete,
    matched: r.matched,
    kinds: [...new Set(r.findings.map((f) => f.kind))].sort().join(",") || "ok",
  }));
}

function peakMemoryRow(): BenchRow {
  const script = `
    import { readFileSync } from "node:fs";
    import { checkScenario } from ${JSON.stringify(join(ROOT, "dist", "src", "scenarios", "check.js"))};
    import { loadScenario } from ${JSON.stringify(join(ROOT, "dist", "src", "scenarios", "loader.js"))};
    const file = ${JSON.stringify(join(LITMUS, `${LARGEST}.json`))};
    const r = checkScenario(loadScenario(readFileSync(file, "utf8"), file), { source: file });
    process.stdout.write(JSON.stringify({ executions: r.executions, complete: r.complete,
      maxRssKb: process.resourceUsage().maxRSS }));`;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  const out = JSON.parse(child.stdout) as {
    executions: number;
    complete: boolean;
    maxRssKb: number;
  };
  return {
    name: "check.peak_memory",
    scenario: LARGEST,
    executions: out.executions,
    complete: out.complete,
    peakRssMb: round(out.maxRssKb / 1024),
  };
}

export const benchmark: Benchmark = {
  group: "check",
  run: () => [
    randomRow(),
    bootRow(),
    ...reductionRows(),
    libraryRow(),
    ...largeRows(),
    peakMemoryRow(),
  ],
};
