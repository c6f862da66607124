// Shards and `faultline merge`: the shards of a run, merged, print what one unsharded run
// prints (verdicts, findings, replay tokens, executions, steps, completeness); a shard says it
// is one; --shard and merge refuse bad input in one line with exit status 2.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { lines, run, timeless } from "./run_cli.js";

const LITMUS = join(import.meta.dirname, "..", "..", "scenarios", "litmus");
/** Two with findings over two units, a deadlock, an "ok" over two units, a kernel BUG. */
const FILES = [
  "l01-lock-all-abba",
  "l05-lock-all-object-first",
  "l07-nopage-no-truncate-check",
  "l07-nopage-truncate-check",
  "l10-remap-in-fault",
].map((name) => join(LITMUS, `${name}.json`));

const dir = mkdtempSync(join(tmpdir(), "faultline-merge-"));
function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const shardRuns = new Map<string, string[]>();

/** Runs each shard of `files` (once) and writes its JSON lines; returns their paths. */
function shards(count: number, flags: readonly string[] = [], files = FILES): string[] {
  const key = JSON.stringify([count, flags, files]);
  const known = shardRuns.get(key);
  if (known !== undefined) return known;
  const paths = Array.from({ length: count }, (_, i) => {
    const shard = `${i + 1}/${count}`;
    const r = run("check", "--json", "--workers", "1", "--shard", shard, ...flags, ...files);
    expect(r.err).toBe("");
    expect([0, 1]).toContain(r.status);
    return write(`shard-${i + 1}-of-${count}${flags.join("")}-${files.length}.jsonl`, r.out);
  });
  shardRuns.set(key, paths);
  return paths;
}

/** Human output without the clock: times in reports and tables, and the padding they set. */
function clockless(text: string): string {
  return text
    .replace(/\d+(\.\d+)? m?s(;|$)/gm, "T$2")
    .replace(/ +/g, " ")
    .replace(/-+( -+)*/g, "-");
}

describe("faultline merge", () => {
  let whole = { status: -1, out: "", err: "" };
  let expected: Array<Record<string, unknown>> = [];
  beforeAll(() => {
    whole = run("check", "--json", "--workers", "1", ...FILES);
    expected = lines(whole.out).map(timeless);
  }, 60_000);

  it("the unsharded run is the reference: some findings, one ok, all matched", () => {
    expect(whole.status).toBe(0);
    expect(expected.map((j) => j.verdict)).toEqual([
      "lock-order",
      "lock-order",
      "stale-mapping",
      "ok",
      "kernel-bug",
    ]);
    expect(expected.every((j) => j.complete === true)).toBe(true);
  });

  for (const count of [2, 3]) {
    it(`merging ${count} shards gives the unsharded run's JSON, replay tokens included`, () => {
      const files = shards(count);
      const parts = files.map((f) => lines(readFileSync(f, "utf8")));
      // Every shard has a line for every scenario, and the units are really split.
      for (const part of parts) expect(part).toHaveLength(FILES.length);
      const runs = parts.map((part) => part.map((j) => (j.unitResults as unknown[]).length));
      expect(runs.filter((r) => r.some((n) => n > 0)).length).toBe(count);
      const merged = run("merge", "--json", ...files);
      expect(merged.err).toBe("");
      expect(merged.status).toBe(0);
      expect(lines(merged.out).map(timeless)).toEqual(expected);
    }, 60_000);
  }

  it("the human report and summary of a merge are those of check, apart from the clock", () => {
    const files = shards(2);
    const merged = run("merge", ...files);
    expect(merged.status).toBe(0);
    expect(merged.out).toContain("l07-nopage-no-truncate-check: nopage (truncateCheck=false)");
    expect(merged.out).toMatch(/counterexample: \d+ steps/);
    expect(merged.out).toContain("5/5 scenarios matched their expectation");
    // The reports replay each finding, so this check is small: two scenarios, one with findings.
    const two = [FILES[2]!, FILES[3]!];
    const check = run("check", "--workers", "1", ...two);
    const parts = shards(2, [], two);
    // Each report, then the summary table.
    expect(check.out).toContain("2/2 scenarios matched their expectation");
    expect(clockless(run("merge", ...parts).out)).toBe(clockless(check.out));
  }, 60_000);

  it("writes the trace, Perfetto file and report page that check writes", () => {
    const two = [FILES[2]!, FILES[3]!];
    const parts = shards(2, [], two);
    const artifacts = (command: readonly string[], tag: string): string[] => {
      const out = ["trace.json", "perfetto.json", "report.html"].map((f) =>
        join(dir, `${tag}-${f}`),
      );
      const r = run(...command, "--trace", out[0]!, "--perfetto", out[1]!, "--html", out[2]!);
      expect(r.status).toBe(0);
      return out.map((f) => readFileSync(f, "utf8"));
    };
    const [trace, perfetto, html] = artifacts(["merge", ...parts], "merge");
    const fromCheck = artifacts(["check", "--workers", "1", ...two], "check");
    expect(trace).toBe(fromCheck[0]);
    expect(perfetto).toBe(fromCheck[1]);
    expect(html).toBe(fromCheck[2]);
    expect(html).toContain("<html");
  }, 60_000);

  it("a missing shard leaves the merge incomplete, and an ok unproven", () => {
    const [first] = shards(2);
    const merged = run("merge", "--json", first!);
    expect(merged.status).toBe(1);
    const ok = lines(merged.out).find((j) => j.scenario === "l07-nopage-truncate-check")!;
    expect(ok.complete).toBe(false);
    expect(ok.matched).toBe(false);
    expect(ok.stoppedBy).toBe("shard");
    expect(run("merge", first!).out).toContain("INCOMPLETE: ran 2 of 4 units");
  });
});

