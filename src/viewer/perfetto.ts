// A trace in the Chrome trace event format (the JSON Object Format that ui.perfetto.dev and
// chrome://tracing open): trace events in, one JSON-serialisable object out.
//
// Time is the step number: ts is in microseconds and 1 µs is one step, so the picture is the
// same on every run. A slice runs from the step that opened it to the step that closed it: a
// fault that began in step 20 and ended in step 59 has ts 20 and dur 39; one opened and closed
// within a single step lasts one step.
//
// - Processes (pid): one per simulated user process, holding its threads; one for kernel
//   threads (and the checker's end-of-run findings); one for the GPU engine; one for the memory
//   pool counters.
// - Threads (tid = task id): one track per task. Slices ("X") for system calls, faults, moves,
//   evictions, swapouts, GPU jobs and ioctls (span events), lock holds (a successful
//   lock-acquire to the lock-release of the same lock by the same task; holds within a single
//   step are left out, as in the text timeline), waits for a lock or an event, and one slice
//   per step named after the kernel function that ran it. Perfetto needs the slices of one
//   track to nest; a slice that would overlap another without nesting (a lock released after
//   the system call that took it returned, say) goes to an extra track of the same task,
//   named "<task> (overlapping N)".
// - Instant events ("i") for findings, on the track of the task whose step raised them.
// - Counters ("C") for pages in use, changing at the step that changed them (the value after
//   that step): VRAM and system frames owned by a buffer (frame events) and TT pages bound in
//   the GART aperture (placement events of buffers in TT; those are system pages too, so they
//   count under system as well).
// - Flow arrows ("s" to "f") from the decisive step of each finding to the finding's step: the
//   last step of another task that the finding depends on (see decisiveStep in model.ts).

import type { Trace, TraceEvent } from "../trace/index.js";
import { decisiveStep, findingsOf, type Slice, slicesOf, tasksOf } from "./model.js";

export const PERFETTO_FORMAT = "faultline/perfetto@1";

type Args = Readonly<Record<string, string | number | boolean>>;

/** One event of the Chrome trace event format, as this export uses it. */
export type ChromeTraceEvent =
  | {
      readonly ph: "M";
      readonly name: string;
      readonly pid: number;
      readonly tid: number;
      readonly ts: 0;
      readonly args: Args;
    }
  | {
      readonly ph: "X";
      readonly name: string;
      readonly cat: string;
      readonly pid: number;
      readonly tid: number;
      readonly ts: number;
      readonly dur: number;
      readonly args: Args;
    }
  | {
      readonly ph: "i";
      readonly name: string;
      readonly cat: string;
      readonly s: "t";
      readonly pid: number;
      readonly tid: number;
      readonly ts: number;
      readonly args: Args;
    }
  | {
      readonly ph: "C";
      readonly name: string;
      readonly pid: number;
      readonly tid: number;
      readonly ts: number;
      readonly args: Readonly<Record<string, number>>;
    }
  | {
      readonly ph: "s" | "f";
      readonly name: string;
      readonly cat: string;
      readonly id: number;
      readonly pid: number;
      readonly tid: number;
      readonly ts: number;
      readonly bp?: "e";
    };

export interface ChromeTrace {
  readonly traceEvents: ChromeTraceEvent[];
  readonly displayTimeUnit: "ms";
  readonly otherData: Readonly<Record<string, string>>;
}

const KERNEL_PID = 1;
const GPU_PID = 2;
const MEMORY_PID = 3;
const FIRST_PROCESS_PID = 10;
/** The track of task 0, the checker's end-of-run findings (tid 0 is the idle task to Perfetto). */
const CHECKER_TID = 1_000_000;
/** Extra tracks of a task whose slices do not all nest: OVERFLOW_TID + task * 100 + layer. */
const OVERFLOW_TID = 2_000_000;

