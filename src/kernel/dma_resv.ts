// struct dma_resv (drivers/dma-buf/dma-resv.c, include/linux/dma-resv.h): the reservation
// object of a buffer. Its lock is a ww_mutex of reservation_ww_class (Wait-Die); it holds fences
// tagged with a usage (KERNEL < WRITE < READ < BOOKKEEP), and a query for usage U sees every
// fence whose usage is at most U. Adding fences requires the lock and reserved slots.
//
// dma_resv_lockdep() is the boot-time priming that teaches lockdep the kernel's order:
// mmap_lock -> reservation_ww_class_acquire -> reservation_ww_class_mutex -> fs_reclaim ->
// i_mmap_rwsem -> (here also) the page-table lock.
//
// Left out: RCU-protected fence lists (readers take a step per fence instead), fence chains,
// the seqcount retry of the iterators.

import type { Site } from "../trace/index.js";
import { BUG } from "./bug.js";
import {
  type dma_fence,
  dma_fence_get,
  dma_fence_put,
  dma_fence_wait_timeout,
} from "./dma_fence.js";
import type { Kernel } from "./kernel.js";
import { CLASS, type LockdepMap } from "./lockdep.js";
import type { Gen, KObject } from "./sched.js";
import { Task } from "./sched.js";
import {
  type ww_acquire_ctx,
  type ww_class,
  ww_mutex,
  ww_mutex_lock,
  ww_mutex_lock_slow,
  ww_mutex_trylock,
  ww_mutex_unlock,
} from "./ww_mutex.js";

/** reservation_ww_class: the Wait-Die class of every dma_resv lock. */
export const reservation_ww_class: ww_class = {
  mutexClass: CLASS.reservation_ww_class_mutex,
  acquireClass: CLASS.reservation_ww_class_acquire,
};

/** enum dma_resv_usage, in increasing order: a query for U sees every fence of usage <= U. */
export const DMA_RESV_USAGE_KERNEL = 0;
export const DMA_RESV_USAGE_WRITE = 1;
export const DMA_RESV_USAGE_READ = 2;
export const DMA_RESV_USAGE_BOOKKEEP = 3;
export type dma_resv_usage = 0 | 1 | 2 | 3;

export class dma_resv {
  readonly lock: ww_mutex;
  /** Fences and their usages. Changed under `lock`; read locklessly too (RCU upstream). */
  readonly fences: Array<{ fence: dma_fence; usage: dma_resv_usage }> = [];
  /**
   * The fence list as the checker sees it: lockless readers read it, and every change writes
   * it. So a lockless reader is ordered against the changes to the list, not against every
   * reservation of the buffer, which leaves the list alone.
   */
  readonly fenceList: KObject;
  /** Slots reserved by dma_resv_reserve_fences and not yet used. */
  reserved = 0;

  constructor(
    readonly k: Kernel,
    readonly name: string,
  ) {
    this.lock = new ww_mutex(k, `${name}.resv`, reservation_ww_class);
    this.fenceList = { id: k.newId(), name: `${name}.resv.fences` };
  }
}

/** dma_resv_init(). */
export function dma_resv_init(k: Kernel, name: string): dma_resv {
  return new dma_resv(k, name);
}

/** dma_resv_lock(): 0, -EALREADY or -EDEADLK (with a ticket); see ww_mutex_lock. */
export function dma_resv_lock(obj: dma_resv, ctx: ww_acquire_ctx | null, site: Site): Gen<number> {
  return ww_mutex_lock(obj.lock, ctx, site);
}

/** dma_resv_lock_interruptible(): as dma_resv_lock (signals are not modelled). */
export function dma_resv_lock_interruptible(
  obj: dma_resv,
  ctx: ww_acquire_ctx | null,
  site: Site,
): Gen<number> {
  return ww_mutex_lock(obj.lock, ctx, site);
}

/** dma_resv_lock_slow(). */
export function dma_resv_lock_slow(obj: dma_resv, ctx: ww_acquire_ctx, site: Site): Gen {
  return ww_mutex_lock_slow(obj.lock, ctx, site);
}

/** dma_resv_trylock(): never sleeps; legal under a spinlock. */
export function dma_resv_trylock(obj: dma_resv, site: Site): Gen<boolean> {
  return ww_mutex_trylock(obj.lock, null, site);
}

/** dma_resv_unlock(). */
export function dma_resv_unlock(obj: dma_resv, site: Site): Gen {
  return ww_mutex_unlock(obj.lock, site);
}

/** dma_resv_is_locked(). */
export function dma_resv_is_locked(obj: dma_resv): boolean {
  return obj.lock.owner !== null;
}

/** dma_resv_locking_ctx(): the ticket the lock was taken with, or null. */
export function dma_resv_locking_ctx(obj: dma_resv): ww_acquire_ctx | null {
  return obj.lock.ctx;
}

/** dma_resv_assert_held(). */
export function dma_resv_assert_held(obj: dma_resv, site: Site): void {
  if (obj.lock.owner !== obj.k.current)
    BUG(site, `lockdep_assert_held(${obj.lock.name}) failed at ${site}`);
}

