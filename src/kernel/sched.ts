// The execution engine: tasks as generators, a run queue, blocking and wake-up, a simulated
// clock and the step loop. This is our own machinery (a loom-style `rt/`), so it uses camelCase;
// the kernel-shaped facade over it (locks, waits, mm) lives in the other files of this folder.
//
// Contract for kernel code (DESIGN.md, "Execution model"):
// - Code that can block or that touches state shared between tasks outside a simulated lock is
//   a `function*` returning Gen; callers use `yield*`.
// - Each `yield` is one scheduling point and carries a Step: the visible operation the task will
//   perform when it is next scheduled. Everything from that operation up to the next `yield` runs
//   atomically and may touch only the described object, task-local state, or state protected by
//   a simulated lock the task holds. That is what makes the steps safe to reorder (DPOR).
// - A task blocks by calling Sched.blockCurrent() and then yielding a "resume" step; it runs
//   again only after Sched.wake().

import type { Site, StepOp, TaskId, TraceEvent } from "../trace/index.js";
import { KernelBug } from "./bug.js";
import type { HeldLock } from "./lockdep.js";
import type { mm_struct } from "./mm_types.js";

/** Anything a step can touch: a lock, a fence, a PTE slot, a counter. */
export interface KObject {
  /** Unique within one execution, assigned in creation order, so it is replay-stable. */
  readonly id: number;
  readonly name: string;
}

/** An object a task can block on. */
export interface Waitable extends KObject {
  /** Tasks that hold the object (lock owners); empty when nobody does (a fence, a queue). */
  holders(): readonly Task[];
  /**
   * Tasks that must act before `waiter` can proceed: the holders, and for a FIFO lock the
   * waiters queued ahead of it. Defaults to holders().
   */
  blockers?(waiter: Task): readonly Task[];
}

/** A scheduling point: what the task does when it is next chosen. */
export interface Step {
  readonly op: StepOp;
  readonly obj: KObject;
  readonly site: Site;
  /**
   * Further objects the step touches, when one is not enough: a user load reads its PTE slot
   * and the frame behind it, a page copy reads one frame and writes another.
   */
  readonly also?: readonly StepAccess[];
  /**
   * For partial-order reduction the step only reads `obj`, and says so with Sched.touch when it
   * does change it after all. For lock operations that change nothing in most outcomes: the
   * read side of an rwsem (readers commute with each other, and conflict with every write-side
   * operation; a release that hands the lock to waiters writes it), and the trylock of a mutex,
   * spinlock or ww_mutex, which writes the lock only when it takes it (a failed attempt only
   * looked, and only a write changes who holds such a lock).
   */
  readonly readUnlessTouched?: boolean;
}

/** One object a step touches, and whether it may change it. */
export interface StepAccess {
  readonly obj: KObject;
  readonly write: boolean;
}

/** Whether a step's main operation may change its object ("read" and "wait" only look). */
export function isWriteOp(op: StepOp): boolean {
  return op !== "read" && op !== "wait" && op !== "resume" && op !== "yield";
}

/** Kernel code that may reach scheduling points. */
export type Gen<T = void> = Generator<Step, T, void>;

export type TaskState = "runnable" | "blocked" | "done";
export type TaskKind = "user" | "kernel" | "gpu";

/** Why a blocked task became runnable again. */
export type WakeReason = "woken" | "timeout";

/** A simulated task: a user thread, a kernel thread or the GPU engine. */
export class Task implements KObject {
  state: TaskState = "runnable";
  /** The step this task performs when next scheduled. */
  pending: Step;
  /** What the task waits for while blocked. */
  blockedOn: Waitable | null = null;
  /** Simulated time at which a blocked task times out; Infinity when it waits without limit. */
  wakeAtNs = Number.POSITIVE_INFINITY;
  wakeReason: WakeReason = "woken";
  /** Spinlocks held: the preempt count. Sleeping while it is above zero is a kernel bug. */
  atomicDepth = 0;
  /** lockdep's stack of held locks, oldest first. */
  readonly heldLocks: HeldLock[] = [];
  /** Number of steps this task has executed. */
  stepsRun = 0;
  /** Last site this task executed, for step-bound explanations. */
  lastSite: Site = "";
  /** The step during which the task was spawned (-1 before the first step). */
  spawnedAt = -1;
  /** current->mm: the address space of a user thread; null for kernel threads. */
  mm: mm_struct | null = null;
  body: Gen | null = null;

