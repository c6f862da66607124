// Wound/wait mutexes with acquire contexts (kernel/locking/ww_mutex.h, ww_mutex.c,
// Documentation/locking/ww-mutex-design.rst), in the Wait-Die flavour that reservation_ww_class
// (every dma_resv) uses.
//
// Rules modelled: a context takes a stamp from its class at ww_acquire_init; a context that
// already holds the lock gets -EALREADY; a context holding at least one lock that asks for a
// lock held by an older context, or queued behind an older waiting context, dies with -EDEADLK;
// a context holding nothing never dies and simply waits (so ww_mutex_lock_slow cannot fail).
// Waiters with a context queue in stamp order, context-less waiters in FIFO order behind them.
// Whenever a context becomes the owner, younger waiters that hold locks are woken to die, so no
// younger lock-holding context ever sleeps behind an older one. With a NULL context a ww_mutex
// is a plain mutex. The DEBUG_WW_MUTEXES checks (wrong lock after -EDEADLK, locking after
// ww_acquire_done, fini with locks held) are WARNs.
//
// Left out: Wound-Wait classes (no user in the model), interruptible sleeps (no signals).

import type { Site } from "../trace/index.js";
import { BUG } from "./bug.js";
import { EALREADY, EDEADLK } from "./errno.js";
import type { Kernel } from "./kernel.js";
import type { LockClass, LockdepMap } from "./lockdep.js";
import { SimLock } from "./locking.js";
import type { Gen, Task } from "./sched.js";
import { might_sleep, sleepOn } from "./wait.js";

/** struct ww_class: names the lockdep classes of the mutexes and of the acquire contexts. */
export interface ww_class {
  readonly mutexClass: LockClass;
  readonly acquireClass: LockClass;
}

/** struct ww_acquire_ctx: one transaction that takes several ww_mutexes. */
export class ww_acquire_ctx implements LockdepMap {
  readonly stamp: number;
  /** Locks held in this context. */
  acquired = 0;
  /** Set by ww_acquire_done(): no more locks may be taken. */
  doneAcquire = false;
  /** The lock that returned -EDEADLK, which the slow path must take next. */
  contendingLock: ww_mutex | null = null;
  readonly name: string;
  readonly lockClass: LockClass;
  readonly task: Task;

  constructor(
    readonly k: Kernel,
    readonly wwClass: ww_class,
    site: Site,
  ) {
    this.stamp = k.nextWwStamp++;
    this.task = k.current;
    this.name = `ww_ctx#${this.stamp}`;
    this.lockClass = wwClass.acquireClass;
    k.lockdep.acquire(this.task, this, { site });
  }
}

/** ww_acquire_init(): starts a transaction in the current task. */
export function ww_acquire_init(k: Kernel, wwClass: ww_class, site: Site): ww_acquire_ctx {
  return new ww_acquire_ctx(k, wwClass, site);
}

/** ww_acquire_done(): marks the end of the acquire phase. */
export function ww_acquire_done(ctx: ww_acquire_ctx): void {
  ctx.doneAcquire = true;
}

/** ww_acquire_fini(): ends the transaction; every lock must have been released. */
export function ww_acquire_fini(ctx: ww_acquire_ctx, site: Site): void {
  if (ctx.acquired !== 0) {
    ctx.k.warn(
      site,
      `DEBUG_LOCKS_WARN_ON(ctx->acquired): ww_acquire_fini with ${ctx.acquired} locks held`,
    );
  }
  ctx.k.lockdep.release(ctx.task, ctx, site);
}

/** A context is younger than another when its stamp is later (__ww_ctx_less). */
function younger(a: ww_acquire_ctx, b: ww_acquire_ctx): boolean {
  return a.stamp > b.stamp;
}

interface WwWaiter {
  readonly task: Task;
  readonly ctx: ww_acquire_ctx | null;
}

export class ww_mutex extends SimLock {
  owner: Task | null = null;
  /** The context that holds the lock, or null when it is held without one (or free). */
  ctx: ww_acquire_ctx | null = null;
  /** Waiters in service order (separate from SimLock.waiters, which carry no context). */
  readonly wwWaiters: WwWaiter[] = [];

  constructor(k: Kernel, name: string, wwClass: ww_class) {
    super(k, name, wwClass.mutexClass);
  }

  holders(): readonly Task[] {
    return this.owner === null ? [] : [this.owner];
  }

  override blockers(waiter: Task): readonly Task[] {
    const ahead: Task[] = [...this.holders()];
    for (const w of this.wwWaiters) {
      if (w.task === waiter) break;
      if (!ahead.includes(w.task)) ahead.push(w.task);
    }
    return ahead;
  }
}

/** Takes ownership and applies the Wait-Die rule to the waiters left behind. */
function setOwner(lock: ww_mutex, task: Task, ctx: ww_acquire_ctx | null, site: Site): void {
  lock.owner = task;
  lock.ctx = ctx;
  if (ctx === null) return;
  ctx.acquired++;
  if (ctx.contendingLock === lock) ctx.contendingLock = null;
  for (const w of [...lock.wwWaiters]) {
    if (w.ctx !== null && w.ctx.acquired > 0 && younger(w.ctx, ctx)) {
      lock.wwWaiters.splice(lock.wwWaiters.indexOf(w), 1);
      lock.k.sched.wake(w.task, lock, site); // it wakes without the lock and dies
    }
  }
}

/** Where a waiter with `ctx` goes: after every older context, ahead of younger ones. */
function queuePosition(lock: ww_mutex, ctx: ww_acquire_ctx | null): number {
  if (ctx === null) return lock.wwWaiters.length;
  const i = lock.wwWaiters.findIndex((w) => w.ctx !== null && younger(w.ctx, ctx));
  return i < 0 ? lock.wwWaiters.length : i;
}

