// The scheduler every strategy drives: at each scheduling decision (more than one runnable
// task) it lists the runnable tasks in preference order (the task that ran last first, so index
// 0 never preempts; then the others by task id), lets the strategy pick an index, and records
// the decision. The recorded indices are the schedule: replaying them reproduces the execution.

import type { Sched, Scheduler, Step, StepAccess, Task } from "../kernel/sched.js";

/** One scheduling decision of an execution. */
export interface Decision {
  /** Number of runnable tasks offered. */
  readonly options: number;
  /** Index chosen among them (0 = keep running the previous task, when it could). */
  readonly chosen: number;
  /** Whether index 0 was the task that ran last, so that any other choice is a preemption. */
  readonly preemptible: boolean;
  /** The task id chosen, for reports. */
  readonly task: number;
  /** The step index at which the decision was made. */
  readonly step: number;
}

/** Sees every step before it runs. */
export type StepHook = (task: Task, step: Step, runnable: readonly Task[], sched: Sched) => void;

/** Picks an index in [0, options.length) for decision number `depth`. */
export type ChooseFn = (options: readonly Task[], depth: number, sched: Sched) => number;

/** The tasks offered at a decision, in preference order. */
export function preferenceOrder(
  runnable: readonly Task[],
  previous: Task | null,
): { options: Task[]; preemptible: boolean } {
  if (previous !== null && runnable.includes(previous)) {
    return { options: [previous, ...runnable.filter((t) => t !== previous)], preemptible: true };
  }
  return { options: [...runnable], preemptible: false };
}

/** Thrown when an execution does not follow the schedule it is replaying. */
export class ScheduleDivergence extends Error {
  override readonly name = "ScheduleDivergence";
}

export class ChoiceScheduler implements Scheduler {
  readonly decisions: Decision[] = [];
  /** A strategy's hook that sees every step (partial-order reduction needs them all). */
  private stepHook: StepHook | null = null;

  /** A strategy's hook that sees what each step touched beyond its descriptor. */
  private doneHook: ((touches: readonly StepAccess[]) => void) | null = null;

  constructor(
    private readonly choose: ChooseFn,
    /** Ask the engine for every step's extra touches (partial-order reduction needs them). */
    readonly wantsTouches = false,
  ) {}

  /** Installs the hook that stepDone calls. */
  onStepDone(hook: (touches: readonly StepAccess[]) => void): void {
    this.doneHook = hook;
  }

  stepDone(touches: readonly StepAccess[]): void {
    this.doneHook?.(touches);
  }

  /** Installs the hook that observeStep calls. */
  onStep(hook: StepHook): void {
    this.stepHook = hook;
  }

  observeStep(task: Task, step: Step, runnable: readonly Task[], sched: Sched): void {
    this.stepHook?.(task, step, runnable, sched);
  }

  pick(runnable: readonly Task[], sched: Sched): Task {
    const { options, preemptible } = preferenceOrder(runnable, sched.previous);
    const chosen = this.choose(options, this.decisions.length, sched);
    const task = options[chosen];
    if (task === undefined) {
      throw new ScheduleDivergence(
        `decision ${this.decisions.length} at step ${sched.stepCount}: index ${chosen} but only ${options.length} tasks are runnable (${options.map((t) => t.name).join(", ")})`,
      );
    }
    this.decisions.push({
      options: options.length,
      chosen,
      preemptible,
      task: task.id,
      step: sched.stepCount,
    });
    return task;
  }

  /** Number of preemptions in the recorded decisions. */
  get preemptions(): number {
    return countPreemptions(this.decisions);
  }
}

/** Preemptions in a decision list: choices other than "keep running" when that was possible. */
export function countPreemptions(decisions: readonly Decision[]): number {
  let n = 0;
  for (const d of decisions) if (d.preemptible && d.chosen !== 0) n++;
  return n;
}

/**
 * A scheduler that follows `prefix` and then always prefers the running task. `strict` makes a
 * choice that does not exist a ScheduleDivergence (replay); otherwise it falls back to 0
 * (minimisation edits schedules). `expectedOptions`, when given, must match the number of
 * runnable tasks at each replayed decision, or the model is nondeterministic.
 */
export function prefixScheduler(
  prefix: readonly number[],
  strict: boolean,
  expectedOptions: readonly number[] = [],
): ChoiceScheduler {
  return new ChoiceScheduler((options, depth, sched) => {
    const n = expectedOptions[depth];
    if (n !== undefined && n !== options.length) {
      throw new ScheduleDivergence(
        `nondeterminism: decision ${depth} at step ${sched.stepCount} offered ${options.length} runnable tasks on replay, ${n} before`,
      );
    }
    const want = prefix[depth];
    if (want === undefined) return 0;
    if (want < options.length) return want;
    if (strict) {
      throw new ScheduleDivergence(
        `decision ${depth} at step ${sched.stepCount}: the schedule picks option ${want} but only ${options.length} tasks are runnable (${options.map((t) => t.name).join(", ")})`,
      );
    }
    return 0;
  });
}

/**
 * Follows `prefix`, then schedules fairly: the runnable task that has waited longest (ran
 * least recently) goes next, so that no task can be starved. Used to tell a livelock from an
 * unfair schedule that merely starved someone.
 */
export function fairAfterPrefix(prefix: readonly number[]): ChoiceScheduler {
  const lastRan = new Map<number, number>();
  return new ChoiceScheduler((options, depth, sched) => {
    const prev = sched.previous;
    if (prev !== null) lastRan.set(prev.id, sched.stepCount);
    const want = prefix[depth];
    if (want !== undefined && want < options.length) return want;
    let best = 0;
    for (let i = 1; i < options.length; i++) {
      if ((lastRan.get(options[i]!.id) ?? -1) < (lastRan.get(options[best]!.id) ?? -1)) best = i;
    }
    return best;
  });
}
