// Dynamic partial-order reduction with sleep sets (Flanagan & Godefroid, POPL 2005; Godefroid
// 1996; checkers.md §4.1-§4.5), for the `exhaustive` strategy.
//
// Two steps are dependent when they touch a common object and at least one of them may change
// it (the step descriptors of the kernel say which objects, and how). After each execution the
// trace is scanned with vector clocks: a step k races with the latest earlier conflicting step j
// of another task when j does not already happen before k; then the task of k is added to the
// backtrack set of the state before j (or, when that task could not run there, every task that
// could). The search then resumes from the deepest state with an untried backtrack task.
// Sleep sets avoid re-running a task whose next step commutes with everything run since it was
// last tried at an ancestor state.
//
// With a preemption bound (strategy `bounded`) a backtrack task that would preempt a task that
// could go on is added only while the path has preemptions to spare, and, as loom does
// (rt/path.rs), the same task is also added at the last context switch before the racing step,
// where running it costs no preemption. Sleep sets are off then: with a bound they can hide
// the only schedule within the bound that reaches a state (Coons et al., OOPSLA 2013).
//
// A root prefix of decisions (one unit of a sharded or parallel check) is followed and never
// backtracked into: its siblings are other units.
//
// Blocking is modelled by the kernel as an executed step (the attempt that enqueued the task),
// so a blocked task's only pending step is its resume, which touches nothing shared: lock
// attempts and releases race on the lock object like any other access. An rwsem's read side and
// a trylock only read it unless they change it (Step.readUnlessTouched), so readers do not race
// with each other, nor failed trylocks. A spawned task's clock starts from its parent's at the
// spawning step.

import { isWriteOp, type Sched, type Step, type Task } from "../kernel/sched.js";
import { ChoiceScheduler, type Decision, ScheduleDivergence } from "./choice.js";
import type { Strategy } from "./strategy.js";

/**
 * An access of a step, packed into one number: the object id times two, plus one when the step
 * may change the object. Every step of every execution makes a few, so they are not objects.
 */
export type Access = number;

export function access(obj: number, write: boolean): Access {
  return obj * 2 + (write ? 1 : 0);
}

/** The object an access touches (ids stay far below 2^30, so int32 shifts are exact). */
function objectOf(a: Access): number {
  return a >> 1;
}

function isWrite(a: Access): boolean {
  return (a & 1) === 1;
}

/** What a step's descriptor says it touches. */
export function accessesOf(step: Step): Access[] {
  const out: Access[] = [];
  // A yield touches nothing; a resume reads what it waited for (the waker wrote it).
  if (step.op !== "yield")
    out.push(access(step.obj.id, isWriteOp(step.op) && step.readUnlessTouched !== true));
  if (step.also !== undefined) for (const a of step.also) out.push(access(a.obj.id, a.write));
  return out;
}

function conflict(a: readonly Access[], b: readonly Access[]): boolean {
  for (const x of a) {
    for (const y of b) if (objectOf(x) === objectOf(y) && (isWrite(x) || isWrite(y))) return true;
  }
  return false;
}

/** One state of the current path: who could run, who ran, and what is left to try. */
interface Node {
  readonly enabled: readonly number[];
  /** The task that ran the step before this state, or -1. */
  readonly previous: number;
  /** Preemptions on the path before this state. */
  readonly preemptions: number;
  /** Part of the root prefix: never backtracked. */
  readonly frozen: boolean;
  chosen: number;
  readonly backtrack: Set<number>;
  readonly done: Set<number>;
  /**
   * Tasks that must not run from this state (their step commutes with what was explored), with
   * what their step touched when it was tried.
   */
  readonly sleep: ReadonlyMap<number, readonly Access[]>;
  /** What the step of each task tried here touched. */
  readonly footprints: Map<number, readonly Access[]>;
}

/** What one executed step was. */
interface Event {
  readonly task: number;
  readonly accesses: Access[];
  /** Index of the event during which this task was spawned, or -1 (before exploration). */
  readonly spawnedAt: number;
}

