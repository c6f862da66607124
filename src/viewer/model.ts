// What a trace says at each step, for the browser viewer and the Perfetto export: the tasks, the
// intervals they spent in system calls, faults, moves and lock holds, the state of locks, buffers
// and page tables after any step, the wait-for cycle of a deadlock, and the step at which a
// finding became inevitable. Pure functions of the trace events: no DOM, no clock.

import { describeEvent, hex, processOfMm } from "../trace/describe.js";
import type {
  FindingEvent,
  LockMode,
  PlacementEvent,
  SpanKind,
  StepIndex,
  TaskId,
  TraceEvent,
} from "../trace/index.js";

// ---------------------------------------------------------------------------------------------
// Tasks

export interface TaskInfo {
  readonly id: TaskId;
  readonly name: string;
  readonly kind: "user" | "kernel" | "gpu";
  /** The process of a user thread. */
  readonly process?: string;
}

/**
 * The tasks of a trace in id order. Task 0 stands for "no task" (the checker's end-of-run
 * findings); it appears, as "kernel", only when an event names it.
 */
export function tasksOf(events: readonly TraceEvent[]): TaskInfo[] {
  const tasks = new Map<TaskId, TaskInfo>();
  for (const e of events) {
    if (e.type === "task-spawn" && !tasks.has(e.task)) {
      tasks.set(
        e.task,
        e.process === undefined
          ? { id: e.task, name: e.name, kind: e.kind }
          : { id: e.task, name: e.name, kind: e.kind, process: e.process },
      );
    }
  }
  for (const e of events) {
    if (!tasks.has(e.task))
      tasks.set(e.task, { id: e.task, name: taskFallbackName(e.task), kind: "kernel" });
  }
  return [...tasks.values()].sort((a, b) => a.id - b.id);
}

function taskFallbackName(id: TaskId): string {
  return id === 0 ? "kernel" : `task${id}`;
}

/** The last step index of the trace (0 for a trace without steps). */
export function lastStepOf(events: readonly TraceEvent[]): StepIndex {
  let last = 0;
  for (const e of events) if (e.step > last) last = e.step;
  return last;
}

