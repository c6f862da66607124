// Test helpers for the simulated kernel: boot a kernel, run it under a scheduler, look at the
// outcome. Shared by the kernel test files.
import { Kernel, type KernelOptions } from "../../src/kernel/kernel.js";
import type { RunOutcome, Scheduler } from "../../src/kernel/sched.js";
import { NonPreemptive } from "../../src/kernel/schedulers.js";

export function boot(options: KernelOptions = {}): Kernel {
  return new Kernel({ trace: true, ...options });
}

export function run(
  k: Kernel,
  scheduler: Scheduler = new NonPreemptive(),
  maxSteps = 10_000,
): RunOutcome {
  return k.sched.run(scheduler, maxSteps);
}

/** The trace events of one type, typed. */
export function eventsOf<T extends string>(k: Kernel, type: T) {
  return (k.sched.trace ?? []).filter((e) => e.type === type) as Array<
    Extract<NonNullable<typeof k.sched.trace>[number], { type: T }>
  >;
}
