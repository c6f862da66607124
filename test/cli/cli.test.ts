// The `faultline` command as users run it: exit statuses, one-line input errors that name the
// file and the JSON path, the JSON lines of the contract, and replay.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "./run_cli.js";

const dir = mkdtempSync(join(tmpdir(), "faultline-cli-"));
function scenarioFile(name: string, doc: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof doc === "string" ? doc : JSON.stringify(doc, null, 2));
  return path;
}

const GOOD = {
  format: "faultline/scenario@1",
  name: "nopfn-race",
  protocol: "nopfn",
  memory: { system: 24, tt: 8, vram: 8 },
  buffers: [{ name: "X", pages: 1, placement: "vram" }],
  processes: ["P"],
  setup: [{ op: "mmap", process: "P", buffer: "X", as: "x" }],
  threads: [
    { name: "T", process: "P", ops: [{ op: "store", map: "x", page: 0, value: 5 }] },
    { name: "M", ops: [{ op: "move", buffer: "X", to: "system" }] },
  ],
  expect: ["isolation-breach", "lost-write", "stale-mapping"],
};

describe("faultline check: input errors", () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ["not JSON", "{ nope", /not\.json: .*JSON/],
    ["an unknown field", { ...GOOD, extra: 1 }, /unknown field "extra"/],
    [
      "an unknown op",
      { ...GOOD, threads: [{ name: "T", ops: [{ op: "dance" }] }] },
      /threads\[0\]\.ops\[0\]\.op: /,
    ],
    [
      "an unknown mapping",
      {
        ...GOOD,
        threads: [
          GOOD.threads[0],
          { name: "U", process: "P", ops: [{ op: "load", map: "nope", page: 0 }] },
        ],
      },
      /threads\[1\]\.ops\[0\]\.map: /,
    ],
    [
      "a page out of range",
      { ...GOOD, threads: [{ name: "T", process: "P", ops: [{ op: "load", map: "x", page: 3 }] }] },
      /threads\[0\]\.ops\[0\]\.page: /,
    ],
    [
      "a negative size",
      { ...GOOD, buffers: [{ name: "X", pages: -1, placement: "vram" }] },
      /buffers\[0\]\.pages: /,
    ],
    ["a wrong type", { ...GOOD, memory: { system: "many" } }, /memory\.system: /],
    ["an unknown protocol", { ...GOOD, protocol: "magic" }, /protocol: /],
    [
      "an empty scenario",
      { format: "faultline/scenario@1", name: "empty", protocol: "ttm", threads: [] },
      /threads/,
    ],
  ];
  for (const [what, doc, message] of cases) {
    it(`${what}: exit status 2 and one line naming the file and the path`, () => {
      const file = scenarioFile(
        what === "not JSON" ? "not.json" : `${what.replace(/ /g, "-")}.json`,
        doc,
      );
      const r = run("check", file);
      expect(r.status).toBe(2);
      expect(r.out).toBe("");
      expect(r.err.trimEnd().split("\n")).toHaveLength(1);
      expect(r.err).toContain(file);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /);
    });
  }

  it("a missing file, a bad flag and a bad token are input errors too", () => {
    expect(run("check", join(dir, "absent.json")).status).toBe(2);
    expect(run("check", "--strategy", "psychic", scenarioFile("g.json", GOOD)).status).toBe(2);
    const bad = run("replay", "not-a-token");
    expect(bad.status).toBe(2);
    expect(bad.err).toMatch(/not a faultline replay token/);
  });
});

describe("faultline check: results", () => {
  it("prints one JSON object per scenario with every field of the contract", () => {
    const file = scenarioFile("good.json", GOOD);
    const r = run("check", "--json", file);
    expect(r.status).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines).toHaveLength(1);
    const json = JSON.parse(lines[0]!);
    for (const field of [
      "scenario",
      "protocol",
      "verdict",
      "findings",
      "expected",
      "matched",
      "complete",
      "executions",
      "steps",
      "elapsedMs",
    ]) {
      expect(json).toHaveProperty(field);
    }
    expect(json.scenario).toBe("nopfn-race");
    expect(json.protocol).toBe("nopfn");
    expect(json.matched).toBe(true);
    expect(json.complete).toBe(true);
    expect(json.expected).toEqual(GOOD.expect);
    for (const f of json.findings) {
      expect(Object.keys(f)).toEqual(expect.arrayContaining(["kind", "message", "replay"]));
      expect(f.replay).toMatch(/^fl1\./);
    }
  });

  it("exits 1 when a result does not match its expectation", () => {
    const file = scenarioFile("wrong.json", { ...GOOD, name: "wrong", expect: "ok" });
    const r = run("check", file);
    expect(r.status).toBe(1);
    expect(r.out).toContain("MISMATCH");
    expect(r.out).toContain("faultline replay fl1.");
  });

  it("replays a finding from its token, byte for byte the same trace every time", () => {
    const file = scenarioFile("replayable.json", GOOD);
    const json = JSON.parse(run("check", "--json", file).out.trim());
    const token: string = json.findings[0].replay;
    const a = join(dir, "a.json");
    const b = join(dir, "b.json");
    const first = run("replay", token, "--trace", a);
    const second = run("replay", token, "--trace", b);
    expect(first.status).toBe(1);
    expect(first.out).toContain(json.findings[0].kind);
    expect(second.out).toBe(first.out);
    expect(readFileSync(a, "utf8")).toBe(readFileSync(b, "utf8"));
    expect(readFileSync(a, "utf8").length).toBeGreaterThan(1000);
  });

  it("refuses a token whose scenario file has changed", () => {
    const file = scenarioFile("changing.json", GOOD);
    const token: string = JSON.parse(run("check", "--json", file).out.trim()).findings[0].replay;
    writeFileSync(file, JSON.stringify({ ...GOOD, description: "edited" }));
    const r = run("replay", token);
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/another version/);
  });

  it("says when a run was cut short", () => {
    const file = scenarioFile("short.json", {
      ...GOOD,
      name: "short",
      expect: "ok",
      protocol: "insert-pfn",
    });
    const json = JSON.parse(run("check", "--json", "--executions", "1", file).out.trim());
    expect(json.complete).toBe(false);
    expect(json.matched).toBe(false);
  });
});
