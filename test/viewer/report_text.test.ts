// The text side of seeing a counterexample (issue 6): the per-task timeline fits a mail and
// cuts nothing off, and the deadlock report is laid out as the kernel's hung-task report.
// (The sources are src/scenarios/report.ts and system.ts; the tests live with the viewer's.)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkScenario, replayScenario } from "../../src/scenarios/check.js";
import { loadScenario } from "../../src/scenarios/loader.js";
import { TIMELINE_WIDTH, wrapText } from "../../src/scenarios/report.js";
import { LITMUS_DIR } from "./traces.js";

function check(name: string) {
  const file = join(LITMUS_DIR, `${name}.json`);
  const scenario = loadScenario(readFileSync(file, "utf8"), file);
  return { scenario, result: checkScenario(scenario, { source: `litmus:${name}.json` }) };
}

describe("wrapText", () => {
  it("breaks at spaces and keeps every word", () => {
    expect(wrapText("lock P.mmap_lock (read) then fault", 12)).toEqual([
      "lock",
      "P.mmap_lock",
      "(read) then",
      "fault",
    ]);
  });

  it("breaks a word longer than a line inside it", () => {
    expect(wrapText("x 0123456789abcdef", 10)).toEqual(["x 01234567", "89abcdef"]);
  });
});

describe("timeline: pastes into a mail", () => {
  for (const name of [
    "l03-lock-all-fork",
    "l07-nopage-no-truncate-check",
    "l13-ttm-read-into-own-mapping",
    "l18-reserve-abba",
  ]) {
    it(`${name}: no line wider than ${TIMELINE_WIDTH} columns, nothing cut off`, () => {
      const { scenario, result } = check(name);
      for (const f of result.findings) {
        const text = replayScenario(scenario, f.replay).timeline;
        const lines = text.split("\n");
        expect(lines.filter((l) => l.length > TIMELINE_WIDTH)).toEqual([]);
        expect(text).not.toMatch(/~$/m);
        // The finding's message is all there, once its wrapped lines are joined again.
        expect(text.replace(/\n {5} +/g, " ")).toContain(f.message);
      }
    }, 60_000);
  }
});

describe("deadlock report: the hung-task layout", () => {
  it("L18: each blocked task, its call trace and blocker, then every lock held", () => {
    const { result } = check("l18-reserve-abba");
    const report = result.findings.find((f) => f.kind === "deadlock")!.report!;
    const lines = report.split("\n");
    const task = (name: string): string => {
      const m = report.match(new RegExp(`INFO: task ${name}:(\\d+) blocked`));
      if (m === null) throw new Error(`no INFO line for ${name}`);
      return `${name}:${m[1]}`;
    };
    const a = task("A");
    const b = task("B");
    const at = lines.indexOf(`INFO: task ${a} blocked for more than 120 seconds.`);
    expect(lines.slice(at, at + 13)).toEqual([
      `INFO: task ${a} blocked for more than 120 seconds.`,
      `"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.`,
      `task:A               state:D pid:${a.split(":")[1]}`,
      "Call Trace:",
      " <TASK>",
      " __schedule",
      " schedule",
      " schedule_preempt_disabled",
      " __ww_mutex_lock",
      " ww_mutex_lock",
      " simdrm_reserve_ioctl",
      " </TASK>",
      `INFO: task ${a} is blocked on a mutex (Y.resv) likely owned by task ${b}.`,
    ]);
    const locks = lines.indexOf("Showing all locks held in the system:");
    expect(locks).toBeGreaterThan(at);
    expect(lines[locks + 1]).toBe(`2 locks held by A/${a.split(":")[1]}:`);
    expect(lines).toContain("=============================================");
    expect(lines.at(-1)).toBe("wait-for cycle: A -> B -> A");
    // The idle worker and GPU engine sleep interruptibly: the kernel would not report them.
    expect(report).not.toMatch(/kworker|gpu:gfx/);
    expect(lines.filter((l) => l.length > TIMELINE_WIDTH)).toEqual([]);
  }, 60_000);

  it("L6: a read-held rw-semaphore taken again for write blocks in down_write, owned by itself", () => {
    const { result } = check("l06-lock-all-fault-move");
    const report = result.findings.find((f) => f.kind === "deadlock")!.report!;
    expect(report).toMatch(/ rwsem_down_write_slowpath\n down_write\n drm_ttm_lock_mmap_sem\n/);
    expect(report).toMatch(
      /INFO: task T:(\d+) is blocked on an rw-semaphore \(P\.mmap_lock\) likely owned by task T:\1\./,
    );
    expect(report.split("\n").at(-1)).toBe("wait-for cycle: T -> T");
  }, 60_000);
});
