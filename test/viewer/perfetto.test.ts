// The Perfetto export against the Chrome trace event format: known phases, numeric pids and
// tids, every B closed by its E on the same track and in order, X slices with dur >= 0 that
// nest on their track, flows that pair up and land on a slice, counters with numeric values,
// and names for every process and thread. Then what the export of L7 and L18 must show.
import { describe, expect, it } from "vitest";
import type { FindingEvent, TraceEvent } from "../../src/trace/index.js";
import { type ChromeTrace, type ChromeTraceEvent, toPerfetto } from "../../src/viewer/perfetto.js";
import { counterexample, counterexamples } from "./traces.js";

/** Phases of the Chrome trace event format (the "Trace Event Format" document). */
const PHASES = new Set([
  "B",
  "E",
  "X",
  "i",
  "I",
  "C",
  "b",
  "n",
  "e",
  "s",
  "t",
  "f",
  "P",
  "N",
  "O",
  "D",
  "M",
  "V",
  "v",
  "R",
  "c",
  "(",
  ")",
]);

type Loose = Record<string, unknown>;

/** Everything wrong with `trace` as a Chrome trace event format document. */
function problems(trace: unknown): string[] {
  const out: string[] = [];
  if (typeof trace !== "object" || trace === null || !Array.isArray((trace as Loose).traceEvents))
    return ["no traceEvents array"];
  const events = (trace as { traceEvents: Loose[] }).traceEvents;
  const track = (e: Loose): string => `${e.pid}/${e.tid}`;
  const named = new Set<string>();
  const namedProcesses = new Set<number>();
  const open = new Map<string, Loose[]>();
  const slices = new Map<string, Array<{ ts: number; end: number }>>();
  const flows = new Map<number, Loose[]>();
  let lastTs = Number.NEGATIVE_INFINITY;
  events.forEach((e, i) => {
    const at = `event ${i} (${JSON.stringify(e).slice(0, 80)})`;
    if (typeof e.ph !== "string" || !PHASES.has(e.ph)) out.push(`${at}: unknown phase`);
    if (typeof e.name !== "string") out.push(`${at}: name is not a string`);
    if (!Number.isInteger(e.pid) || !Number.isInteger(e.tid))
      out.push(`${at}: pid/tid not integers`);
    if (typeof e.ts !== "number" || !Number.isFinite(e.ts) || e.ts < 0) out.push(`${at}: bad ts`);
    if (e.ph === "M") {
      if (e.name === "thread_name") named.add(track(e));
      if (e.name === "process_name") namedProcesses.add(e.pid as number);
      return;
    }
    if ((e.ts as number) < lastTs) out.push(`${at}: ts goes backwards`);
    lastTs = e.ts as number;
    switch (e.ph) {
      case "B": {
        const stack = open.get(track(e)) ?? [];
        open.set(track(e), stack);
        stack.push(e);
        break;
      }
      case "E": {
        const b = open.get(track(e))?.pop();
        if (b === undefined) out.push(`${at}: E without B on its track`);
        else if ((b.ts as number) > (e.ts as number)) out.push(`${at}: E before its B`);
        break;
      }
      case "X": {
        if (typeof e.dur !== "number" || e.dur < 0) out.push(`${at}: X without dur >= 0`);
        const list = slices.get(track(e)) ?? [];
        slices.set(track(e), list);
        list.push({ ts: e.ts as number, end: (e.ts as number) + (e.dur as number) });
        break;
      }
      case "i":
        if (!["t", "p", "g"].includes(e.s as string)) out.push(`${at}: instant without scope`);
        break;
      case "C": {
        const args = e.args as Loose | undefined;
        if (args === undefined || Object.keys(args).length === 0)
          out.push(`${at}: counter without args`);
        else if (!Object.values(args).every((v) => typeof v === "number" && Number.isFinite(v)))
          out.push(`${at}: counter args not numeric`);
        break;
      }
      case "s":
      case "t":
      case "f": {
        if (!Number.isInteger(e.id)) out.push(`${at}: flow without integer id`);
        const list = flows.get(e.id as number) ?? [];
        flows.set(e.id as number, list);
        list.push(e);
        break;
      }
      default:
        break;
    }
    if (e.ph !== "C" && !named.has(track(e)))
      out.push(`${at}: track ${track(e)} has no thread_name`);
    if (!namedProcesses.has(e.pid as number)) out.push(`${at}: pid ${e.pid} has no process_name`);
  });
  for (const [t, stack] of open)
    if (stack.length > 0) out.push(`track ${t}: ${stack.length} B without E`);
  for (const [t, list] of slices) {
    // Slices of one track must nest: sorted by start, then longest first, each slice lies
    // inside the innermost open one or after it.
    const sorted = [...list].sort((a, b) => a.ts - b.ts || b.end - a.end);
    const stack: Array<{ ts: number; end: number }> = [];
    for (const s of sorted) {
      while (stack.length > 0 && stack[stack.length - 1]!.end <= s.ts) stack.pop();
      const top = stack[stack.length - 1];
      if (top !== undefined && s.end > top.end)
        out.push(
          `track ${t}: slice [${s.ts}, ${s.end}) overlaps [${top.ts}, ${top.end}) without nesting`,
        );
      stack.push(s);
    }
  }
  for (const [id, list] of flows) {
    const phases = list.map((e) => e.ph).join("");
    if (!/^st*f$/.test(phases)) out.push(`flow ${id}: phases ${phases}, want s, t..., f`);
    const s = list[0];
    const f = list[list.length - 1];
    if (s !== undefined && f !== undefined && (f.ts as number) < (s.ts as number))
      out.push(`flow ${id}: ends before it starts`);
    for (const e of list) {
      const onSlice = (slices.get(track(e)) ?? []).some(
        (x) => x.ts <= (e.ts as number) && (e.ts as number) < Math.max(x.end, x.ts + 1),
      );
      if (!onSlice) out.push(`flow ${id}: ${e.ph} at ${e.ts} on ${track(e)} is on no slice`);
    }
  }
  return out;
}