  constructor(
    readonly id: TaskId,
    readonly name: string,
    readonly kind: TaskKind,
    /** A daemon (the GPU engine, a worker) may stay blocked at the end without it being a deadlock. */
    readonly daemon: boolean,
  ) {
    this.pending = { op: "yield", obj: this, site: "task_start" };
  }

  holders(): readonly Task[] {
    return this.state === "done" ? [] : [this];
  }
}

/** Picks the task that runs the next step. `runnable` is non-empty and sorted by task id. */
export interface Scheduler {
  pick(runnable: readonly Task[], sched: Sched): Task;
  /**
   * When true, the engine records what each step touches beyond its descriptor (Sched.touch)
   * and reports it through stepDone.
   */
  readonly wantsTouches?: boolean;
  /** Told what the step just run touched beyond its descriptor (only with wantsTouches). */
  stepDone?(touches: readonly StepAccess[]): void;
  /**
   * Told about every step before it runs, forced or chosen: which task, what it does, and
   * which tasks could have run. Partial-order reduction builds its event log from this.
   */
  observeStep?(task: Task, step: Step, runnable: readonly Task[], sched: Sched): void;
}

/** Who must act before `waiter`, blocked on `on`, can go on. */
export function blockersOf(on: Waitable, waiter: Task): readonly Task[] {
  return on.blockers === undefined ? on.holders() : on.blockers(waiter);
}

/** One task's part in a deadlock: what it waits for and who holds that. */
export interface WaitForEntry {
  readonly task: Task;
  readonly on: Waitable;
  readonly holders: readonly Task[];
  readonly site: Site;
}

/** How an execution ended. */
export type RunOutcome =
  | { readonly kind: "done" }
  /** Unfinished tasks and none runnable, or a wait-for cycle. `cycle` is empty when none exists. */
  | {
      readonly kind: "deadlock";
      readonly waits: readonly WaitForEntry[];
      readonly cycle: readonly Task[];
    }
  | { readonly kind: "bug"; readonly bug: KernelBug; readonly task: Task }
  | { readonly kind: "step-bound"; readonly maxSteps: number; readonly explanation: string }
  | { readonly kind: "stopped"; readonly reason: string };

/** Everything that makes one execution: the clock, the trace sink and the step budget. */
export interface SchedOptions {
  /** Record trace events (on for replay, off for exploration). */
  readonly trace: boolean;
}

/** The engine for one execution. */
export class Sched {
  readonly tasks: Task[] = [];
  /** Runnable tasks, sorted by id. */
  readonly runq: Task[] = [];
  /** The task whose step is executing, or null between steps. */
  current: Task | null = null;
  /** Index of the step executing now (or of the last one, between steps). */
  stepIndex = -1;
  /** Simulated time. It advances only when every task is blocked and one waits with a timeout. */
  nowNs = 0;
  /** The task chosen at each step, in order: the schedule that replays this execution. */
  readonly schedule: TaskId[] = [];
  /** Number of times the scheduler switched away from a task that could have continued. */
  preemptions = 0;
  /** Recorded events, or null when tracing is off. */
  readonly trace: TraceEvent[] | null;
  private nextObjectId = 1;
  private liveNonDaemons = 0;
  private lastTask: Task | null = null;
  private stopReason: string | null = null;
  private pendingDeadlock: RunOutcome | null = null;
  /** Objects touched by the step in progress beyond its descriptor, when someone listens. */
  private touches: StepAccess[] | null = null;

  constructor(options: SchedOptions) {
    this.trace = options.trace ? [] : null;
  }

  /** A fresh object id; every KObject of the execution takes one. */
  allocId(): number {
    return this.nextObjectId++;
  }

  /**
   * Creates a task that runs `body`. It becomes runnable at once; its first step ("task_start")
   * touches nothing, so the spawner's step and the new task's code are never merged.
   */
  spawn(
    name: string,
    kind: TaskKind,
    daemon: boolean,
    body: (task: Task) => Gen,
    process?: string,
  ): Task {
    const task = new Task(this.allocId(), name, kind, daemon);
    task.body = body(task);
    task.spawnedAt = this.stepIndex;
    this.tasks.push(task);
    if (!daemon) this.liveNonDaemons++;
    this.insertRunnable(task);
    const trace = this.trace;
    if (trace) {
      const by = this.current;
      trace.push(
        process === undefined
          ? {
              type: "task-spawn",
              step: this.stepIndex,
              task: task.id,
              site: by ? by.lastSite : "boot",
              name,
              kind,
            }
          : {
              type: "task-spawn",
              step: this.stepIndex,
              task: task.id,
              site: by ? by.lastSite : "boot",
              name,
              kind,
              process,
            },
      );
    }
    return task;
  }

