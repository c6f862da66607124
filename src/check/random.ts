// Random walk: every decision picks uniformly among the runnable tasks (check/sample.ts gives
// each execution its own PRNG).

import type { Prng } from "../kernel/prng.js";
import { ChoiceScheduler } from "./choice.js";
import { SampleStrategy } from "./sample.js";

export class RandomStrategy extends SampleStrategy {
  readonly name = "random";
  readonly coverage = "a random sample of schedules";

  /** Executions number `first` to `first + count - 1`. */
  constructor(seed: number, first = 0, count = Number.POSITIVE_INFINITY) {
    super(seed, 0x9e3779b1, first, count);
  }

  protected scheduler(prng: Prng): ChoiceScheduler {
    return new ChoiceScheduler((options) => prng.below(options.length));
  }
}
