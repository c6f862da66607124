// The viewer's reading of a trace: the state after a step (locks, buffers, PTEs), stale PTEs,
// the wait-for cycle of a deadlock, the decisive step of a finding and its one-sentence
// explanation, and the slices drawn as bars. Checked on litmus counterexamples, with the steps
// that matter read from the trace itself.
import { describe, expect, it } from "vitest";
import type { FindingEvent, TraceEvent } from "../../src/trace/index.js";
import {
  bufferViews,
  decisiveStep,
  explainFinding,
  findingsOf,
  lastStepOf,
  slicesOf,
  snapshotAt,
  tasksOf,
  waitCycle,
} from "../../src/viewer/model.js";
import { counterexample } from "./traces.js";

function finding(events: readonly TraceEvent[], kind: string): FindingEvent {
  const f = findingsOf(events).find((e) => e.kind === kind);
  if (f === undefined) throw new Error(`no ${kind} finding`);
  return f;
}

function taskId(events: readonly TraceEvent[], name: string): number {
  const t = tasksOf(events).find((x) => x.name === name);
  if (t === undefined) throw new Error(`no task ${name}`);
  return t.id;
}

describe("L7-nopage-truncate-race: the stale PTE", () => {
  const { events } = counterexample("l07-nopage-no-truncate-check", "stale-mapping");
  const f = finding(events, "stale-mapping");
  const install = events.find(
    (e): e is Extract<TraceEvent, { type: "pte-install" }> =>
      e.type === "pte-install" && e.step > 15,
  )!;

  it("at the finding's step, X's only PTE is present and stale: X is in VRAM, the PTE maps its old page", () => {
    const [x] = bufferViews(snapshotAt(events, f.step));
    expect(x!.name).toBe("X");
    expect(x!.place).toBe("vram");
    expect(x!.ptes).toEqual([
      expect.objectContaining({ process: "P", map: "x", page: 0, pfn: install.pfn, stale: true }),
    ]);
    expect(x!.pages[0]!.pfn).not.toBe(install.pfn);
  });

  it("before T installs the PTE there is none, so nothing is stale", () => {
    const [x] = bufferViews(snapshotAt(events, install.step - 1));
    expect(x!.ptes).toEqual([expect.objectContaining({ pfn: null, stale: false })]);
  });

  it("became inevitable when M placed X in VRAM, and the sentence says so", () => {
    const m = taskId(events, "M");
    const lastMove = events.filter(
      (e) => e.type === "placement" && e.task === m && e.step < f.step && e.place === "vram",
    );
    const d = decisiveStep(events, f);
    expect(d?.finding).toEqual({ step: f.step, task: taskId(events, "T") });
    expect(d?.other).toEqual(
      expect.objectContaining({ step: lastMove.at(-1)!.step, task: m, key: "buffer:X" }),
    );
    const text = explainFinding(events, f);
    expect(text).toMatch(new RegExp(`^At step ${f.step}, T's user store of X\\[0\\]`));
    expect(text).toContain(
      `inevitable since step ${lastMove.at(-1)!.step}, when M did "X placed in vram`,
    );
  });

  it("the final verification's lost write is attributed to the task that ran its step", () => {
    const lost = finding(events, "lost-write");
    expect(lost.task).toBe(0);
    expect(decisiveStep(events, lost)?.finding.task).toBe(taskId(events, "T"));
  });

  it("slices: the fault and the read-held mmap_lock on T, the three hops of M's move", () => {
    const slices = slicesOf(events);
    const t = taskId(events, "T");
    const begin = events.find((e) => e.type === "span-begin" && e.span === "fault")!;
    const end = events.find((e) => e.type === "span-end" && e.span === "fault")!;
    expect(slices).toContainEqual(
      expect.objectContaining({
        task: t,
        kind: "fault",
        start: begin.step,
        end: end.step,
        open: false,
      }),
    );
    expect(slices).toContainEqual(
      expect.objectContaining({ task: t, kind: "lock", name: "P.mmap_lock (read)" }),
    );
    const m = taskId(events, "M");
    expect(
      slices.filter((s) => s.task === m && s.kind === "move").map((s) => s.args.detail),
    ).toEqual(["system -> vram", "system -> tt", "tt -> vram"]);
    for (const s of slices) expect(s.end).toBeGreaterThan(s.start);
    // A lock taken and released within one step is no slice.
    expect(slices.some((s) => s.kind === "lock" && s.name === "simdrm.lru_lock")).toBe(false);
  });
});

describe("L18-reserve-abba: the wait-for cycle", () => {
  const { events } = counterexample("l18-reserve-abba", "deadlock");
  const f = finding(events, "deadlock");
  const a = taskId(events, "A");
  const b = taskId(events, "B");

  it("at the finding's step A waits for B and B for A", () => {
    const snap = snapshotAt(events, f.step);
    expect(waitCycle(snap)).toEqual([a, b]);
    expect(snap.tasks.get(a)!.waitingFor?.lock).toBe("Y.resv");
    expect(snap.tasks.get(b)!.waitingFor?.lock).toBe("X.resv");
    expect(snap.tasks.get(a)!.held.map((h) => h.lock)).toEqual(["X.resv"]);
  });

  it("before the second wait there is no cycle", () => {
    expect(waitCycle(snapshotAt(events, f.step - 1))).toBeNull();
  });

  it("became inevitable when B took Y.resv", () => {
    const takeY = events.find(
      (e) => e.type === "lock-acquire" && e.task === b && e.lock === "Y.resv",
    )!;
    expect(decisiveStep(events, f)?.other).toEqual(
      expect.objectContaining({ step: takeY.step, task: b, key: "Y.resv" }),
    );
    expect(explainFinding(events, f)).toBe(
      `At step ${f.step}, A and B deadlock: A waits for Y.resv held by B, B waits for X.resv held by A — inevitable since step ${takeY.step}, when B did "lock Y.resv"; after that A depended on no other task.`,
    );
  });

  it("the waits are open slices to the end of the trace", () => {
    const end = lastStepOf(events) + 1;
    expect(slicesOf(events).filter((s) => s.kind === "wait")).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ task: a, name: "waits for Y.resv", end, open: true }),
        expect.objectContaining({ task: b, name: "waits for X.resv", end, open: true }),
      ]),
    );
  });

  it("lockdep's recursive-locking report needs no other task: no decisive step", () => {
    const { events: lockdep } = counterexample("l18-reserve-abba", "lock-order");
    const d = decisiveStep(lockdep, finding(lockdep, "lock-order"));
    expect(d?.other).toBeNull();
    expect(explainFinding(lockdep, finding(lockdep, "lock-order"))).toContain(
      "no other task's step was involved",
    );
  });
});

describe("L13-ttm-read-into-own-mapping: a task waiting on itself", () => {
  it("is a cycle of one", () => {
    const { events } = counterexample("l13-ttm-read-into-own-mapping", "deadlock");
    const f = finding(events, "deadlock");
    expect(waitCycle(snapshotAt(events, f.step))).toEqual([taskId(events, "T")]);
    expect(explainFinding(events, f)).toMatch(
      /T deadlocks on itself: T waits for X\.resv held by T/,
    );
  });
});