  /** The running task. Only valid inside a step. */
  get cur(): Task {
    const task = this.current;
    if (task === null) throw new Error("no current task: kernel code ran outside a step");
    return task;
  }

  /**
   * Marks the current task blocked on `on`. The caller must yield a "resume" step right after;
   * the task runs again only when woken. `timeoutNs` bounds the wait in simulated time.
   * A wait that closes a wait-for cycle ends the execution as a deadlock at once: nobody in the
   * cycle can ever run again, even if unrelated tasks go on.
   */
  blockCurrent(on: Waitable, timeoutNs = Number.POSITIVE_INFINITY): void {
    const task = this.cur;
    task.state = "blocked";
    task.blockedOn = on;
    task.wakeAtNs = this.nowNs + timeoutNs;
    task.wakeReason = "woken";
    this.removeRunnable(task);
    const cycle = this.findWaitCycle(task);
    if (cycle !== null && this.pendingDeadlock === null) {
      this.pendingDeadlock = { kind: "deadlock", waits: this.waitForEntries(), cycle };
    }
  }

  /** Makes a blocked task runnable. Waking a task that is not blocked does nothing. */
  wake(task: Task, on: Waitable, site: Site, reason: WakeReason = "woken"): void {
    if (task.state !== "blocked") return;
    task.state = "runnable";
    task.blockedOn = null;
    task.wakeAtNs = Number.POSITIVE_INFINITY;
    task.wakeReason = reason;
    this.insertRunnable(task);
    const trace = this.trace;
    if (trace) {
      const by = this.current;
      trace.push({
        type: "wake",
        step: this.stepIndex,
        task: by ? by.id : task.id,
        site,
        woken: task.id,
        on: on.name,
      });
    }
  }

  /** Ends the execution after the current step (an observer saw enough). */
  stop(reason: string): void {
    if (this.stopReason === null) this.stopReason = reason;
  }

  /**
   * Records that the step in progress touches `obj` beyond what its descriptor says: a frame
   * whose owner changes, a buffer whose placement changes. Partial-order reduction orders
   * steps by these too. Cheap when nobody listens.
   */
  touch(obj: KObject, write: boolean): void {
    this.touches?.push({ obj, write });
  }

  /** Appends a trace event if tracing is on. Prefer checking `trace` first to avoid building it. */
  emit(event: TraceEvent): void {
    this.trace?.push(event);
  }

  /** Runs steps chosen by `scheduler` until the execution ends or `maxSteps` steps have run. */
  run(scheduler: Scheduler, maxSteps: number): RunOutcome {
    for (;;) {
      if (this.pendingDeadlock !== null) return this.pendingDeadlock;
      if (this.stopReason !== null) return { kind: "stopped", reason: this.stopReason };
      const runq = this.runq;
      if (runq.length === 0) {
        if (this.fireTimeouts()) continue;
        if (this.liveNonDaemons > 0) {
          return { kind: "deadlock", waits: this.waitForEntries(), cycle: this.anyWaitCycle() };
        }
        return { kind: "done" };
      }
      if (this.stepIndex + 1 >= maxSteps) {
        return { kind: "step-bound", maxSteps, explanation: this.explainStepBound(maxSteps) };
      }
      const task = runq.length === 1 ? runq[0]! : scheduler.pick(runq, this);
      scheduler.observeStep?.(task, task.pending, runq, this);
      if (scheduler.wantsTouches === true) this.touches = [];
      const bug = this.execute(task);
      if (this.touches !== null) {
        scheduler.stepDone?.(this.touches);
        this.touches = null;
      }
      if (bug !== null) return { kind: "bug", bug, task };
    }
  }

