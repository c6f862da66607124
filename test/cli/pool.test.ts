// `check --workers N` on worker threads: the same JSON whatever N is, tokens found by a worker
// that replay in this thread, a time limit that stops the workers, shards run on workers that
// merge into the unsharded result, a worker that cannot load reported instead of waited for.
// Workers need JavaScript, so these tests run the command compiled from this source tree
// (compiled_cli.ts); runJobs itself is also run here, in this thread.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/app.js";
import { type CheckJob, runJobs } from "../../src/cli/pool.js";
import type { RunProgress } from "../../src/cli/progress.js";
import { planCheck, replayScenario, type UnitResult } from "../../src/scenarios/check.js";
import { loadScenario } from "../../src/scenarios/loader.js";
import { compileCli, runCompiled } from "./compiled_cli.js";
import { lines, timeless } from "./run_cli.js";

const LITMUS = join(import.meta.dirname, "..", "..", "scenarios", "litmus");
/** Findings over two units, a deadlock, two that are ok, a kernel BUG; a few seconds in all. */
const FILES = [
  "l01-lock-all-abba",
  "l05-lock-all-object-first",
  "l05-lock-all",
  "l07-nopage-no-truncate-check",
  "l09-insert-pfn-sibling-faults",
  "l10-remap-in-fault",
].map((name) => join(LITMUS, `${name}.json`));

let main = "";
beforeAll(async () => {
  main = await compileCli();
}, 60_000);

describe("check --workers", () => {
  let one: Array<Record<string, unknown>> = [];
  let two: Array<Record<string, unknown>> = [];

  it("--workers 2 prints the JSON of --workers 1, apart from the clock", () => {
    const a = runCompiled(main, ["check", "--json", "--workers", "1", ...FILES]);
    const b = runCompiled(main, ["check", "--json", "--workers", "2", ...FILES]);
    expect(a.err).toBe("");
    expect(b.err).toBe("");
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    one = lines(a.out);
    two = lines(b.out);
    expect(two.map((j) => j.scenario)).toEqual(one.map((j) => j.scenario));
    expect(two.map(timeless)).toEqual(one.map(timeless));
    expect(two.filter((j) => (j.findings as unknown[]).length > 0).length).toBeGreaterThan(2);
  }, 60_000);

  it("a replay token found by a worker replays in this thread", () => {
    expect(two).toHaveLength(FILES.length);
    let replayed = 0;
    two.forEach((json, i) => {
      const scenario = loadScenario(readFileSync(FILES[i]!, "utf8"), FILES[i]!);
      for (const f of json.findings as Array<{ kind: string; replay: string }>) {
        const replay = replayScenario(scenario, f.replay);
        expect(replay.findings.map((x) => x.kind)).toContain(f.kind);
        replayed++;
      }
    });
    expect(replayed).toBeGreaterThan(3);
  });

  it("shards run on workers merge into the unsharded result", () => {
    const dir = dirname(main);
    const files = [1, 2].map((i) => {
      const r = runCompiled(main, [
        "check",
        "--json",
        "--workers",
        "2",
        "--shard",
        `${i}/2`,
        ...FILES,
      ]);
      expect(r.err).toBe("");
      const file = join(dir, `shard-${i}.jsonl`);
      writeFileSync(file, r.out);
      return file;
    });
    const merged = runCompiled(main, ["merge", "--json", ...files]);
    expect(merged.status).toBe(0);
    expect(lines(merged.out).map(timeless)).toEqual(one.map(timeless));
  }, 60_000);

  it("--time-limit stops the units running on workers", () => {
    // Checking L12 completely takes half a minute on one core.
    const file = join(LITMUS, "l12-ttm-gpu-write-then-move.json");
    const r = runCompiled(main, ["check", "--json", "--workers", "2", "--time-limit", "1", file]);
    expect(r.err).toBe("");
    expect(r.status).toBe(1);
    const [json] = lines(r.out);
    expect(json!.stoppedBy).toBe("time");
    expect(json!.complete).toBe(false);
    expect(json!.matched).toBe(false);
    expect(json!.elapsedMs as number).toBeLessThan(10_000);
  }, 60_000);

  it("a worker that cannot load its script is an error, not a hang", () => {
    const worker = join(dirname(main), "worker.js");
    const good = readFileSync(worker, "utf8");
    writeFileSync(worker, "throw new Error('this worker is broken');\n");
    try {
      const r = runCompiled(main, ["check", "--json", "--workers", "2", FILES[0]!]);
      expect(r.status).not.toBe(0);
      expect(r.err).toContain("this worker is broken");
    } finally {
      writeFileSync(worker, good);
    }
  }, 60_000);

  it("from the TypeScript sources, --workers 2 asks for the compiled command", () => {
    let err = "";
    const status = runCli(["check", "--workers", "2", FILES[4]!], {
      out: () => {},
      err: (s) => (err += s),
      progress: false,
    });
    expect(status).toBe(2);
    expect(err).toMatch(/^faultline: --workers: .*npm run build/);
  });
});

describe("runJobs", () => {
  it("passes on each scenario in file order, and progress up to all explored", () => {
    const jobs: CheckJob[] = [FILES[2]!, FILES[1]!, FILES[5]!].map((file) => {
      const text = readFileSync(file, "utf8");
      const scenario = loadScenario(text, file);
      const options = { source: file };
      const plan = planCheck(scenario, options);
      return { file, text, scenario, options, plan, units: plan.units };
    });
    const done: Array<{ job: number; units: number[] }> = [];
    const seen: RunProgress[] = [];
    runJobs(jobs, {
      workers: 1,
      onProgress: (p) => seen.push(p),
      onJobDone: (job, results: readonly UnitResult[]) =>
        done.push({ job, units: results.map((r) => r.unit) }),
    });
    expect(done.map((d) => d.job)).toEqual([0, 1, 2]);
    expect(done[0]!.units).toEqual(jobs[0]!.plan.units.map((u) => u.index));
    const last = seen.at(-1)!;
    expect(last.explored).toBe(1);
    expect(last.executions).toBeGreaterThan(0);
    for (const [a, b] of seen.slice(1).map((p, i) => [seen[i]!, p] as const))
      expect(b.executions).toBeGreaterThanOrEqual(a.executions);
    expect(seen.map((p) => p.label)).toContain("l05-lock-all (1/3)");
  }, 60_000);
});
