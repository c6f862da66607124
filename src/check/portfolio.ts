// A portfolio of sampling strategies (Shuttle's PortfolioRunner; checkers.md §4.8: "use d ∈ {1,
// 2, 3} in a portfolio with plain random walk"). A sample is cut into runs of consecutive
// execution numbers (check/units.ts); run i samples with a random walk when i % 4 is 0 and with
// PCT at depth i % 4 otherwise. Every execution still depends only on the seed and its number.

import type { ChoiceScheduler, Decision } from "./choice.js";
import { PctStrategy } from "./pct.js";
import { RandomStrategy } from "./random.js";
import type { Strategy } from "./strategy.js";

/** The strategy of run `run` of a portfolio: executions `first` to `first + count - 1`. */
export class PortfolioStrategy implements Strategy {
  readonly name = "portfolio";
  readonly complete = false;
  readonly coverage = "a sample of schedules by random walk and PCT at depths 1 to 3";
  private readonly member: Strategy;

  constructor(seed: number, expectedSteps: number, run: number, first: number, count: number) {
    const depth = run % 4;
    this.member =
      depth === 0
        ? new RandomStrategy(seed, first, count)
        : new PctStrategy(seed, depth, expectedSteps, first, count);
  }

  nextExecution(): ChoiceScheduler | null {
    return this.member.nextExecution();
  }

  executionDone(decisions: readonly Decision[]): void {
    this.member.executionDone(decisions);
  }

  explored(): number {
    return this.member.explored();
  }
}
