// The strategy interface (Shuttle's Scheduler trait, one file per strategy): a strategy hands
// out one ChoiceScheduler per execution and learns the decisions each execution made.

import type { ChoiceScheduler, Decision } from "./choice.js";

export interface Strategy {
  /** Name as the CLI spells it. */
  readonly name: string;
  /** The scheduler for the next execution, or null when the strategy has covered its space. */
  nextExecution(): ChoiceScheduler | null;
  /** The decisions of the execution just run with the last scheduler handed out. */
  executionDone(decisions: readonly Decision[]): void;
  /** True once a systematic strategy has explored everything it set out to (never for sampling). */
  readonly complete: boolean;
  /** A human-readable account of what "complete" covers, e.g. "all schedules" or "≤2 preemptions". */
  readonly coverage: string;
  /**
   * An estimate of the fraction of its space explored so far, in [0, 1]. For tree searches it
   * assumes that unexplored subtrees are as large as explored ones (Knuth's estimator), so it is
   * a guide for progress bars, not a promise.
   */
  explored(): number;
}