/** Converts a trace to the Chrome trace event format. */
export function toPerfetto(trace: Pick<Trace, "events" | "meta">): ChromeTrace {
  const events = trace.events;
  const tasks = tasksOf(events);
  const out: ChromeTraceEvent[] = [];
  const meta = (name: string, pid: number, tid: number, args: Args): void => {
    out.push({ ph: "M", name, pid, tid, ts: 0, args });
  };

  // Processes and threads.
  const processes = [
    ...new Set(tasks.filter((t) => t.kind === "user").map((t) => t.process ?? "?")),
  ];
  const pidOfProcess = new Map(processes.map((p, i) => [p, FIRST_PROCESS_PID + i]));
  const pidOf = new Map<number, number>();
  const tidOf = (task: number): number => (task === 0 ? CHECKER_TID : task);
  processes.forEach((p, i) => {
    const pid = pidOfProcess.get(p)!;
    meta("process_name", pid, 0, { name: `process ${p}` });
    meta("process_sort_index", pid, 0, { sort_index: i });
  });
  meta("process_name", KERNEL_PID, 0, { name: "kernel threads" });
  meta("process_sort_index", KERNEL_PID, 0, { sort_index: processes.length });
  meta("process_name", GPU_PID, 0, { name: "GPU" });
  meta("process_sort_index", GPU_PID, 0, { sort_index: processes.length + 1 });
  meta("process_name", MEMORY_PID, 0, { name: "memory pools" });
  meta("process_sort_index", MEMORY_PID, 0, { sort_index: processes.length + 2 });
  for (const t of tasks) {
    const pid =
      t.kind === "user"
        ? pidOfProcess.get(t.process ?? "?")!
        : t.kind === "gpu"
          ? GPU_PID
          : KERNEL_PID;
    pidOf.set(t.id, pid);
    // Task 0 gets a track only if a finding lands on it (see below).
    if (t.id === 0) continue;
    meta("thread_name", pid, t.id, { name: t.name });
    meta("thread_sort_index", pid, t.id, { sort_index: t.id });
  }

  // Slices, in nesting layers per task.
  const byTask = new Map<number, Slice[]>();
  for (const s of slicesOf(events, true)) {
    const list = byTask.get(s.task) ?? [];
    byTask.set(s.task, list);
    list.push(s);
  }
  for (const [task, slices] of byTask) {
    const pid = pidOf.get(task) ?? KERNEL_PID;
    const layers = nestingLayers(slices);
    layers.forEach((layer, i) => {
      const tid = i === 0 ? tidOf(task) : OVERFLOW_TID + task * 100 + i;
      if (i > 0) {
        const name = tasks.find((t) => t.id === task)?.name ?? `task${task}`;
        meta("thread_name", pid, tid, { name: `${name} (overlapping ${i})` });
        meta("thread_sort_index", pid, tid, { sort_index: task + i / 100 });
      }
      for (const s of layer) {
        out.push({
          ph: "X",
          name: s.name,
          cat: s.kind,
          pid,
          tid,
          ts: s.start,
          dur: s.end - s.start,
          args: s.args,
        });
      }
    });
  }

  // Findings and the flows from their decisive steps.
  let checkerTrack = false;
  findingsOf(events).forEach((f, i) => {
    const d = decisiveStep(events, f);
    const task = d?.finding.task ?? f.task;
    if (task === 0 && !checkerTrack) {
      checkerTrack = true;
      meta("thread_name", KERNEL_PID, CHECKER_TID, { name: "kernel (end of run)" });
      meta("thread_sort_index", KERNEL_PID, CHECKER_TID, { sort_index: CHECKER_TID });
    }
    out.push({
      ph: "i",
      name: f.kind,
      cat: "finding",
      s: "t",
      pid: pidOf.get(task) ?? KERNEL_PID,
      tid: tidOf(task),
      ts: Math.max(0, f.step),
      args: { message: f.message, step: f.step },
    });
    const other = d?.other;
    if (other === null || other === undefined) return;
    const id = i + 1;
    out.push({
      ph: "s",
      name: `decisive step for ${f.kind}`,
      cat: "race",
      id,
      pid: pidOf.get(other.task) ?? KERNEL_PID,
      tid: tidOf(other.task),
      ts: other.step,
    });
    out.push({
      ph: "f",
      bp: "e",
      name: `decisive step for ${f.kind}`,
      cat: "race",
      id,
      pid: pidOf.get(task) ?? KERNEL_PID,
      tid: tidOf(task),
      ts: f.step,
    });
  });

  out.push(...poolCounters(events));

  return {
    traceEvents: out.sort((a, b) => metaFirst(a) - metaFirst(b) || a.ts - b.ts),
    displayTimeUnit: "ms",
    otherData: {
      format: PERFETTO_FORMAT,
      timeUnit: "1 us = 1 scheduling step",
      ...Object.fromEntries(Object.entries(trace.meta).map(([k, v]) => [k, String(v)])),
    },
  };
}

const metaFirst = (e: ChromeTraceEvent): number => (e.ph === "M" ? 0 : 1);

/** Counter events: pages in use per pool at the start and at every step that changed one. */
function poolCounters(events: readonly TraceEvent[]): ChromeTraceEvent[] {
  const out: ChromeTraceEvent[] = [];
  const owned = new Map<number, string>();
  const bound = new Map<string, number>();
  let last: Record<"vram" | "tt" | "system", number> | null = null;
  const flush = (step: number): void => {
    const usage = { vram: 0, tt: 0, system: 0 };
    for (const pool of owned.values()) if (pool === "vram" || pool === "system") usage[pool]++;
    for (const pages of bound.values()) usage.tt += pages;
    for (const [name, key] of [
      ["VRAM pages in use", "vram"],
      ["TT pages in use", "tt"],
      ["system pages in use", "system"],
    ] as const) {
      if (last === null || last[key] !== usage[key]) {
        const ts = last === null ? 0 : Math.max(0, step);
        out.push({ ph: "C", name, pid: MEMORY_PID, tid: 0, ts, args: { pages: usage[key] } });
      }
    }
    last = usage;
  };
  let step: number | null = null;
  for (const e of events) {
    if (step !== null && e.step !== step) flush(step);
    step = e.step;
    if (e.type === "frame") {
      if (e.owner === "") owned.delete(e.pfn);
      else owned.set(e.pfn, e.pool);
    } else if (e.type === "placement") {
      const pages = e.place === "tt" ? (e.aperture ?? e.pfns).filter((p) => p >= 0).length : 0;
      bound.set(e.buffer, pages);
    }
  }
  flush(step ?? 0);
  return out;
}

/**
 * Splits one task's slices into layers whose slices nest (any two are disjoint or one contains
 * the other). Spans go first, so they keep the task's own track; then waits, steps and locks.
 */
function nestingLayers(slices: readonly Slice[]): Slice[][] {
  const rank = (s: Slice): number =>
    s.kind === "lock" ? 3 : s.kind === "step" ? 2 : s.kind === "wait" ? 1 : 0;
  const ordered = [...slices].sort(
    (a, b) => rank(a) - rank(b) || a.start - b.start || b.end - a.end,
  );
  const layers: Slice[][] = [];
  const nests = (a: Slice, b: Slice): boolean =>
    a.end <= b.start ||
    b.end <= a.start ||
    (a.start <= b.start && b.end <= a.end) ||
    (b.start <= a.start && a.end <= b.end);
  for (const s of ordered) {
    const layer = layers.find((l) => l.every((other) => nests(s, other)));
    if (layer === undefined) layers.push([s]);
    else layer.push(s);
  }
  for (const layer of layers) layer.sort((a, b) => a.start - b.start || b.end - a.end);
  return layers;
}