/** Per-object tables of the race scan (see DporStrategy.scratchFor). */
interface Scratch {
  /** The generation that wrote an object's entries; other entries are stale. */
  stamp: Int32Array;
  /** The last event that wrote each object, or -1. */
  lastWrite: Int32Array;
  /** The newest read of each object since its last write (an index into readEvent), or -1. */
  readHead: Int32Array;
  generation: number;
}

export interface DporOptions {
  /** At most this many preemptions per schedule (strategy `bounded`). */
  readonly preemptionBound?: number;
  /** Decisions every execution starts with (a unit of a sharded check). */
  readonly root?: readonly number[];
  /**
   * Options of the last root decision that sleep there: other units explore them. Their
   * footprints come from one probe execution each, run first.
   */
  readonly sleepers?: number;
}

export class DporStrategy implements Strategy {
  readonly name: string;
  readonly coverage: string;
  private readonly bound: number;
  private readonly root: readonly number[];
  /** The sleepers at the last root decision, with their footprints, as the probes find them. */
  private readonly rootSleep = new Map<number, readonly Access[]>();
  private probesLeft: number;
  private inProbe = false;
  private path: Node[] = [];
  private started = false;
  private exhausted = false;
  /** The events of the execution in progress. */
  private events: Event[] = [];
  /** Length of the prefix the execution in progress replays. */
  private replayLength = 0;
  /** Executions stopped because every runnable task was asleep (their tails were explored). */
  sleepBlocked = 0;
  private readonly scratch: Scratch = {
    stamp: new Int32Array(0),
    lastWrite: new Int32Array(0),
    readHead: new Int32Array(0),
    generation: 0,
  };

  constructor(options: DporOptions = {}) {
    this.bound = options.preemptionBound ?? Number.POSITIVE_INFINITY;
    this.root = options.root ?? [];
    this.probesLeft = this.root.length === 0 ? 0 : (options.sleepers ?? 0);
    const bounded = Number.isFinite(this.bound);
    this.name = bounded ? "bounded" : "exhaustive";
    this.coverage = bounded
      ? `every schedule with at most ${this.bound} preemptions, up to equivalence (bounded DPOR)`
      : "every schedule up to equivalence (DPOR with sleep sets)";
  }

  get complete(): boolean {
    return this.exhausted;
  }

  nextExecution(): ChoiceScheduler | null {
    if (this.exhausted) return null;
    this.inProbe = this.probesLeft > 0;
    if (this.inProbe) return this.probe(--this.probesLeft);
    if (this.started && !this.advance()) {
      this.exhausted = true;
      return null;
    }
    this.started = true;
    this.events = [];
    const path = this.path;
    const replayLength = path.length;
    this.replayLength = replayLength;
    const useSleep = !Number.isFinite(this.bound);
    // The sleep set of the state being entered, maintained step by step past the replay.
    let sleep: Map<number, readonly Access[]> = new Map();
    let depth = 0;
    let decisions = 0;
    let base = -1;
    const scheduler = new ChoiceScheduler(
      (options, _decision, sched) => this.choose(options, depth, decisions++, sleep, sched),
      true,
    );
    scheduler.onStepDone((touches) => {
      const last = this.events[this.events.length - 1];
      if (last === undefined) return;
      for (const t of touches) last.accesses.push(access(t.obj.id, t.write));
      path[depth - 1]!.footprints.set(last.task, last.accesses);
      // A sleeper wakes when the step (with all it touched) conflicts with what its own step
      // touched when it was tried. Until then that step would read and do the same.
      if (sleep.size === 0) return;
      const next = new Map<number, readonly Access[]>();
      for (const [u, footprint] of sleep) {
        if (u !== last.task && !conflict(footprint, last.accesses)) next.set(u, footprint);
      }
      sleep = next;
    });
    scheduler.onStep((task: Task, step: Step, runnable: readonly Task[], sched: Sched) => {
      if (base < 0) base = sched.stepIndex + 1;
      const accesses = accessesOf(step);
      this.events.push({ task: task.id, accesses, spawnedAt: task.spawnedAt - base });
      if (depth < replayLength) {
        const node = path[depth]!;
        if (
          node.enabled.length !== runnable.length ||
          node.enabled.some((id, i) => id !== runnable[i]!.id)
        ) {
          throw new ScheduleDivergence(
            `nondeterminism: exploration step ${depth} offered tasks [${runnable.map((t) => t.id)}] on replay, [${node.enabled}] before`,
          );
        }
        // At the branching state the siblings already tried go to sleep.
        if (useSleep && depth === replayLength - 1) {
          sleep = new Map(node.sleep);
          for (const d of node.done) {
            const footprint = node.footprints.get(d);
            if (d !== task.id && footprint !== undefined) sleep.set(d, footprint);
          }
        }
      } else {
        const before = path[depth - 1];
        if (
          useSleep &&
          this.rootSleep.size > 0 &&
          decisions === this.root.length &&
          runnable.length > 1
        ) {
          sleep = new Map(this.rootSleep);
        }
        path.push({
          enabled: runnable.map((t) => t.id),
          previous: before === undefined ? -1 : before.chosen,
          preemptions: before === undefined ? 0 : before.preemptions + preempts(before),
          frozen:
            decisions < this.root.length ||
            (decisions === this.root.length && runnable.length > 1 && this.root.length > 0),
          chosen: task.id,
          backtrack: new Set(),
          done: new Set([task.id]),
          sleep,
          footprints: new Map(),
        });
      }
      depth++;
    });
    return scheduler;
  }