  /** Runs one step of `task`, which must be runnable. Returns the KernelBug it raised, if any. */
  execute(task: Task): KernelBug | null {
    const last = this.lastTask;
    if (last !== null && last !== task && last.state === "runnable") this.preemptions++;
    this.lastTask = task;
    this.schedule.push(task.id);
    this.current = task;
    const stepIndex = ++this.stepIndex;
    const step = task.pending;
    task.stepsRun++;
    task.lastSite = step.site;
    const trace = this.trace;
    if (trace) {
      trace.push({
        type: "step",
        step: stepIndex,
        task: task.id,
        site: step.site,
        op: step.op,
        obj: step.obj.name,
      });
    }
    let result: IteratorResult<Step, void>;
    try {
      result = task.body!.next();
    } catch (error) {
      this.current = null;
      if (error instanceof KernelBug) return error;
      throw error;
    }
    if (result.done) {
      this.finish(task);
    } else {
      task.pending = result.value;
    }
    this.current = null;
    return null;
  }

  /** The task that ran the last step, or null before the first. */
  get previous(): Task | null {
    return this.lastTask;
  }

  /** Steps run so far by every task. */
  get stepCount(): number {
    return this.stepIndex + 1;
  }

  /** Whether every non-daemon task has finished. */
  get allDone(): boolean {
    return this.liveNonDaemons === 0;
  }

  private finish(task: Task): void {
    task.state = "done";
    task.body = null;
    this.removeRunnable(task);
    if (!task.daemon) this.liveNonDaemons--;
    const trace = this.trace;
    if (trace)
      trace.push({ type: "task-exit", step: this.stepIndex, task: task.id, site: task.lastSite });
  }

  private insertRunnable(task: Task): void {
    const runq = this.runq;
    let i = runq.length;
    while (i > 0 && runq[i - 1]!.id > task.id) i--;
    runq.splice(i, 0, task);
  }

  private removeRunnable(task: Task): void {
    const i = this.runq.indexOf(task);
    if (i >= 0) this.runq.splice(i, 1);
  }

  /** When nothing can run, advances the clock to the earliest timeout and wakes those tasks. */
  private fireTimeouts(): boolean {
    let earliest = Number.POSITIVE_INFINITY;
    for (const task of this.tasks) {
      if (task.state === "blocked" && task.wakeAtNs < earliest) earliest = task.wakeAtNs;
    }
    if (earliest === Number.POSITIVE_INFINITY) return false;
    this.nowNs = earliest;
    for (const task of this.tasks) {
      if (task.state === "blocked" && task.wakeAtNs <= earliest) {
        this.wake(task, task.blockedOn!, "timer", "timeout");
      }
    }
    return true;
  }

  /** Each blocked task with what it waits for and who holds that, in task order. */
  waitForEntries(): WaitForEntry[] {
    const waits: WaitForEntry[] = [];
    for (const task of this.tasks) {
      if (task.state !== "blocked" || task.blockedOn === null) continue;
      waits.push({
        task,
        on: task.blockedOn,
        holders: blockersOf(task.blockedOn, task),
        site: task.pending.site,
      });
    }
    return waits;
  }

  /** A wait-for cycle through `start` (start, a holder of what it waits for, ...), or null. */
  private findWaitCycle(start: Task): Task[] | null {
    const path: Task[] = [];
    const onPath = new Set<Task>();
    const visit = (task: Task): boolean => {
      if (task.state !== "blocked" || task.blockedOn === null) return false;
      path.push(task);
      onPath.add(task);
      for (const holder of blockersOf(task.blockedOn, task)) {
        if (holder === start) return true;
        if (!onPath.has(holder) && visit(holder)) return true;
      }
      path.pop();
      onPath.delete(task);
      return false;
    };
    return visit(start) ? path : null;
  }

  private anyWaitCycle(): Task[] {
    for (const task of this.tasks) {
      const cycle = this.findWaitCycle(task);
      if (cycle !== null) return cycle;
    }
    return [];
  }

  private explainStepBound(maxSteps: number): string {
    const live = this.tasks.filter((t) => t.state !== "done");
    const busiest = [...live].sort((a, b) => b.stepsRun - a.stepsRun)[0];
    const parts = live.map(
      (t) => `${t.name} (${t.stepsRun} steps, last at ${t.lastSite}, ${t.state})`,
    );
    const hint =
      busiest === undefined
        ? ""
        : `; ${busiest.name} ran most: it may be retrying without progress (a fault that keeps returning ` +
          "VM_FAULT_RETRY, a trylock loop that never yields to the holder), or the scenario may need a " +
          "larger step bound";
    return `step bound of ${maxSteps} reached with tasks still running: ${parts.join(", ")}${hint}`;
  }
}
