// Exhaustive depth-first search over schedules (stateless re-execution, as loom and CHESS do):
// the first execution always keeps the running task; each later one replays a prefix of the
// previous decisions and takes the next untried alternative at the deepest decision that has
// one. With a preemption bound (CHESS's iterative context bounding, strategy `bounded`),
// alternatives that would exceed the bound are skipped, and "complete" means "every schedule
// with at most that many preemptions". Reduction (DPOR) is not applied: every interleaving of
// scheduling points is tried. A root prefix (one unit of a sharded check) is never backtracked.

import { type ChoiceScheduler, type Decision, prefixScheduler } from "./choice.js";
import type { Strategy } from "./strategy.js";

interface PathEntry {
  options: number;
  chosen: number;
  preemptible: boolean;
}

export class DfsStrategy implements Strategy {
  readonly name: string;
  private path: PathEntry[] = [];
  private started = false;
  private exhausted = false;

  constructor(
    private readonly preemptionBound: number = Number.POSITIVE_INFINITY,
    private readonly root: readonly number[] = [],
  ) {
    this.name = Number.isFinite(preemptionBound) ? "bounded" : "exhaustive";
  }

  get complete(): boolean {
    return this.exhausted;
  }

  get coverage(): string {
    return Number.isFinite(this.preemptionBound)
      ? `every schedule with at most ${this.preemptionBound} preemptions`
      : "every schedule";
  }

  nextExecution(): ChoiceScheduler | null {
    if (this.exhausted) return null;
    if (this.started && this.path.length === 0) {
      this.exhausted = true;
      return null;
    }
    const prefix = this.started ? this.path.map((e) => e.chosen) : [...this.root];
    this.started = true;
    const expected = this.path.map((e) => e.options);
    return prefixScheduler(prefix, true, expected);
  }

  executionDone(decisions: readonly Decision[]): void {
    this.path = decisions.map((d) => ({
      options: d.options,
      chosen: d.chosen,
      preemptible: d.preemptible,
    }));
    // Backtrack to the deepest decision with an untried alternative within the bound.
    while (this.path.length > this.root.length) {
      const top = this.path[this.path.length - 1]!;
      const used = this.preemptionsBefore(this.path.length - 1);
      let next = top.chosen + 1;
      if (top.preemptible && used + 1 > this.preemptionBound) next = top.options;
      if (next < top.options) {
        top.chosen = next;
        return;
      }
      this.path.pop();
    }
    this.exhausted = true;
  }

  explored(): number {
    if (this.exhausted) return 1;
    let fraction = 0;
    let weight = 1;
    for (let i = this.root.length; i < this.path.length; i++) {
      const e = this.path[i]!;
      fraction += (weight * e.chosen) / e.options;
      weight /= e.options;
    }
    return fraction;
  }

  private preemptionsBefore(depth: number): number {
    let n = 0;
    for (let i = 0; i < depth; i++) {
      const e = this.path[i]!;
      if (e.preemptible && e.chosen !== 0) n++;
    }
    return n;
  }
}