  /**
   * A probe: the execution that takes option `option` at the last root decision and then keeps
   * running tasks, to learn what that option's step touches (its footprint as a sleeper).
   */
  private probe(option: number): ChoiceScheduler {
    const root = [...this.root.slice(0, -1), option];
    let decisions = 0;
    let atSplit = false;
    let sleeper = -1;
    const scheduler = new ChoiceScheduler((options) => {
      const d = decisions++;
      atSplit = d === root.length - 1;
      if (atSplit) sleeper = options[option]!.id;
      return root[d] ?? 0;
    }, true);
    const footprint: Access[] = [];
    scheduler.onStep((_task, step) => {
      if (atSplit) footprint.push(...accessesOf(step));
    });
    scheduler.onStepDone((touches) => {
      if (!atSplit) return;
      for (const t of touches) footprint.push(access(t.obj.id, t.write));
      this.rootSleep.set(sleeper, footprint);
      atSplit = false;
    });
    return scheduler;
  }

  /**
   * The option for state `depth` (decision number `decision`): the root prefix's, then the
   * replayed task, else the first task that is not asleep.
   */
  private choose(
    options: readonly Task[],
    depth: number,
    decision: number,
    sleep: ReadonlyMap<number, readonly Access[]>,
    sched: Sched,
  ): number {
    const fixed = this.root[decision];
    if (fixed !== undefined) {
      if (fixed >= options.length)
        throw new ScheduleDivergence(
          `root decision ${decision}: option ${fixed} but only ${options.length} tasks are runnable`,
        );
      return fixed;
    }
    if (depth < this.path.length) {
      const want = this.path[depth]!.chosen;
      const idx = options.findIndex((t) => t.id === want);
      if (idx < 0)
        throw new ScheduleDivergence(
          `exploration step ${depth}: task ${want} is not runnable on replay`,
        );
      return idx;
    }
    // options[0] is the task that ran last when it still can: keep it unless it sleeps.
    const idx = options.findIndex((t) => !sleep.has(t.id));
    if (idx >= 0) return idx;
    // Every runnable task sleeps: every way on from here is equivalent to an explored one.
    this.sleepBlocked++;
    sched.stop("sleep-set blocked: every way on from here was explored");
    return 0;
  }

  executionDone(_decisions: readonly Decision[]): void {
    if (!this.inProbe) this.addBacktracks();
  }