/** The task that ran each step, from the step events. */
export function stepTasks(events: readonly TraceEvent[]): Map<StepIndex, TaskId> {
  const out = new Map<StepIndex, TaskId>();
  for (const e of events) if (e.type === "step") out.set(e.step, e.task);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Slices: the intervals drawn as bars

export type SliceKind = SpanKind | "lock" | "wait" | "step";

/**
 * An interval of one task, in steps: [start, end), where start is the step that opened it and
 * end the step that closed it, so that a span ending in a step and the next one beginning in it
 * are adjacent, not overlapping. A slice opened and closed within one step is [s, s + 1). `open`
 * is true when the trace ended before it closed (end is then the last step + 1).
 */
export interface Slice {
  readonly task: TaskId;
  readonly kind: SliceKind;
  readonly name: string;
  readonly start: StepIndex;
  readonly end: StepIndex;
  readonly open: boolean;
  readonly args: Readonly<Record<string, string | number | boolean>>;
}

/**
 * The slices of a trace: spans (system calls, faults, moves, evictions, swapouts, GPU jobs,
 * ioctls), lock holds (a successful acquisition to the release of the same lock by the same
 * task), waits (a lock-wait or block to the task's next step) and, with `withSteps`, one slice
 * per step. A lock taken and released within one step is left out, as in the text timeline:
 * nobody could interleave with it. Slices still open at the end close at the end of the trace.
 */
export function slicesOf(events: readonly TraceEvent[], withSteps = false): Slice[] {
  const end = lastStepOf(events) + 1;
  const out: Slice[] = [];
  const spans = new Map<TaskId, Array<{ e: Extract<TraceEvent, { type: "span-begin" }> }>>();
  const holds = new Map<string, Array<Extract<TraceEvent, { type: "lock-acquire" }>>>();
  const waits = new Map<TaskId, { start: StepIndex; name: string; on: string; mode?: LockMode }>();
  const closeWait = (task: TaskId, at: StepIndex): void => {
    const w = waits.get(task);
    if (w === undefined || at <= w.start) return;
    waits.delete(task);
    out.push({
      task,
      kind: "wait",
      name: w.name,
      start: w.start,
      end: at,
      open: false,
      args: w.mode === undefined ? { on: w.on } : { lock: w.on, mode: w.mode },
    });
  };
  for (const e of events) {
    const step = Math.max(0, e.step);
    switch (e.type) {
      case "step":
        closeWait(e.task, e.step);
        if (withSteps) {
          out.push({
            task: e.task,
            kind: "step",
            name: e.site,
            start: step,
            end: step + 1,
            open: false,
            args: { step: e.step, op: e.op, obj: e.obj },
          });
        }
        break;
      case "span-begin": {
        const stack = spans.get(e.task) ?? [];
        spans.set(e.task, stack);
        stack.push({ e });
        break;
      }
      case "span-end": {
        const stack = spans.get(e.task) ?? [];
        let i = stack.length - 1;
        while (i >= 0 && (stack[i]!.e.span !== e.span || stack[i]!.e.name !== e.name)) i--;
        if (i < 0) break;
        const begin = stack[i]!.e;
        stack.splice(i, 1);
        const start = Math.max(0, begin.step);
        out.push({
          task: e.task,
          kind: begin.span,
          name: `${begin.span} ${begin.name}`,
          start,
          end: Math.max(step, start + 1),
          open: false,
          args: {
            ...(begin.detail === undefined ? {} : { detail: begin.detail }),
            result: e.result,
            site: begin.site,
          },
        });
        break;
      }
      case "lock-acquire": {
        if (!e.ok) break;
        const key = `${e.task}\u0000${e.lock}`;
        const stack = holds.get(key) ?? [];
        holds.set(key, stack);
        stack.push(e);
        break;
      }
      case "lock-release": {
        const acq = holds.get(`${e.task}\u0000${e.lock}`)?.pop();
        if (acq === undefined || acq.step === e.step) break;
        out.push(lockSlice(acq, step, false, e.site));
        break;
      }
      case "lock-wait":
        waits.set(e.task, { start: step, name: `waits for ${e.lock}`, on: e.lock, mode: e.mode });
        break;
      case "block":
        waits.set(e.task, { start: step, name: `sleeps on ${e.on}`, on: e.on });
        break;
      default:
        break;
    }
  }
  for (const [task, stack] of spans) {
    for (const { e } of stack) {
      out.push({
        task,
        kind: e.span,
        name: `${e.span} ${e.name}`,
        start: Math.max(0, e.step),
        end,
        open: true,
        args: {
          ...(e.detail === undefined ? {} : { detail: e.detail }),
          site: e.site,
          unfinished: true,
        },
      });
    }
  }
  for (const stack of holds.values())
    for (const acq of stack) out.push(lockSlice(acq, end, true, ""));
  for (const [task, w] of waits) {
    out.push({
      task,
      kind: "wait",
      name: w.name,
      start: w.start,
      end,
      open: true,
      args:
        w.mode === undefined
          ? { on: w.on, unfinished: true }
          : { lock: w.on, mode: w.mode, unfinished: true },
    });
  }
  return out.sort((a, b) => a.task - b.task || a.start - b.start || b.end - a.end);
}

function lockSlice(
  acq: Extract<TraceEvent, { type: "lock-acquire" }>,
  end: StepIndex,
  open: boolean,
  releaseSite: string,
): Slice {
  return {
    task: acq.task,
    kind: "lock",
    name: `${acq.lock}${acq.mode === "read" ? " (read)" : ""}`,
    start: Math.max(0, acq.step),
    end,
    open,
    args: {
      lock: acq.lock,
      class: acq.lockClass,
      mode: acq.mode,
      site: acq.site,
      ...(open ? { unfinished: true } : { released: releaseSite }),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The state after a step

export interface LockHold {
  readonly lock: string;
  readonly mode: LockMode;
  readonly since: StepIndex;
  readonly site: string;
}

export interface TaskState {
  readonly id: TaskId;
  held: LockHold[];
  /** The lock the task sleeps (or spins) on, from its lock-wait until it runs again. */
  waitingFor: {
    lock: string;
    mode: LockMode;
    since: StepIndex;
    site: string;
    holders: readonly TaskId[];
  } | null;
  /** A fence, queue or timer the task sleeps on, from its block event until it runs again. */
  blockedOn: { on: string; since: StepIndex } | null;
  exited: boolean;
  /** The last step the task ran (-1 if none yet). */
  lastStep: StepIndex;
}

export interface BufferState {
  readonly name: string;
  readonly place: PlacementEvent["place"];
  readonly pfns: readonly number[];
  readonly aperture: readonly number[] | null;
  readonly since: StepIndex;
}

export interface MappingState {
  readonly map: string;
  readonly mm: string;
  readonly buffer: string;
  readonly vpn: number;
  readonly pages: number;
}

export interface PteState {
  readonly mm: string;
  readonly vpn: number;
  readonly pfn: number;
  readonly since: StepIndex;
}

export interface Snapshot {
  readonly step: StepIndex;
  readonly tasks: Map<TaskId, TaskState>;
  /** Holders of each lock that someone holds. */
  readonly lockHolders: Map<string, Array<{ task: TaskId; mode: LockMode }>>;
  readonly buffers: Map<string, BufferState>;
  /** Owner of each frame that has one ("X[0]"), with its pool. */
  readonly frames: Map<number, { pool: string; owner: string }>;
  readonly mappings: Map<string, MappingState>;
  /** Present PTEs by "mm@vpn". */
  readonly ptes: Map<string, PteState>;
}

const pteKey = (mm: string, vpn: number): string => `${mm}@${vpn}`;

/** The state after every event of steps 0..`step` (boot events, at step -1, included). */
export function snapshotAt(events: readonly TraceEvent[], step: StepIndex): Snapshot {
  const snap: Snapshot = {
    step,
    tasks: new Map(),
    lockHolders: new Map(),
    buffers: new Map(),
    frames: new Map(),
    mappings: new Map(),
    ptes: new Map(),
  };
  const task = (id: TaskId): TaskState => {
    let t = snap.tasks.get(id);
    if (t === undefined) {
      t = { id, held: [], waitingFor: null, blockedOn: null, exited: false, lastStep: -1 };
      snap.tasks.set(id, t);
    }
    return t;
  };
  for (const e of events) {
    if (e.step > step) break;
    switch (e.type) {
      case "task-spawn":
        task(e.task);
        break;
      case "task-exit":
        task(e.task).exited = true;
        break;
      case "step": {
        const t = task(e.task);
        t.lastStep = e.step;
        if (t.waitingFor !== null && e.step > t.waitingFor.since) t.waitingFor = null;
        if (t.blockedOn !== null && e.step > t.blockedOn.since) t.blockedOn = null;
        break;
      }
      case "lock-acquire": {
        if (!e.ok) break;
        const t = task(e.task);
        t.held.push({ lock: e.lock, mode: e.mode, since: e.step, site: e.site });
        if (t.waitingFor?.lock === e.lock) t.waitingFor = null;
        const holders = snap.lockHolders.get(e.lock) ?? [];
        snap.lockHolders.set(e.lock, holders);
        holders.push({ task: e.task, mode: e.mode });
        break;
      }
      case "lock-release": {
        const t = task(e.task);
        const i = t.held.map((h) => h.lock).lastIndexOf(e.lock);
        if (i >= 0) t.held.splice(i, 1);
        const holders = snap.lockHolders.get(e.lock);
        if (holders !== undefined) {
          const j = holders.map((h) => h.task).lastIndexOf(e.task);
          if (j >= 0) holders.splice(j, 1);
          if (holders.length === 0) snap.lockHolders.delete(e.lock);
        }
        break;
      }
      case "lock-wait":
        task(e.task).waitingFor = {
          lock: e.lock,
          mode: e.mode,
          since: e.step,
          site: e.site,
          holders: e.holders,
        };
        break;
      case "block":
        task(e.task).blockedOn = { on: e.on, since: e.step };
        break;
      case "wake": {
        const t = task(e.woken);
        t.blockedOn = null;
        break;
      }
      case "placement":
        snap.buffers.set(e.buffer, {
          name: e.buffer,
          place: e.place,
          pfns: e.pfns,
          aperture: e.aperture ?? null,
          since: e.step,
        });
        break;
      case "frame":
        if (e.owner === "") snap.frames.delete(e.pfn);
        else snap.frames.set(e.pfn, { pool: e.pool, owner: e.owner });
        break;
      case "mapping":
        if (e.pages === 0) snap.mappings.delete(e.map);
        else
          snap.mappings.set(e.map, {
            map: e.map,
            mm: e.mm,
            buffer: e.buffer,
            vpn: e.vpn,
            pages: e.pages,
          });
        break;
      case "pte-install":
        snap.ptes.set(pteKey(e.mm, e.vpn), { mm: e.mm, vpn: e.vpn, pfn: e.pfn, since: e.step });
        break;
      case "pte-zap":
        snap.ptes.delete(pteKey(e.mm, e.vpn));
        break;
      default:
        break;
    }
  }
  return snap;
}

/** Who `t` waits for: the current holders of the lock it waits on (else those the wait named). */
export function waitsFor(snap: Snapshot, t: TaskState): readonly TaskId[] {
  if (t.waitingFor === null) return [];
  const now = snap.lockHolders.get(t.waitingFor.lock)?.map((h) => h.task);
  return now !== undefined && now.length > 0 ? [...new Set(now)] : t.waitingFor.holders;
}

/**
 * A cycle in the wait-for graph (task -> holders of the lock it waits for), as the list of its
 * tasks starting from the lowest id; a task waiting for a lock it holds itself is a cycle of
 * one. Null when there is none.
 */
export function waitCycle(snap: Snapshot): TaskId[] | null {
  const edges = new Map<TaskId, readonly TaskId[]>();
  for (const t of snap.tasks.values()) if (!t.exited) edges.set(t.id, waitsFor(snap, t));
  const state = new Map<TaskId, "open" | "done">();
  const path: TaskId[] = [];
  const visit = (id: TaskId): TaskId[] | null => {
    state.set(id, "open");
    path.push(id);
    for (const next of edges.get(id) ?? []) {
      if (state.get(next) === "open") return path.slice(path.indexOf(next));
      if (state.get(next) === undefined) {
        const found = visit(next);
        if (found !== null) return found;
      }
    }
    path.pop();
    state.set(id, "done");
    return null;
  };
  for (const id of [...edges.keys()].sort((a, b) => a - b)) {
    if (state.get(id) !== undefined) continue;
    const cycle = visit(id);
    if (cycle !== null) {
      const lowest = cycle.indexOf(Math.min(...cycle));
      return [...cycle.slice(lowest), ...cycle.slice(0, lowest)];
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Buffers, frames and PTEs

export interface PteView {
  readonly map: string;
  readonly mm: string;
  readonly process: string;
  readonly vpn: number;
  /** The buffer page this virtual page shows. */
  readonly page: number;
  /** The PTE's pfn, or null when no PTE is present. */
  readonly pfn: number | null;
  readonly since: StepIndex | null;
  /** The owner of the frame the PTE points at ("X[0]"), or null when no buffer owns it. */
  readonly owner: string | null;
  /**
   * A present PTE of a mapping of buffer B whose pfn is none of B's current pfns or aperture
   * pfns: the access goes to memory that no longer holds (this copy of) B.
   */
  readonly stale: boolean;
}

export interface BufferView {
  readonly name: string;
  readonly place: BufferState["place"];
  readonly since: StepIndex;
  readonly pages: ReadonlyArray<{
    readonly index: number;
    readonly pfn: number;
    readonly aperture: number | null;
    readonly owner: string | null;
  }>;
  readonly ptes: readonly PteView[];
}

/** Each buffer's placement, frames and the PTEs of every mapping of it, in name order. */
export function bufferViews(snap: Snapshot): BufferView[] {
  const names = new Set<string>([...snap.buffers.keys()]);
  for (const m of snap.mappings.values()) names.add(m.buffer);
  return [...names].sort().map((name) => {
    const b = snap.buffers.get(name);
    const pfns = b?.pfns ?? [];
    const current = new Set([...pfns, ...(b?.aperture ?? [])].filter((p) => p >= 0));
    const ptes: PteView[] = [];
    const maps = [...snap.mappings.values()]
      .filter((m) => m.buffer === name)
      .sort((x, y) => x.mm.localeCompare(y.mm) || x.vpn - y.vpn);
    for (const m of maps) {
      for (let page = 0; page < m.pages; page++) {
        const pte = snap.ptes.get(pteKey(m.mm, m.vpn + page));
        ptes.push({
          map: m.map,
          mm: m.mm,
          process: processOfMm(m.mm),
          vpn: m.vpn + page,
          page,
          pfn: pte?.pfn ?? null,
          since: pte?.since ?? null,
          owner: pte === undefined ? null : (snap.frames.get(pte.pfn)?.owner ?? null),
          stale: pte !== undefined && !current.has(pte.pfn),
        });
      }
    }
    return {
      name,
      place: b?.place ?? "none",
      since: b?.since ?? -1,
      pages: pfns.map((pfn, index) => ({
        index,
        pfn,
        aperture: b?.aperture?.[index] ?? null,
        owner: pfn >= 0 ? (snap.frames.get(pfn)?.owner ?? null) : null,
      })),
      ptes,
    };
  });
}

/** Pages in use per pool after a snapshot: owned system and VRAM frames, bound TT pages. */
export function poolUsage(snap: Snapshot): { system: number; tt: number; vram: number } {
  let system = 0;
  let vram = 0;
  for (const f of snap.frames.values()) {
    if (f.pool === "vram") vram++;
    else if (f.pool === "system") system++;
  }
  let tt = 0;
  for (const b of snap.buffers.values())
    if (b.place === "tt") tt += (b.aperture ?? b.pfns).filter((p) => p >= 0).length;
  return { system, tt, vram };
}

// ---------------------------------------------------------------------------------------------
// Why a finding happened: the decisive step

/** One object a step touched, and whether it changed it. */
interface Touch {
  readonly write: boolean;
  readonly event: TraceEvent;
}

/**
 * The objects each step touched, by key: the step's own object, locks, PTEs ("pte:P@0x7f000",
 * as the kernel names them in step events), frames ("pfn:0x1000"), buffer placements
 * ("buffer:X", read by a user access through a mapping of X), mappings, fences and wait queues.
 * Only events of the task that ran the step count.
 */
export function stepTouches(
  events: readonly TraceEvent[],
): Map<StepIndex, { task: TaskId; keys: Map<string, Touch> }> {
  const out = new Map<StepIndex, { task: TaskId; keys: Map<string, Touch> }>();
  const mappings = new Map<string, MappingState>();
  const owners = new Map<number, string>();
  const touch = (e: TraceEvent, key: string, write: boolean): void => {
    const s = out.get(e.step);
    if (s === undefined || s.task !== e.task) return;
    const prev = s.keys.get(key);
    // Keep the event that says most: a write over a read, a lock or PTE event over the bare
    // step, and the last of several (a move assigns placements in turn; the last one stays).
    if (prev === undefined || (write && !prev.write) || (write === prev.write && e.type !== "step"))
      s.keys.set(key, { write, event: e });
  };
  const pte = (mm: string, vpn: number): string => `pte:${processOfMm(mm)}@${hex(vpn)}`;
  for (const e of events) {
    switch (e.type) {
      case "step":
        out.set(e.step, { task: e.task, keys: new Map() });
        if (e.op !== "yield")
          touch(e, e.obj, e.op !== "read" && e.op !== "wait" && e.op !== "resume");
        break;
      case "lock-acquire":
      case "lock-release":
      case "lock-wait":
        touch(e, e.lock, true);
        break;
      case "block":
        touch(e, e.on, false);
        break;
      case "wake":
        touch(e, e.on, true);
        break;
      case "fence-signal":
        touch(e, e.fence, true);
        break;
      case "pte-install":
      case "pte-zap":
        touch(e, pte(e.mm, e.vpn), true);
        break;
      case "frame":
        if (e.owner === "") owners.delete(e.pfn);
        else owners.set(e.pfn, e.owner);
        touch(e, `pfn:${hex(e.pfn)}`, true);
        break;
      case "placement":
        touch(e, `buffer:${e.buffer}`, true);
        break;
      case "mapping":
        if (e.pages === 0) mappings.delete(e.map);
        else mappings.set(e.map, e);
        touch(e, `vma:${e.map}`, true);
        break;
      case "access": {
        touch(e, `pfn:${hex(e.pfn)}`, e.access === "store");
        let buffer: string | null = null;
        if (e.mm !== undefined && e.vpn !== undefined) {
          touch(e, pte(e.mm, e.vpn), false);
          const vpn = e.vpn;
          const mm = e.mm;
          for (const m of mappings.values())
            if (m.mm === mm && vpn >= m.vpn && vpn < m.vpn + m.pages) buffer = m.buffer;
        }
        const owner = owners.get(e.pfn);
        if (buffer === null && owner !== undefined) buffer = owner.replace(/\[\d+\]$/, "");
        if (buffer !== null) touch(e, `buffer:${buffer}`, false);
        break;
      }
      default:
        break;
    }
  }
  return out;
}

export interface Decisive {
  /** The finding's step and the task whose step it was. */
  readonly finding: { readonly step: StepIndex; readonly task: TaskId };
  /** The decisive step and its task, or null when no other task's step was involved. */
  readonly other: {
    readonly step: StepIndex;
    readonly task: TaskId;
    readonly key: string;
    readonly event: TraceEvent;
  } | null;
}

/**
 * The step at which a finding became inevitable, defined through happens-before: step x happens
 * before step y when x = y, or x and y ran on the same task with x first, or x came first and
 * both touched the same object with at least one of them changing it, or by transitivity. The
 * decisive step is the LAST step of another task that happens before the finding's step (the
 * setup task, which ran alone before any thread, does not count). After it, every step the
 * finding depends on was the finding task's own: whatever the other tasks did next commutes
 * with them, so from that state the finding task alone runs into the finding. `other` is null
 * when the finding task's own steps are enough (lockdep's same-task recursion, for instance).
 *
 * A finding raised by the checker at the end (task 0) is attributed to the task that ran its
 * step. This is a dependency over the objects the trace names; state the trace does not name
 * (lockdep's class graph, for instance) is not followed.
 */
export function decisiveStep(
  events: readonly TraceEvent[],
  finding: FindingEvent,
): Decisive | null {
  const touches = stepTouches(events);
  const at = touches.get(finding.step);
  const task = finding.task !== 0 && at?.task === finding.task ? finding.task : at?.task;
  if (task === undefined || at === undefined) return null;
  const setup = new Set(
    tasksOf(events)
      .filter((t) => t.name === "setup")
      .map((t) => t.id),
  );
  const inSet = new Set<TaskId>([task]);
  const accessed = new Map<string, boolean>();
  for (const [key, t] of at.keys) accessed.set(key, t.write || (accessed.get(key) ?? false));
  for (let s = finding.step - 1; s >= 0; s--) {
    const step = touches.get(s);
    if (step === undefined) continue;
    let reason: string | null = null;
    if (!inSet.has(step.task)) {
      for (const [key, t] of step.keys) {
        const later = accessed.get(key);
        if (later !== undefined && (t.write || later)) {
          reason = key;
          break;
        }
      }
      if (reason === null) continue;
      if (!setup.has(step.task)) {
        return {
          finding: { step: finding.step, task },
          other: { step: s, task: step.task, key: reason, event: step.keys.get(reason)!.event },
        };
      }
    }
    inSet.add(step.task);
    for (const [key, t] of step.keys) accessed.set(key, t.write || (accessed.get(key) ?? false));
  }
  return { finding: { step: finding.step, task }, other: null };
}

// ---------------------------------------------------------------------------------------------
// The finding in one sentence

/** The finding events of a trace, in order. */
export function findingsOf(events: readonly TraceEvent[]): FindingEvent[] {
  return events.filter((e): e is FindingEvent => e.type === "finding");
}

/**
 * One sentence: what happened at the finding's step, and the step at which it became
 * inevitable (see decisiveStep).
 */
export function explainFinding(events: readonly TraceEvent[], finding: FindingEvent): string {
  const names = new Map(tasksOf(events).map((t) => [t.id, t.name]));
  const name = (id: TaskId): string => names.get(id) ?? `task${id}`;
  const d = decisiveStep(events, finding);
  const who = d === null ? null : name(d.finding.task);
  let what: string;
  if (finding.kind === "deadlock") {
    const snap = snapshotAt(events, finding.step);
    const cycle = waitCycle(snap);
    if (cycle !== null) {
      const parts = cycle.map((id) => {
        const t = snap.tasks.get(id)!;
        const holders = waitsFor(snap, t).map(name).join(" and ");
        return `${name(id)} waits for ${t.waitingFor?.lock} held by ${holders}`;
      });
      what =
        cycle.length === 1
          ? `${name(cycle[0]!)} deadlocks on itself: ${parts[0]}`
          : `${cycle.map(name).join(" and ")} deadlock: ${parts.join(", ")}`;
    } else {
      what = finding.message.replace(/^deadlock: /, "no task can run: ");
    }
  } else if (who !== null && finding.task !== 0) {
    what = `${who}'s ${finding.message.replace(/^lockdep: /, "step makes lockdep report: ")}`;
  } else {
    what = finding.message;
  }
  const other = d?.other ?? null;
  const since =
    other === null
      ? who === null
        ? ""
        : ` — no other task's step was involved: ${who}'s own steps lead to it`
      : ` — inevitable since step ${other.step}, when ${name(other.task)} did "${describeTouch(other.event)}"; after that ${who} depended on no other task`;
  return `At step ${finding.step}, ${what}${since}.`;
}

function describeTouch(e: TraceEvent): string {
  if (e.type === "step") return `${e.op} ${e.obj} in ${e.site}`;
  return describeEvent(e) ?? e.type;
}