/**
 * ww_mutex_lock(): takes `lock` in transaction `ctx` (or as a plain mutex when ctx is null).
 * Returns 0, -EALREADY when ctx already holds it, or -EDEADLK when ctx must back off: release
 * every lock it holds, then ww_mutex_lock_slow() the contended one.
 */
export function* ww_mutex_lock(
  lock: ww_mutex,
  ctx: ww_acquire_ctx | null,
  site: Site,
): Gen<number> {
  const k = lock.k;
  might_sleep(k, site);
  yield { op: "lock", obj: lock, site };
  const task = k.current;
  if (ctx !== null) {
    if (lock.ctx === ctx) return -EALREADY;
    if (ctx.doneAcquire)
      k.warn(site, "DEBUG_LOCKS_WARN_ON(ww_ctx->done_acquire): lock taken after ww_acquire_done");
    if (ctx.contendingLock !== null && ctx.contendingLock !== lock) {
      k.warn(site, "DEBUG_LOCKS_WARN_ON(ww_ctx->contending_lock && ww != ww_ctx->contending_lock)");
    }
  }
  k.lockdep.acquire(task, lock, { nestLock: ctx, site });
  if (lock.owner === null) {
    setOwner(lock, task, ctx, site);
    lock.traceAcquire(site, "write", false, true);
    return 0;
  }
  const pos = queuePosition(lock, ctx);
  if (ctx !== null && ctx.acquired > 0) {
    const olderHolder = lock.ctx !== null && younger(ctx, lock.ctx);
    const olderAhead = lock.wwWaiters.slice(0, pos).some((w) => w.ctx !== null);
    if (olderHolder || olderAhead) return die(lock, ctx, site);
  }
  lock.wwWaiters.splice(pos, 0, { task, ctx });
  // Younger lock-holding waiters now queued behind an older context must die.
  if (ctx !== null) {
    for (const w of lock.wwWaiters.slice(pos + 1)) {
      if (w.ctx !== null && w.ctx.acquired > 0 && younger(w.ctx, ctx)) {
        lock.wwWaiters.splice(lock.wwWaiters.indexOf(w), 1);
        k.sched.wake(w.task, lock, site);
      }
    }
  }
  lock.traceWait(site, "write");
  yield* sleepOn(k, lock, site);
  if (lock.owner === task) {
    lock.traceAcquire(site, "write", false, true);
    return 0;
  }
  return die(lock, ctx!, site);
}

function die(lock: ww_mutex, ctx: ww_acquire_ctx, site: Site): number {
  const k = lock.k;
  ctx.contendingLock = lock;
  k.lockdep.release(k.current, lock, site);
  lock.traceAcquire(site, "write", false, false);
  return -EDEADLK;
}

/**
 * ww_mutex_lock_slow(): after backing off (the context holds nothing), sleeps until the
 * contended lock is free and takes it. Cannot fail.
 */
export function* ww_mutex_lock_slow(lock: ww_mutex, ctx: ww_acquire_ctx, site: Site): Gen {
  if (ctx.acquired !== 0) {
    lock.k.warn(
      site,
      `DEBUG_LOCKS_WARN_ON(ctx->acquired): ww_mutex_lock_slow with ${ctx.acquired} locks held`,
    );
  }
  const ret = yield* ww_mutex_lock(lock, ctx, site);
  if (ret !== 0) BUG(site, `ww_mutex_lock_slow: unexpected ${ret} with no locks held`);
}

/** ww_mutex_trylock(): takes the lock if it is free; never sleeps, never adds a lockdep edge. */
export function* ww_mutex_trylock(
  lock: ww_mutex,
  ctx: ww_acquire_ctx | null,
  site: Site,
): Gen<boolean> {
  const k = lock.k;
  // A failed attempt only looked; taking the lock writes it.
  yield { op: "trylock", obj: lock, site, readUnlessTouched: true };
  if (lock.owner !== null) {
    lock.traceAcquire(site, "write", true, false);
    return false;
  }
  k.sched.touch(lock, true);
  const task = k.current;
  setOwner(lock, task, ctx, site);
  k.lockdep.acquire(task, lock, { trylock: true, nestLock: ctx, site });
  lock.traceAcquire(site, "write", true, true);
  return true;
}

/** ww_mutex_unlock(): releases the lock and hands it to the first waiter. */
export function* ww_mutex_unlock(lock: ww_mutex, site: Site): Gen {
  const k = lock.k;
  yield { op: "unlock", obj: lock, site };
  const task = k.current;
  if (lock.owner !== task) {
    BUG(
      site,
      `DEBUG_LOCKS_WARN_ON(__owner_task(owner) != current): ${task.name}/${task.id} unlocks ${lock.name} ` +
        `${lock.owner === null ? "which is not locked" : `owned by ${lock.owner.name}/${lock.owner.id}`} at ${site}`,
    );
  }
  if (lock.ctx !== null) lock.ctx.acquired--;
  lock.owner = null;
  lock.ctx = null;
  k.lockdep.release(task, lock, site);
  lock.traceRelease(site, "write");
  const next = lock.wwWaiters.shift();
  if (next !== undefined) {
    setOwner(lock, next.task, next.ctx, site);
    k.sched.wake(next.task, lock, site);
  }
}

/** ww_mutex_is_locked(). */
export function ww_mutex_is_locked(lock: ww_mutex): boolean {
  return lock.owner !== null;
}