  /**
   * Scans the finished execution for races and adds backtrack points. Vector clocks are flat
   * arrays indexed by the tasks' order of appearance; event j happens before event k exactly
   * when k's clock has seen j's position in its own task. A race is a pair of conflicting
   * events of different tasks with no other chain of happens-before between them: the earlier
   * events a step depends on are joined latest first, so that one already ordered through a
   * later one is not a race. Races whose later step lies in the replayed prefix were found by an
   * earlier execution, so only later steps are checked.
   */
  private addBacktracks(): void {
    const events = this.events;
    const index = new Map<number, number>();
    for (const e of events) if (!index.has(e.task)) index.set(e.task, index.size);
    const width = index.size;
    const taskIndex = new Int32Array(events.length);
    const clocks = new Int32Array(events.length * width);
    const current: (Int32Array | undefined)[] = [];
    const scratch = this.scratchFor(events);
    const { stamp, lastWrite, readHead } = scratch;
    const generation = scratch.generation;
    // The reads of each object since its last write: a list through readEvent/readNext.
    const readEvent: number[] = [];
    const readNext: number[] = [];
    const firstNew = Math.max(0, this.replayLength - 1);
    const races: number[] = [];
    const prior: number[] = [];
    for (let k = 0; k < events.length; k++) {
      const e = events[k]!;
      const ti = index.get(e.task)!;
      taskIndex[k] = ti;
      let vc = current[ti];
      if (vc === undefined) {
        vc = new Int32Array(width);
        if (e.spawnedAt >= 0 && e.spawnedAt < k)
          vc.set(clocks.subarray(e.spawnedAt * width, (e.spawnedAt + 1) * width));
        current[ti] = vc;
      }
      prior.length = 0;
      for (const a of e.accesses) {
        const obj = objectOf(a);
        if (stamp[obj] !== generation) continue;
        if (lastWrite[obj]! >= 0) prior.push(lastWrite[obj]!);
        if (isWrite(a))
          for (let r = readHead[obj]!; r >= 0; r = readNext[r]!) prior.push(readEvent[r]!);
      }
      prior.sort((a, b) => b - a);
      let previous = -1;
      for (const j of prior) {
        if (j === previous) continue;
        previous = j;
        const tj = taskIndex[j]!;
        if (tj === ti) continue;
        const base = j * width;
        if (clocks[base + tj]! <= vc[tj]!) continue;
        if (k >= firstNew) races.push(j, k);
        for (let x = 0; x < width; x++) if (clocks[base + x]! > vc[x]!) vc[x] = clocks[base + x]!;
      }
      vc[ti] = vc[ti]! + 1;
      clocks.set(vc, k * width);
      for (const a of e.accesses) {
        const obj = objectOf(a);
        if (stamp[obj] !== generation) {
          stamp[obj] = generation;
          lastWrite[obj] = -1;
          readHead[obj] = -1;
        }
        if (isWrite(a)) {
          lastWrite[obj] = k;
          readHead[obj] = -1;
        } else {
          readEvent.push(k);
          readNext.push(readHead[obj]!);
          readHead[obj] = readEvent.length - 1;
        }
      }
    }
    const bounded = Number.isFinite(this.bound);
    for (let r = 0; r < races.length; r += 2) {
      const j = races[r]!;
      const k = races[r + 1]!;
      if (bounded) this.backtrackAt(j, events[k]!.task);
      else this.insertSource(j, k, taskIndex, clocks, width);
    }
  }

  /**
   * addBacktracks' tables by object id, kept from one execution to the next: an entry counts
   * only when its stamp is the current generation, so nothing is cleared between executions.
   */
  private scratchFor(events: readonly Event[]): Scratch {
    const scratch = this.scratch;
    let maxObj = 0;
    for (const e of events) for (const a of e.accesses) maxObj = Math.max(maxObj, objectOf(a));
    if (maxObj >= scratch.stamp.length) {
      const size = Math.max(64, 2 * (maxObj + 1));
      scratch.stamp = new Int32Array(size);
      scratch.lastWrite = new Int32Array(size);
      scratch.readHead = new Int32Array(size);
      scratch.generation = 0;
    }
    scratch.generation++;
    return scratch;
  }

