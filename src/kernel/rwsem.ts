// struct rw_semaphore (kernel/locking/rwsem.c). Writer-fair: a reader that arrives while
// anyone waits queues behind the waiters, so a queued writer blocks new readers (which is why
// taking mmap_lock for read twice can deadlock). On release, a writer at the head of the queue
// gets the lock alone; a reader at the head wakes with every other queued reader, as
// rwsem_mark_wake() does.
//
// For partial-order reduction, the read side (down_read, down_read_trylock, up_read) only reads
// the rwsem (Step.readUnlessTouched): two readers' operations commute in this model (queued
// readers are always woken together, so their order in the queue never shows), and each
// conflicts with every write-side operation, which always writes it (even a failed
// down_write_trylock: whether it fails depends on the readers). A release that hands the lock to
// waiters writes it, so that the woken tasks are ordered after it.
//
// Left out: optimistic spinning, reader owner tracking for debugging, killable variants.

import type { LockMode, Site } from "../trace/index.js";
import { BUG } from "./bug.js";
import type { Kernel } from "./kernel.js";
import type { LockClass, LockdepMap } from "./lockdep.js";
import { SimLock } from "./locking.js";
import type { Gen, Task } from "./sched.js";
import { might_sleep, sleepOn } from "./wait.js";

export class rw_semaphore extends SimLock {
  writer: Task | null = null;
  readonly readers: Task[] = [];

  constructor(k: Kernel, name: string, lockClass: LockClass) {
    super(k, name, lockClass);
  }

  holders(): readonly Task[] {
    return this.writer === null ? this.readers : [this.writer];
  }

  /**
   * A queued reader is held up by a writer holding the lock and by everyone queued ahead of it,
   * not by the readers holding it; a queued writer by every holder and everyone ahead.
   */
  override blockers(waiter: Task): readonly Task[] {
    const mine = this.waiters.find((w) => w.task === waiter);
    const ahead: Task[] =
      mine?.mode === "read" ? (this.writer === null ? [] : [this.writer]) : [...this.holders()];
    for (const w of this.waiters) {
      if (w.task === waiter) break;
      if (!ahead.includes(w.task)) ahead.push(w.task);
    }
    return ahead;
  }

  /** rwsem_is_locked(). */
  get isLocked(): boolean {
    return this.writer !== null || this.readers.length > 0;
  }
}

function* downCommon(
  sem: rw_semaphore,
  mode: LockMode,
  site: Site,
  subclass: number,
  nestLock: LockdepMap | null,
): Gen {
  const k = sem.k;
  might_sleep(k, site);
  yield { op: "lock", obj: sem, site, readUnlessTouched: mode === "read" };
  const task = k.current;
  k.lockdep.acquire(task, sem, { subclass, nestLock, read: mode === "read" ? 1 : 0, site });
  const free = mode === "read" ? sem.writer === null && sem.waiters.length === 0 : !sem.isLocked;
  if (free) {
    if (mode === "read") sem.readers.push(task);
    else sem.writer = task;
    if (mode === "write") sem.acquiredStep = k.sched.stepIndex;
    sem.traceAcquire(site, mode, false, true);
    return;
  }
  sem.waiters.push({ task, mode });
  sem.traceWait(site, mode);
  yield* sleepOn(k, sem, site);
  if (mode === "write") sem.acquiredStep = k.sched.stepIndex;
  sem.traceAcquire(site, mode, false, true);
}

/** down_read(): shared acquisition; blocks while a writer holds or waits. */
export function down_read(sem: rw_semaphore, site: Site, subclass = 0): Gen {
  return downCommon(sem, "read", site, subclass, null);
}

/** down_write(): exclusive acquisition. */
export function down_write(sem: rw_semaphore, site: Site, subclass = 0): Gen {
  return downCommon(sem, "write", site, subclass, null);
}

/** down_write_nest_lock(): down_write under a lock that serialises same-class nesting. */
export function down_write_nest_lock(sem: rw_semaphore, nestLock: LockdepMap, site: Site): Gen {
  return downCommon(sem, "write", site, 0, nestLock);
}

