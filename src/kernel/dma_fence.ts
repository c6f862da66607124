// struct dma_fence (drivers/dma-buf/dma-fence.c): a one-shot completion that the GPU engine
// signals when a job is done. Waiters sleep until it is signalled; callbacks run in the
// signalling task, in the order they were added.
//
// Left out: fence contexts' ordering rules beyond a seqno, enable_signaling, the
// begin/end_signalling lockdep annotations, RCU lifetime (fences are refcounted but never
// reused while referenced, so a put that reaches zero only marks the fence released).

import type { Site } from "../trace/index.js";
import { BUG } from "./bug.js";
import { ENOENT } from "./errno.js";
import type { Kernel } from "./kernel.js";
import type { Gen, Task, Waitable } from "./sched.js";
import { might_sleep, sleepOnEvent } from "./wait.js";

export type dma_fence_func_t = (fence: dma_fence) => void;

export class dma_fence implements Waitable {
  readonly id: number;
  signaled = false;
  /** The kref; the creator holds one. */
  refcount = 1;
  private readonly callbacks: dma_fence_func_t[] = [];
  private readonly waiters: Task[] = [];

  constructor(
    readonly k: Kernel,
    readonly name: string,
    readonly context: number,
    readonly seqno: number,
  ) {
    this.id = k.newId();
  }

  holders(): readonly Task[] {
    return [];
  }

  /** Adds a callback (dma_fence_add_callback). Returns -ENOENT when already signalled. */
  addCallback(cb: dma_fence_func_t): number {
    if (this.signaled) return -ENOENT;
    this.callbacks.push(cb);
    return 0;
  }

  /** Signals the fence now, inside the current step: wakes waiters and runs callbacks. */
  signalLocked(site: Site): number {
    if (this.signaled) return -22; // -EINVAL, as dma_fence_signal on a signalled fence
    this.signaled = true;
    const k = this.k;
    const trace = k.sched.trace;
    if (trace) {
      const task = k.sched.current;
      trace.push({
        type: "fence-signal",
        step: k.sched.stepIndex,
        task: task ? task.id : 0,
        site,
        fence: this.name,
      });
    }
    for (const task of this.waiters.splice(0)) k.sched.wake(task, this, site);
    for (const cb of this.callbacks.splice(0)) cb(this);
    return 0;
  }

  /** Registers the current task as a waiter; used by the wait functions. */
  addWaiter(task: Task): void {
    this.waiters.push(task);
  }

  removeWaiter(task: Task): void {
    const i = this.waiters.indexOf(task);
    if (i >= 0) this.waiters.splice(i, 1);
  }
}

/** dma_fence_init(): a new unsignalled fence with one reference. */
export function dma_fence_init(k: Kernel, name: string, context: number, seqno: number): dma_fence {
  return new dma_fence(k, name, context, seqno);
}

/** dma_fence_get(). */
export function dma_fence_get(fence: dma_fence): dma_fence {
  fence.refcount++;
  return fence;
}

/** dma_fence_put(). Dropping a reference that is not held is a kernel bug. */
export function dma_fence_put(fence: dma_fence, site: Site): void {
  if (fence.refcount <= 0)
    BUG(site, `refcount_t: underflow; use-after-free of fence ${fence.name}`);
  fence.refcount--;
}

/** dma_fence_signal(): a scheduling step that completes the fence. */
export function* dma_fence_signal(fence: dma_fence, site: Site): Gen<number> {
  yield { op: "signal", obj: fence, site };
  return fence.signalLocked(site);
}

/** dma_fence_is_signaled(): a read of the fence state, as its own step. */
export function* dma_fence_is_signaled(fence: dma_fence, site: Site): Gen<boolean> {
  yield { op: "read", obj: fence, site };
  return fence.signaled;
}

/**
 * dma_fence_wait_timeout(): sleeps until the fence signals or `timeoutNs` of simulated time
 * pass. Returns the remaining time (at least 1) when signalled, 0 on timeout. Signals are not
 * modelled, so `intr` never yields -ERESTARTSYS.
 */
export function* dma_fence_wait_timeout(
  fence: dma_fence,
  intr: boolean,
  timeoutNs: number,
  site: Site,
): Gen<number> {
  void intr;
  const k = fence.k;
  might_sleep(k, site);
  yield { op: "wait", obj: fence, site };
  if (fence.signaled) return Math.max(1, timeoutNs);
  const task = k.current;
  const start = k.sched.nowNs;
  fence.addWaiter(task);
  yield* sleepOnEvent(k, fence, site, timeoutNs);
  fence.removeWaiter(task);
  if (!fence.signaled) return 0;
  return Math.max(1, timeoutNs - (k.sched.nowNs - start));
}

/** dma_fence_wait(): sleeps until the fence signals. Returns 0. */
export function* dma_fence_wait(fence: dma_fence, intr: boolean, site: Site): Gen<number> {
  yield* dma_fence_wait_timeout(fence, intr, Number.POSITIVE_INFINITY, site);
  return 0;
}
