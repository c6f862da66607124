// Random walk: every decision picks uniformly among the runnable tasks, with a PRNG seeded from
// the run's seed and the execution number, so that every execution can be replayed alone and a
// run of execution numbers (one unit of a sharded check) can run anywhere.

import { Prng } from "../kernel/prng.js";
import { ChoiceScheduler } from "./choice.js";
import type { Strategy } from "./strategy.js";

export class RandomStrategy implements Strategy {
  readonly name = "random";
  readonly complete = false;
  readonly coverage = "a random sample of schedules";
  private execution: number;
  private readonly first: number;
  private readonly end: number;

  /** Executions number `first` to `first + count - 1`. */
  constructor(
    private readonly seed: number,
    first = 0,
    count = Number.POSITIVE_INFINITY,
  ) {
    this.execution = first;
    this.first = first;
    this.end = first + count;
  }

  explored(): number {
    return Number.isFinite(this.end) ? (this.execution - this.first) / (this.end - this.first) : 0;
  }

  nextExecution(): ChoiceScheduler | null {
    if (this.execution >= this.end) return null;
    const prng = new Prng((this.seed * 0x9e3779b1 + this.execution++) >>> 0);
    return new ChoiceScheduler((options) => prng.below(options.length));
  }

  executionDone(): void {}
}
