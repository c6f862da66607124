// PCT, probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010; checkers.md §4.8): each
// execution gives the tasks random distinct priorities, picks d-1 change points among the
// expected number of steps, always runs the highest-priority runnable task, and at the i-th
// change point drops the running task's priority below every initial one. A bug of depth d is
// found in each execution with probability at least 1/(n·k^(d-1)). New tasks get a random
// priority among the initial ones. The step estimate k is the length of the default execution,
// fixed for the whole run, so that each execution depends only on the seed and its number and a
// run of execution numbers (one unit of a sharded check) can run anywhere.

import type { Prng } from "../kernel/prng.js";
import { ChoiceScheduler } from "./choice.js";
import { SampleStrategy } from "./sample.js";

export class PctStrategy extends SampleStrategy {
  readonly name = "pct";
  readonly coverage: string;

  /** Executions number `first` to `first + count - 1`, with `expectedSteps` as k. */
  constructor(
    seed: number,
    private readonly depth: number,
    private readonly expectedSteps: number,
    first = 0,
    count = Number.POSITIVE_INFINITY,
  ) {
    super(seed, 0x85ebca6b, first, count);
    this.coverage = `a PCT sample at depth ${depth}`;
  }

  protected scheduler(prng: Prng): ChoiceScheduler {
    const priorities = new Map<number, number>();
    const changePoints: number[] = [];
    const k = Math.max(1, this.expectedSteps);
    for (let i = 1; i < this.depth; i++) changePoints.push(1 + prng.below(k));
    let lowered = 0;
    return new ChoiceScheduler((options, _depth, sched) => {
      for (const task of options) {
        if (!priorities.has(task.id)) priorities.set(task.id, this.depth + prng.below(1 << 20));
      }
      const step = sched.stepCount;
      const prev = sched.previous;
      for (let i = 0; i < changePoints.length; i++) {
        if (changePoints[i] === step && prev !== null)
          priorities.set(prev.id, this.depth - 1 - lowered++);
      }
      let best = 0;
      for (let i = 1; i < options.length; i++) {
        if (priorities.get(options[i]!.id)! > priorities.get(options[best]!.id)!) best = i;
      }
      return best;
    });
  }
}