const SCENARIOS = [
  "l01-lock-all-abba",
  "l06-lock-all-fault-move",
  "l07-nopage-no-truncate-check",
  "l08-nopfn",
  "l13-ttm-read-into-own-mapping",
  "l18-reserve-abba",
];

function exported(name: string, kind: string): ChromeTrace {
  const c = counterexample(name, kind);
  return toPerfetto({ meta: { scenario: c.scenario, replay: c.replay }, events: c.events });
}

type Of<P extends ChromeTraceEvent["ph"]> = Extract<ChromeTraceEvent, { ph: P }>;

/** The events of one phase, typed. */
function ofPhase<P extends ChromeTraceEvent["ph"]>(trace: ChromeTrace, ph: P): Of<P>[] {
  return trace.traceEvents.filter((e): e is Of<P> => e.ph === ph);
}

/** The metadata event naming thread `name`. */
function thread(trace: ChromeTrace, name: string): Of<"M"> {
  const e = ofPhase(trace, "M").find((m) => m.name === "thread_name" && m.args.name === name);
  if (e === undefined) throw new Error(`no thread ${name}`);
  return e;
}

describe("Perfetto export: the Chrome trace event format", () => {
  for (const name of SCENARIOS) {
    it(`${name}: every finding's trace is well formed and survives JSON`, () => {
      const all = counterexamples(name);
      expect(all.length).toBeGreaterThan(0);
      for (const c of all) {
        const trace = toPerfetto({
          meta: { scenario: c.scenario, replay: c.replay },
          events: c.events,
        });
        const json = JSON.parse(JSON.stringify(trace)) as unknown;
        expect(problems(json), `${name} ${c.kind}`).toEqual([]);
        // Deterministic: the same trace converts to the same bytes.
        expect(
          JSON.stringify(
            toPerfetto({ meta: { scenario: c.scenario, replay: c.replay }, events: c.events }),
          ),
        ).toBe(JSON.stringify(trace));
      }
    }, 60_000);
  }

  it("the validator itself rejects what it should", () => {
    const base = [
      { ph: "M", name: "process_name", pid: 1, tid: 0, ts: 0, args: { name: "p" } },
      { ph: "M", name: "thread_name", pid: 1, tid: 2, ts: 0, args: { name: "t" } },
    ];
    const bad = (...events: object[]): string[] => problems({ traceEvents: [...base, ...events] });
    expect(bad({ ph: "B", name: "a", pid: 1, tid: 2, ts: 1 })).toEqual([
      "track 1/2: 1 B without E",
    ]);
    expect(bad({ ph: "Q", name: "a", pid: 1, tid: 2, ts: 1 })[0]).toMatch(/unknown phase/);
    expect(bad({ ph: "X", name: "a", pid: 1, tid: 2, ts: 1, dur: -1 })[0]).toMatch(/dur/);
    expect(bad({ ph: "C", name: "c", pid: 1, tid: 2, ts: 1, args: { n: "1" } })[0]).toMatch(
      /numeric/,
    );
    expect(
      bad(
        { ph: "X", name: "a", pid: 1, tid: 2, ts: 1, dur: 5 },
        { ph: "X", name: "b", pid: 1, tid: 2, ts: 3, dur: 5 },
      )[0],
    ).toMatch(/without nesting/);
    expect(bad({ ph: "s", name: "f", pid: 1, tid: 2, ts: 1, id: 1 })[0]).toMatch(
      /want s, t\.\.\., f/,
    );
    expect(bad({ ph: "X", name: "a", pid: "1", tid: 2, ts: 1, dur: 0 })[0]).toMatch(/integers/);
  });
});