  /**
   * Source-set insertion for the race of j before k (Abdulla et al., POPL 2014, Algorithm 1):
   * the reversal needs, at the state before j, one of the initials of v, the events after j that
   * do not happen after j, followed by k: the tasks whose first event in v waits for no other
   * event of v. Nothing is added when one of them is already tried, scheduled or asleep there
   * (a sleeper's schedules are explored from an earlier sibling).
   */
  private insertSource(
    j: number,
    k: number,
    taskIndex: Int32Array,
    clocks: Int32Array,
    width: number,
  ): void {
    const node = this.path[j]!;
    if (node.frozen || saturated(node)) return;
    const events = this.events;
    const tj = taskIndex[j]!;
    const seenJ = clocks[j * width + tj]!;
    const firstInV = new Int32Array(width).fill(0x7fffffff);
    const candidates: number[] = [];
    for (let i = j + 1; i <= k; i++) {
      if (i < k && clocks[i * width + tj]! >= seenJ) continue;
      const ti = taskIndex[i]!;
      if (firstInV[ti] !== 0x7fffffff) continue;
      firstInV[ti] = clocks[i * width + ti]!;
      candidates.push(i);
    }
    const initials: number[] = [];
    for (const f of candidates) {
      const tf = taskIndex[f]!;
      let initial = true;
      for (let x = 0; x < width; x++) {
        if (x !== tf && clocks[f * width + x]! >= firstInV[x]!) {
          initial = false;
          break;
        }
      }
      if (initial) initials.push(events[f]!.task);
    }
    for (const t of initials)
      if (node.done.has(t) || node.backtrack.has(t) || node.sleep.has(t)) return;
    const q = events[k]!.task;
    const pick = initials.includes(q) ? q : Math.min(...initials);
    if (node.enabled.includes(pick)) node.backtrack.add(pick);
    else for (const t of node.enabled) node.backtrack.add(t);
  }

  /**
   * Schedules `task` at state `j` (where a racing step ran first); with a preemption bound also
   * at the last context switch before `j`, where running `task` is not a preemption.
   */
  private backtrackAt(j: number, task: number): void {
    const path = this.path;
    this.addBacktrack(path[j]!, task);
    if (!Number.isFinite(this.bound)) return;
    for (let i = j - 1; i > 0; i--) {
      if (path[i]!.chosen !== path[i - 1]!.chosen) {
        this.addBacktrack(path[i]!, task);
        return;
      }
    }
    if (j > 0) this.addBacktrack(path[0]!, task);
  }

  /** Adds `task` (or, when it cannot run there, every task that can) within the bound. */
  private addBacktrack(node: Node, task: number): void {
    if (node.frozen) return;
    if (node.enabled.includes(task)) {
      this.addWithinBound(node, task);
    } else {
      for (const t of node.enabled) this.addWithinBound(node, t);
    }
  }

  private addWithinBound(node: Node, task: number): void {
    if (node.preemptions + preempts(node, task) <= this.bound) node.backtrack.add(task);
  }

  explored(): number {
    if (this.exhausted) return 1;
    let fraction = 0;
    let weight = 1;
    for (const node of this.path) {
      if (node.frozen) continue;
      let branches = node.done.size;
      for (const t of node.backtrack) if (!node.done.has(t) && !node.sleep.has(t)) branches++;
      fraction += (weight * (node.done.size - 1)) / branches;
      weight /= branches;
    }
    return fraction;
  }

  /** Moves to the deepest state with an untried backtrack task; false when there is none. */
  private advance(): boolean {
    const path = this.path;
    while (path.length > 0) {
      const node = path[path.length - 1]!;
      if (node.frozen) return false;
      let next = -1;
      for (const t of node.backtrack) {
        if (!node.done.has(t) && !node.sleep.has(t) && (next < 0 || t < next)) next = t;
      }
      if (next >= 0) {
        node.done.add(next);
        node.chosen = next;
        return true;
      }
      path.pop();
    }
    return false;
  }
}

/** 1 when running `task` (default: the task chosen) at `node` preempts a task that could go on. */
function preempts(node: Node, task: number = node.chosen): number {
  return node.previous >= 0 && task !== node.previous && node.enabled.includes(node.previous)
    ? 1
    : 0;
}

/** Every task that can run at `node` is tried, scheduled or asleep there: nothing to add. */
function saturated(node: Node): boolean {
  for (const t of node.enabled)
    if (!node.done.has(t) && !node.backtrack.has(t) && !node.sleep.has(t)) return false;
  return true;
}
