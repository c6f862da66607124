// Random walk: every decision picks uniformly among the runnable tasks, with a PRNG seeded from
// the run's seed and the execution number, so that every execution can be replayed alone.

import { Prng } from "../kernel/prng.js";
import { ChoiceScheduler } from "./choice.js";
import type { Strategy } from "./strategy.js";

export class RandomStrategy implements Strategy {
  readonly name = "random";
  readonly complete = false;
  readonly coverage = "a random sample of schedules";
  private execution = 0;

  constructor(private readonly seed: number) {}

  nextExecution(): ChoiceScheduler {
    const prng = new Prng((this.seed * 0x9e3779b1 + this.execution++) >>> 0);
    return new ChoiceScheduler((options) => prng.below(options.length));
  }

  executionDone(): void {}
}