function* tryCommon(sem: rw_semaphore, mode: LockMode, site: Site): Gen<boolean> {
  const k = sem.k;
  // The read side only reads (as down_read). The write side writes even when it fails: a reader
  // arriving or leaving, which only reads the rwsem, decides whether it succeeds.
  yield { op: "trylock", obj: sem, site, readUnlessTouched: mode === "read" };
  const task = k.current;
  const free = mode === "read" ? sem.writer === null && sem.waiters.length === 0 : !sem.isLocked;
  if (!free) {
    sem.traceAcquire(site, mode, true, false);
    return false;
  }
  if (mode === "read") sem.readers.push(task);
  else sem.writer = task;
  k.lockdep.acquire(task, sem, { trylock: true, read: mode === "read" ? 1 : 0, site });
  sem.traceAcquire(site, mode, true, true);
  return true;
}

/** down_read_trylock(): returns whether the read lock was taken. */
export function down_read_trylock(sem: rw_semaphore, site: Site): Gen<boolean> {
  return tryCommon(sem, "read", site);
}

/** down_write_trylock(): returns whether the write lock was taken. */
export function down_write_trylock(sem: rw_semaphore, site: Site): Gen<boolean> {
  return tryCommon(sem, "write", site);
}

/** up_read(): drops a read hold of the current task. */
export function* up_read(sem: rw_semaphore, site: Site): Gen {
  const k = sem.k;
  yield { op: "unlock", obj: sem, site, readUnlessTouched: true };
  const task = k.current;
  const i = sem.readers.indexOf(task);
  if (i < 0)
    BUG(
      site,
      `DEBUG_RWSEMS_WARN_ON: up_read of ${sem.name} not read-held by ${task.name}/${task.id} at ${site}`,
    );
  sem.readers.splice(i, 1);
  k.lockdep.release(task, sem, site);
  sem.traceRelease(site, "read");
  grant(sem, site);
}

/** up_write(): drops the write hold of the current task. */
export function* up_write(sem: rw_semaphore, site: Site): Gen {
  const k = sem.k;
  if (sem.releaseNeedsStep()) yield { op: "unlock", obj: sem, site };
  const task = k.current;
  if (sem.writer !== task) {
    BUG(
      site,
      `DEBUG_RWSEMS_WARN_ON: up_write of ${sem.name} not write-held by ${task.name}/${task.id} at ${site}`,
    );
  }
  sem.writer = null;
  k.lockdep.release(task, sem, site);
  sem.traceRelease(site, "write");
  grant(sem, site);
}

/** Hands a free rwsem to the head of the queue: one writer, or every queued reader. */
function grant(sem: rw_semaphore, site: Site): void {
  if (sem.isLocked) return;
  const head = sem.waiters[0];
  if (head === undefined) return;
  const sched = sem.k.sched;
  sched.touch(sem, true);
  if (head.mode === "write") {
    sem.waiters.shift();
    sem.writer = head.task;
    sched.wake(head.task, sem, site);
    return;
  }
  const readers = sem.waiters.filter((w) => w.mode === "read");
  const writers = sem.waiters.filter((w) => w.mode === "write");
  sem.waiters.length = 0;
  sem.waiters.push(...writers);
  for (const r of readers) {
    sem.readers.push(r.task);
    sched.wake(r.task, sem, site);
  }
}

/** lockdep_assert_held() for an rwsem in any mode. */
export function rwsem_assert_held(sem: rw_semaphore, site: Site): void {
  const task = sem.k.current;
  if (sem.writer !== task && !sem.readers.includes(task))
    BUG(site, `lockdep_assert_held(${sem.name}) failed at ${site}`);
}

/** lockdep_assert_held_write(). */
export function rwsem_assert_held_write(sem: rw_semaphore, site: Site): void {
  if (sem.writer !== sem.k.current)
    BUG(site, `lockdep_assert_held_write(${sem.name}) failed at ${site}`);
}
