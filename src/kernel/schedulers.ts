// Simple schedulers for tests, benchmarks and the kernel's own use. The checker's exploration
// strategies live in check/; these are the policies a plain run needs.

import type { Prng } from "./prng.js";
import type { Sched, Scheduler, Task } from "./sched.js";

/**
 * Keeps running the task that ran last while it can (no preemption); otherwise the runnable
 * task with the lowest id. The schedule with zero preemptions.
 */
export class NonPreemptive implements Scheduler {
  private last: Task | null = null;

  pick(runnable: readonly Task[]): Task {
    const last = this.last;
    const task = last !== null && runnable.includes(last) ? last : runnable[0]!;
    this.last = task;
    return task;
  }
}

/** Runs the runnable tasks in turn, one step each, in id order. */
export class RoundRobin implements Scheduler {
  private lastId = -1;

  pick(runnable: readonly Task[]): Task {
    const next = runnable.find((t) => t.id > this.lastId) ?? runnable[0]!;
    this.lastId = next.id;
    return next;
  }
}

/** Picks uniformly at random among the runnable tasks. */
export class RandomScheduler implements Scheduler {
  constructor(private readonly prng: Prng) {}

  pick(runnable: readonly Task[]): Task {
    return runnable[this.prng.below(runnable.length)]!;
  }
}

/** One entry of a directed schedule. */
export type Direction =
  /** Run this task for one step. */
  | string
  /**
   * Run `task` until its next step would be at `site` (it stops before that step), or until
   * it blocks or ends when `site` is omitted.
   */
  | { readonly task: string; readonly until?: string };

/**
 * Follows a directed schedule: a litmus test names who runs and how far. When a named task is
 * not runnable the direction is wrong for this execution and `pick` throws, naming who could
 * run. After the last direction, `fallback` decides.
 */
export class Directed implements Scheduler {
  private at = 0;

  constructor(
    private readonly directions: readonly Direction[],
    private readonly fallback: Scheduler = new NonPreemptive(),
  ) {}

  pick(runnable: readonly Task[], sched: Sched): Task {
    for (;;) {
      const direction = this.directions[this.at];
      if (direction === undefined) return this.fallback.pick(runnable, sched);
      const name = typeof direction === "string" ? direction : direction.task;
      const task = runnable.find((t) => t.name === name);
      if (typeof direction === "string") {
        if (task === undefined) throw new Error(this.notRunnable(name, runnable));
        this.at++;
        return task;
      }
      const until = direction.until;
      if (until === undefined) {
        if (task !== undefined) return task;
        this.at++;
        continue;
      }
      const named = sched.tasks.find((t) => t.name === name);
      if (named !== undefined && named.state !== "done" && named.pending.site === until) {
        this.at++;
        continue;
      }
      if (task === undefined)
        throw new Error(`${this.notRunnable(name, runnable)} before reaching ${until}`);
      return task;
    }
  }

  private notRunnable(name: string, runnable: readonly Task[]): string {
    return `direction ${this.at}: ${name} is not runnable (runnable: ${runnable.map((t) => t.name).join(", ")})`;
  }
}