describe("Perfetto export: what L7 and L18 show", () => {
  it("L7: a track per task and one for the GPU engine, in their processes", () => {
    const trace = exported("l07-nopage-no-truncate-check", "stale-mapping");
    const names = ofPhase(trace, "M").filter((e) => e.name === "thread_name");
    const byName = new Map(names.map((e) => [e.args.name, e]));
    expect([...byName.keys()]).toEqual(expect.arrayContaining(["T", "M", "gpu:gfx", "setup"]));
    const processes = new Map(
      ofPhase(trace, "M")
        .filter((e) => e.name === "process_name")
        .map((e) => [e.pid, e.args.name]),
    );
    expect(processes.get(byName.get("T")!.pid)).toBe("process P");
    expect(processes.get(byName.get("gpu:gfx")!.pid)).toBe("GPU");
    expect(processes.get(byName.get("M")!.pid)).toBe("kernel threads");
  });

  it("L7: slices for the fault, the moves and the lock holds; time is the step", () => {
    const { events } = counterexample("l07-nopage-no-truncate-check", "stale-mapping");
    const trace = exported("l07-nopage-no-truncate-check", "stale-mapping");
    const x = ofPhase(trace, "X");
    const t = thread(trace, "T").tid;
    const m = thread(trace, "M").tid;
    const at = (pred: (e: TraceEvent) => boolean): number => events.find(pred)!.step;
    const faultBegin = at((e) => e.type === "span-begin" && e.span === "fault");
    const faultEnd = at((e) => e.type === "span-end" && e.span === "fault");
    expect(x).toContainEqual(
      expect.objectContaining({
        name: "fault drm_bo_vm_nopage",
        cat: "fault",
        tid: t,
        ts: faultBegin,
        dur: faultEnd - faultBegin,
      }),
    );
    const taken = at((e) => e.type === "lock-acquire" && e.task === t && e.lock === "P.mmap_lock");
    const released = at(
      (e) => e.type === "lock-release" && e.task === t && e.lock === "P.mmap_lock",
    );
    expect(x).toContainEqual(
      expect.objectContaining({
        name: "P.mmap_lock (read)",
        cat: "lock",
        tid: t,
        ts: taken,
        dur: released - taken,
      }),
    );
    // M's move goes through TT (a multihop move): three spans, each from its begin to its end.
    const spans = events.filter(
      (e) => e.task === m && (e.type === "span-begin" || e.type === "span-end"),
    );
    const moves = x.filter((e) => e.tid === m && e.cat === "move");
    expect(moves.map((e) => [e.ts, e.ts + e.dur, e.args.detail, e.args.result])).toEqual(
      [0, 2, 4].map((i) => {
        const b = spans[i]!;
        const e = spans[i + 1]!;
        return [
          b.step,
          e.step,
          b.type === "span-begin" ? b.detail : "",
          e.type === "span-end" ? e.result : "",
        ];
      }),
    );
    expect(moves.map((e) => e.args.detail)).toEqual([
      "system -> vram",
      "system -> tt",
      "tt -> vram",
    ]);
    expect(x.filter((e) => e.cat === "syscall").length).toBeGreaterThan(0);
    // One slice per step, named after the kernel function that ran it.
    const steps = events.filter((e) => e.type === "step");
    expect(x.filter((e) => e.cat === "step").length).toBe(steps.length);
  });

  it("L7: the findings are instants and the race is a flow from M's last placement of X to T's store", () => {
    const { events } = counterexample("l07-nopage-no-truncate-check", "stale-mapping");
    const trace = exported("l07-nopage-no-truncate-check", "stale-mapping");
    const tid = (name: string): number => thread(trace, name).tid;
    const f = events.find((e) => e.type === "finding" && e.kind === "stale-mapping")!;
    const placed = events.filter(
      (e) => e.type === "placement" && e.task === tid("M") && e.step < f.step,
    );
    expect(trace.traceEvents).toContainEqual(
      expect.objectContaining({
        ph: "i",
        name: "stale-mapping",
        s: "t",
        tid: tid("T"),
        ts: f.step,
      }),
    );
    const flow = trace.traceEvents.filter(
      (e) => (e.ph === "s" || e.ph === "f") && e.name.endsWith("stale-mapping"),
    );
    expect(flow.map((e) => [e.ph, e.tid, e.ts])).toEqual([
      ["s", tid("M"), placed.at(-1)!.step],
      ["f", tid("T"), f.step],
    ]);
  });

  it("L7: counters follow the pools: a system page, then a VRAM page; TT while X passed through it", () => {
    const { events } = counterexample("l07-nopage-no-truncate-check", "stale-mapping");
    const trace = exported("l07-nopage-no-truncate-check", "stale-mapping");
    const series = (name: string): Array<[number, number]> =>
      ofPhase(trace, "C")
        .filter((e) => e.name === name)
        .map((e) => [e.ts, e.args.pages!]);
    const owned = (pool: string): number =>
      events.find((e) => e.type === "frame" && e.pool === pool && e.owner !== "")!.step;
    expect(series("system pages in use")).toEqual([
      [0, 0],
      [owned("system"), 1],
    ]);
    expect(series("VRAM pages in use")).toEqual([
      [0, 0],
      [owned("vram"), 1],
    ]);
    const placements = events.filter(
      (e): e is Extract<TraceEvent, { type: "placement" }> => e.type === "placement" && e.step > 15,
    );
    const inTt = placements.find((e) => e.place === "tt")!;
    const leftTt = placements.find((e) => e.step > inTt.step && e.place !== "tt")!;
    expect(series("TT pages in use")).toEqual([
      [0, 0],
      [inTt.step, 1],
      [leftTt.step, 0],
    ]);
  });

  it("L6: GPU jobs are slices on the GPU engine's track", () => {
    const trace = exported("l06-lock-all-fault-move", "deadlock");
    const gpu = thread(trace, "gpu:gfx");
    const jobs = ofPhase(trace, "X").filter((e) => e.cat === "gpu-job");
    expect(jobs.length).toBeGreaterThan(0);
    for (const j of jobs) expect([j.pid, j.tid]).toEqual([gpu.pid, gpu.tid]);
  });

  it("L18: the deadlocked tasks' waits stay open to the end, and the flow starts at B taking Y", () => {
    const trace = exported("l18-reserve-abba", "deadlock");
    const tid = (name: string): number => thread(trace, name).tid;
    const waits = ofPhase(trace, "X").filter((e) => e.cat === "wait");
    expect(waits.map((e) => [e.tid, e.name, e.args.unfinished])).toEqual(
      expect.arrayContaining([
        [tid("A"), "waits for Y.resv", true],
        [tid("B"), "waits for X.resv", true],
      ]),
    );
    const flow = trace.traceEvents.filter(
      (e) => (e.ph === "s" || e.ph === "f") && e.name.endsWith("deadlock"),
    );
    expect(flow.map((e) => [e.ph, e.tid, e.ts])).toEqual([
      ["s", tid("B"), 30],
      ["f", tid("A"), 32],
    ]);
    const finding = counterexample("l18-reserve-abba", "deadlock").events.find(
      (e): e is FindingEvent => e.type === "finding" && e.kind === "deadlock",
    )!;
    expect(trace.traceEvents).toContainEqual(
      expect.objectContaining({ ph: "i", name: "deadlock", ts: finding.step }),
    );
  });
});
