// struct mutex (kernel/locking/mutex.c with CONFIG_DEBUG_MUTEXES and lockdep). A sleeping lock
// with a single owner; waiters queue in FIFO order and a release hands the lock to the first.
//
// Left out: optimistic spinning and lock stealing, killable/interruptible sleeps (no signals
// are modelled, so the _interruptible variants behave as mutex_lock and return 0).

import type { Site } from "../trace/index.js";
import { BUG } from "./bug.js";
import type { Kernel } from "./kernel.js";
import type { LockClass, LockdepMap } from "./lockdep.js";
import { SimLock } from "./locking.js";
import type { Gen, Task } from "./sched.js";
import { might_sleep, sleepOn } from "./wait.js";

export class mutex extends SimLock {
  owner: Task | null = null;

  constructor(k: Kernel, name: string, lockClass: LockClass) {
    super(k, name, lockClass);
  }

  holders(): readonly Task[] {
    return this.owner === null ? [] : [this.owner];
  }
}

/**
 * mutex_lock_nested() / mutex_lock_nest_lock(): mutex_lock with a lockdep subclass or a lock
 * that serialises same-class nesting.
 */
export function* mutex_lock_nested(
  lock: mutex,
  site: Site,
  subclass = 0,
  nestLock: LockdepMap | null = null,
): Gen {
  const k = lock.k;
  might_sleep(k, site);
  yield { op: "lock", obj: lock, site };
  const task = k.current;
  k.lockdep.acquire(task, lock, { subclass, nestLock, site });
  if (lock.owner === null) {
    lock.owner = task;
    lock.acquiredStep = k.sched.stepIndex;
    lock.traceAcquire(site, "write", false, true);
    return;
  }
  lock.waiters.push({ task, mode: "write" });
  lock.traceWait(site, "write");
  yield* sleepOn(k, lock, site);
  lock.acquiredStep = k.sched.stepIndex;
  lock.traceAcquire(site, "write", false, true);
}

/** mutex_lock(): sleeps until the mutex is free, then owns it. Must not be called atomically. */
export function mutex_lock(lock: mutex, site: Site): Gen {
  return mutex_lock_nested(lock, site);
}

/** mutex_lock_interruptible(): as mutex_lock; returns 0 (signals are not modelled). */
export function* mutex_lock_interruptible(lock: mutex, site: Site): Gen<number> {
  yield* mutex_lock_nested(lock, site);
  return 0;
}

/** mutex_trylock(): takes the mutex if it is free. Returns 1 on success, 0 on contention. */
export function* mutex_trylock(lock: mutex, site: Site): Gen<number> {
  const k = lock.k;
  // A failed attempt only looked; taking the lock writes it.
  yield { op: "trylock", obj: lock, site, readUnlessTouched: true };
  if (lock.owner !== null) {
    lock.traceAcquire(site, "write", true, false);
    return 0;
  }
  k.sched.touch(lock, true);
  const task = k.current;
  lock.owner = task;
  k.lockdep.acquire(task, lock, { trylock: true, site });
  lock.traceAcquire(site, "write", true, true);
  return 1;
}

/** mutex_unlock(): releases a mutex the current task owns and hands it to the first waiter. */
export function* mutex_unlock(lock: mutex, site: Site): Gen {
  const k = lock.k;
  if (lock.releaseNeedsStep()) yield { op: "unlock", obj: lock, site };
  const task = k.current;
  if (lock.owner !== task) {
    BUG(
      site,
      `DEBUG_LOCKS_WARN_ON(__owner_task(owner) != current): ${task.name}/${task.id} unlocks ${lock.name} ` +
        `${lock.owner === null ? "which is not locked" : `owned by ${lock.owner.name}/${lock.owner.id}`} at ${site}`,
    );
  }
  k.lockdep.release(task, lock, site);
  lock.traceRelease(site, "write");
  const next = lock.waiters.shift();
  lock.owner = next === undefined ? null : next.task;
  if (next !== undefined) k.sched.wake(next.task, lock, site);
}

/** mutex_is_locked(). */
export function mutex_is_locked(lock: mutex): boolean {
  return lock.owner !== null;
}

/** lockdep_assert_held() for a mutex: the current task must own it. */
export function mutex_assert_held(lock: mutex, site: Site): void {
  if (lock.owner !== lock.k.current)
    BUG(site, `lockdep_assert_held(${lock.name}) failed at ${site}`);
}