/** dma_resv_reserve_fences(): makes room for `num` more fences. Caller holds the lock. */
export function dma_resv_reserve_fences(obj: dma_resv, num: number, site: Site): number {
  dma_resv_assert_held(obj, site);
  obj.reserved = Math.max(obj.reserved, num);
  return 0;
}

/**
 * dma_resv_add_fence(): adds a fence with `usage`, replacing an older fence of the same
 * context. Caller holds the lock and reserved a slot.
 */
export function dma_resv_add_fence(
  obj: dma_resv,
  fence: dma_fence,
  usage: dma_resv_usage,
  site: Site,
): void {
  dma_resv_assert_held(obj, site);
  obj.k.sched.touch(obj.fenceList, true);
  const same = obj.fences.findIndex((f) => f.fence.context === fence.context && f.usage === usage);
  if (same >= 0) {
    obj.fences[same] = { fence: dma_fence_get(fence), usage };
    return;
  }
  if (obj.reserved <= 0) BUG(site, `dma_resv_add_fence on ${obj.name} without a reserved slot`);
  obj.reserved--;
  obj.fences.push({ fence: dma_fence_get(fence), usage });
}

/**
 * dma_resv_copy_fences(): replaces the fences of `dst` (held) with those of `src`, which is read
 * locklessly (RCU upstream), so `src` need not be held. Returns 0 (the model never runs out of
 * memory here).
 */
export function dma_resv_copy_fences(dst: dma_resv, src: dma_resv, site: Site): number {
  dma_resv_assert_held(dst, site);
  dst.k.sched.touch(src.fenceList, false);
  dst.k.sched.touch(dst.fenceList, true);
  const copy = src.fences.map((f) => ({ fence: dma_fence_get(f.fence), usage: f.usage }));
  for (const old of dst.fences.splice(0, dst.fences.length, ...copy))
    dma_fence_put(old.fence, site);
  return 0;
}

/** The fences a query for `usage` sees, oldest first. */
export function dma_resv_fences(obj: dma_resv, usage: dma_resv_usage): dma_fence[] {
  return obj.fences.filter((f) => f.usage <= usage).map((f) => f.fence);
}

/**
 * dma_resv_test_signaled(): whether every fence of `usage` or lower has signalled. One read
 * step per fence, since the fences signal concurrently.
 */
export function* dma_resv_test_signaled(
  obj: dma_resv,
  usage: dma_resv_usage,
  site: Site,
): Gen<boolean> {
  yield { op: "read", obj: obj.fenceList, site };
  for (const fence of dma_resv_fences(obj, usage)) {
    yield { op: "read", obj: fence, site };
    if (!fence.signaled) return false;
  }
  return true;
}

/**
 * dma_resv_wait_timeout(): waits for every fence of `usage` or lower. Returns the remaining
 * time (at least 1) when all signalled, 0 on timeout.
 */
export function* dma_resv_wait_timeout(
  obj: dma_resv,
  usage: dma_resv_usage,
  intr: boolean,
  timeoutNs: number,
  site: Site,
): Gen<number> {
  let remaining = timeoutNs;
  yield { op: "read", obj: obj.fenceList, site };
  for (const fence of dma_resv_fences(obj, usage)) {
    remaining = yield* dma_fence_wait_timeout(fence, intr, remaining, site);
    if (remaining === 0) return 0;
  }
  return Math.max(1, remaining);
}

/** Drops signalled fences (dma_resv_prune). Caller holds the lock. */
export function dma_resv_prune(obj: dma_resv, site: Site): void {
  dma_resv_assert_held(obj, site);
  obj.k.sched.touch(obj.fenceList, true);
  for (let i = obj.fences.length - 1; i >= 0; i--)
    if (obj.fences[i]!.fence.signaled) obj.fences.splice(i, 1);
}

/** A lockdep-only stand-in for a lock that boot code takes in dma_resv_lockdep(). */
function map(name: string, lockClass: LockdepMap["lockClass"]): LockdepMap {
  return { name, lockClass };
}

/**
 * dma_resv_lockdep(): the boot-time priming. Runs as the idle task before any scheduling, so it
 * takes no steps; only lockdep sees it.
 */
export function dma_resv_lockdep(k: Kernel): void {
  const swapper = new Task(0, "swapper", "kernel", true);
  const site = "dma_resv_lockdep";
  const ld = k.lockdep;
  const mmap = map("boot.mmap_lock", CLASS.mmap_lock);
  const ctx = map("boot.ww_ctx", CLASS.reservation_ww_class_acquire);
  const resv = map("boot.resv", CLASS.reservation_ww_class_mutex);
  const reclaim = map("fs_reclaim", CLASS.fs_reclaim);
  const immap = map("boot.i_mmap_rwsem", CLASS.i_mmap_rwsem);
  const ptl = map("boot.page_table_lock", CLASS.page_table_lock);
  ld.acquire(swapper, mmap, { read: 1, site });
  ld.acquire(swapper, ctx, { site });
  ld.acquire(swapper, resv, { nestLock: ctx, site });
  ld.acquire(swapper, reclaim, { site });
  ld.acquire(swapper, immap, { site });
  ld.acquire(swapper, ptl, { site });
  for (const m of [ptl, immap, reclaim, resv, ctx, mmap]) ld.release(swapper, m, site);
}
