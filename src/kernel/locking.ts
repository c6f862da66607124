// Machinery shared by the simulated lock types (spinlock, mutex, rwsem, ww_mutex): identity,
// the lockdep map, the FIFO of waiters and the trace events. The Linux-named APIs live in
// spinlock.ts, mutex.ts, rwsem.ts and ww_mutex.ts.
//
// Waiters are served in FIFO order and a released lock is handed to the first waiter
// (the kernel's MUTEX_FLAG_HANDOFF / RWSEM_FLAG_HANDOFF behaviour made unconditional): a woken
// waiter already owns the lock when it runs. Lock stealing by a newcomer is not modelled.

import type { LockMode, Site } from "../trace/index.js";
import type { Kernel } from "./kernel.js";
import type { LockClass, LockdepMap } from "./lockdep.js";
import type { Task, Waitable } from "./sched.js";

/** A task waiting for a lock, and in which mode. */
export interface LockWaiter {
  readonly task: Task;
  readonly mode: LockMode;
}

/** Common state of every simulated lock. */
export abstract class SimLock implements Waitable, LockdepMap {
  readonly id: number;
  readonly waiters: LockWaiter[] = [];
  /**
   * The step in which the lock was last taken exclusively. An unlock in that same step (a
   * critical section without scheduling points) takes no step of its own: nobody could have
   * seen the lock held except by waiting for it, and the handoff serves them just the same.
   * Only a trylock in between could tell, and no lock type that does this is trylocked by the
   * model's kernel paths.
   */
  acquiredStep = -1;

  /** Whether the release of a lock taken in `acquiredStep` needs a step of its own. */
  releaseNeedsStep(): boolean {
    return this.acquiredStep !== this.k.sched.stepIndex;
  }

  constructor(
    readonly k: Kernel,
    /** Instance name, e.g. "mm:P1.mmap_lock". */
    readonly name: string,
    readonly lockClass: LockClass,
  ) {
    this.id = k.newId();
  }

  /** Tasks that currently hold the lock. */
  abstract holders(): readonly Task[];

  /** The holders, then the waiters queued ahead of `waiter` (they are served first). */
  blockers(waiter: Task): readonly Task[] {
    const ahead: Task[] = [...this.holders()];
    for (const w of this.waiters) {
      if (w.task === waiter) break;
      if (!ahead.includes(w.task)) ahead.push(w.task);
    }
    return ahead;
  }

  /** Removes `task` from the waiters (after a timeout or a wait-die kill). */
  dropWaiter(task: Task): void {
    const i = this.waiters.findIndex((w) => w.task === task);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  traceAcquire(site: Site, mode: LockMode, trylock: boolean, ok: boolean): void {
    const trace = this.k.sched.trace;
    if (!trace) return;
    trace.push({
      type: "lock-acquire",
      step: this.k.sched.stepIndex,
      task: this.k.current.id,
      site,
      lock: this.name,
      lockClass: this.lockClass.name,
      mode,
      trylock,
      ok,
    });
  }

  traceWait(site: Site, mode: LockMode): void {
    const trace = this.k.sched.trace;
    if (!trace) return;
    trace.push({
      type: "lock-wait",
      step: this.k.sched.stepIndex,
      task: this.k.current.id,
      site,
      lock: this.name,
      mode,
      holders: this.holders().map((t) => t.id),
    });
  }

  traceRelease(site: Site, mode: LockMode): void {
    const trace = this.k.sched.trace;
    if (!trace) return;
    trace.push({
      type: "lock-release",
      step: this.k.sched.stepIndex,
      task: this.k.current.id,
      site,
      lock: this.name,
      mode,
    });
  }
}
