// What every sampling strategy shares: a run of execution numbers (one unit of a sharded check,
// or the whole sample), and for each execution a PRNG seeded from the run's seed and the
// execution's number only, so that any execution can be replayed alone and any run of numbers
// can run anywhere.

import { Prng } from "../kernel/prng.js";
import type { ChoiceScheduler } from "./choice.js";
import type { Strategy } from "./strategy.js";

export abstract class SampleStrategy implements Strategy {
  abstract readonly name: string;
  abstract readonly coverage: string;
  readonly complete = false;
  private execution: number;
  private readonly first: number;
  private readonly end: number;

  /**
   * Executions number `first` to `first + count - 1`; `multiplier` keeps the seeds of different
   * strategies apart.
   */
  constructor(
    private readonly seed: number,
    private readonly multiplier: number,
    first: number,
    count: number,
  ) {
    this.execution = first;
    this.first = first;
    this.end = first + count;
  }

  /** The scheduler of one execution, drawing from `prng`. */
  protected abstract scheduler(prng: Prng): ChoiceScheduler;

  nextExecution(): ChoiceScheduler | null {
    if (this.execution >= this.end) return null;
    const n = this.execution++;
    return this.scheduler(new Prng((Math.imul(this.seed, this.multiplier) + n) >>> 0));
  }

  executionDone(): void {}

  explored(): number {
    return Number.isFinite(this.end) ? (this.execution - this.first) / (this.end - this.first) : 0;
  }
}
