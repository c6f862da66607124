// spinlock_t (kernel/locking/spinlock.c, spinlock_debug.c). Taking one disables preemption:
// the holder's atomic depth rises and any sleep until spin_unlock is a kernel bug. A contended
// spin_lock spins, which the model represents as waiting in FIFO order (as ticket and queued
// spinlocks do); spinning is not sleeping, so it is allowed in atomic context. A critical
// section without scheduling points is one step (spin_unlock takes no step of its own), which
// leaves out only the interleavings where a spin_trylock finds the lock held in between.
//
// Left out: irq-disabling variants (no interrupts are modelled), rwlock_t.

import type { Site } from "../trace/index.js";
import { BUG } from "./bug.js";
import type { Kernel } from "./kernel.js";
import type { LockClass } from "./lockdep.js";
import { SimLock } from "./locking.js";
import type { Gen, Task } from "./sched.js";
import { sleepOn } from "./wait.js";

export class spinlock_t extends SimLock {
  owner: Task | null = null;

  constructor(k: Kernel, name: string, lockClass: LockClass) {
    super(k, name, lockClass);
  }

  holders(): readonly Task[] {
    return this.owner === null ? [] : [this.owner];
  }
}

/** spin_lock(): spins until the lock is free, then holds it with preemption disabled. */
export function* spin_lock(lock: spinlock_t, site: Site, subclass = 0): Gen {
  const k = lock.k;
  yield { op: "lock", obj: lock, site };
  const task = k.current;
  if (lock.owner === task) {
    BUG(
      site,
      `BUG: spinlock recursion on CPU#0, ${task.name}/${task.id}: lock ${lock.name} at ${site}`,
    );
  }
  k.lockdep.acquire(task, lock, { subclass, site });
  if (lock.owner === null) {
    lock.owner = task;
    lock.traceAcquire(site, "write", false, true);
  } else {
    lock.waiters.push({ task, mode: "write" });
    lock.traceWait(site, "write");
    yield* sleepOn(k, lock, site);
    lock.traceAcquire(site, "write", false, true);
  }
  lock.acquiredStep = k.sched.stepIndex;
  task.atomicDepth++;
}

/** spin_trylock(): takes the lock if it is free. Returns whether it did. */
export function* spin_trylock(lock: spinlock_t, site: Site): Gen<boolean> {
  const k = lock.k;
  // A failed attempt only looked; taking the lock writes it.
  yield { op: "trylock", obj: lock, site, readUnlessTouched: true };
  const task = k.current;
  if (lock.owner !== null) {
    lock.traceAcquire(site, "write", true, false);
    return false;
  }
  k.sched.touch(lock, true);
  lock.owner = task;
  lock.acquiredStep = k.sched.stepIndex;
  k.lockdep.acquire(task, lock, { trylock: true, site });
  lock.traceAcquire(site, "write", true, true);
  task.atomicDepth++;
  return true;
}

/** spin_unlock(): releases the lock and hands it to the first spinner. */
export function* spin_unlock(lock: spinlock_t, site: Site): Gen {
  const k = lock.k;
  if (lock.releaseNeedsStep()) yield { op: "unlock", obj: lock, site };
  const task = k.current;
  if (lock.owner !== task) {
    BUG(
      site,
      lock.owner === null
        ? `BUG: spinlock already unlocked on CPU#0, ${task.name}/${task.id}: lock ${lock.name} at ${site}`
        : `BUG: spinlock wrong owner on CPU#0, ${task.name}/${task.id}: lock ${lock.name} held by ${lock.owner.name} at ${site}`,
    );
  }
  k.lockdep.release(task, lock, site);
  lock.traceRelease(site, "write");
  task.atomicDepth--;
  const next = lock.waiters.shift();
  lock.owner = next === undefined ? null : next.task;
  if (next !== undefined) k.sched.wake(next.task, lock, site);
}

/** assert_spin_locked() / lockdep_assert_held() for a spinlock. */
export function assert_spin_locked(lock: spinlock_t, site: Site): void {
  if (lock.owner !== lock.k.current)
    BUG(site, `lockdep_assert_held(${lock.name}) failed at ${site}`);
}