describe("a shard", () => {
  it("says it is a shard and incomplete, and leaves the verdict to the merge", () => {
    const r = run("check", "--workers", "1", "--shard", "1/2", FILES[3]!);
    expect(r.status).toBe(0);
    expect(r.out).toContain("[shard 1/2]");
    expect(r.out).toContain("INCOMPLETE: shard 1/2 ran 2 of 4 units");
    expect(r.out).toContain("undecided until the shards are merged");
  });

  it("exits 1 on a finding its scenario does not expect, whatever other shards find", () => {
    const text = readFileSync(FILES[2]!, "utf8").replace(/"expect": \[[^\]]*\]/, '"expect": "ok"');
    expect(text).toContain('"expect": "ok"');
    const file = write("l07-expects-ok.json", text);
    const results = [1, 2].map((i) =>
      run("check", "--json", "--workers", "1", "--shard", `${i}/2`, file),
    );
    expect(results.map((r) => r.status)).toContain(1);
  });

  for (const value of ["0/2", "3/2", "1/0", "2", "a/b", "1/2/3"]) {
    it(`--shard ${value} is an input error naming the flag`, () => {
      const r = run("check", "--shard", value, FILES[4]!);
      expect(r.status).toBe(2);
      expect(r.out).toBe("");
      expect(r.err.trimEnd().split("\n")).toHaveLength(1);
      expect(r.err).toContain("--shard");
    });
  }
});

describe("faultline merge: input errors", () => {
  function refuses(files: string[], message: RegExp): void {
    const r = run("merge", ...files);
    expect(r.status).toBe(2);
    expect(r.out).toBe("");
    expect(r.err.trimEnd().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /);
  }

  it("a missing file", () => {
    refuses([join(dir, "absent.jsonl")], /absent\.jsonl: no such file/);
  });

  it("a line that is not JSON, named by file and line", () => {
    const [good] = shards(1, [], [FILES[4]!]);
    const bad = write("bad.jsonl", `${readFileSync(good!, "utf8")}{ nope\n`);
    refuses([good!, bad], /bad\.jsonl:2: not JSON/);
  });

  it("the output of a check without --shard", () => {
    const plain = write("plain.jsonl", run("check", "--json", "--workers", "1", FILES[4]!).out);
    refuses([plain], /plain\.jsonl:1: .*not the output of check --json --shard/);
  });

  it("shards of different plans", () => {
    const one = shards(2, [], [FILES[0]!])[0]!;
    const other = shards(2, ["--executions", "7"], [FILES[0]!])[1]!;
    refuses(
      [one, other],
      /shard-2-of-2--executions7-1\.jsonl:1: scenario l01-lock-all-abba .*another plan/,
    );
  });

  it("a field of the wrong type, named by its path", () => {
    const [good] = shards(1, [], [FILES[0]!]);
    const json = lines(readFileSync(good!, "utf8"))[0]!;
    const units = json.unitResults as Array<Record<string, unknown>>;
    units[0]!.executions = "many";
    const bad = write("typed.jsonl", `${JSON.stringify(json)}\n`);
    refuses([bad], /typed\.jsonl:1: unitResults\[0\]\.executions: expected an integer/);
  });
});
