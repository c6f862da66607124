// Sleeping and waking (kernel/sched/core.c might_sleep/cond_resched, kernel/sched/wait.c wait
// queues, kernel/time/timer.c msleep). Every way a task can sleep goes through sleepOn(), which
// blocks the current task and yields the step that resumes it.
//
// Left out: signals and interruptible sleeps returning -ERESTARTSYS (no task is ever signalled),
// exclusive waiters and wake-up callbacks.

import type { Site } from "../trace/index.js";
import { BUG } from "./bug.js";
import type { Kernel } from "./kernel.js";
import type { Gen, KObject, Task, Waitable } from "./sched.js";

/**
 * might_sleep(): a function that may sleep was called. Sleeping with a spinlock held is a
 * kernel bug even when this particular call would not have slept.
 */
export function might_sleep(k: Kernel, site: Site): void {
  const task = k.current;
  if (task.atomicDepth > 0) {
    BUG(
      site,
      `BUG: sleeping function called from invalid context at ${site}: ` +
        `in_atomic(): 1, preempt_count: ${task.atomicDepth}, pid: ${task.id}, name: ${task.name}`,
    );
  }
}

/**
 * Blocks the current task on `on` until someone calls Sched.wake() on it (or the timeout in
 * simulated nanoseconds expires). Callers must have registered the task somewhere the waker
 * will find it. The task's wakeReason says how the sleep ended.
 */
export function* sleepOn(
  k: Kernel,
  on: Waitable,
  site: Site,
  timeoutNs = Number.POSITIVE_INFINITY,
): Gen {
  k.sched.blockCurrent(on, timeoutNs);
  yield { op: "resume", obj: on, site };
}

/**
 * sleepOn() for what is not a lock (a fence, a wait queue, a timer), saying so in the trace
 * with a "block" event; a lock's slow path says it with its own "lock-wait", which names the
 * holders.
 */
export function* sleepOnEvent(
  k: Kernel,
  on: Waitable,
  site: Site,
  timeoutNs = Number.POSITIVE_INFINITY,
): Gen {
  const trace = k.sched.trace;
  if (trace) {
    trace.push({ type: "block", step: k.sched.stepIndex, task: k.current.id, site, on: on.name });
  }
  yield* sleepOn(k, on, site, timeoutNs);
}

/** cond_resched(): a voluntary scheduling point that touches nothing shared. */
export function* cond_resched(k: Kernel, site: Site): Gen {
  might_sleep(k, site);
  yield { op: "yield", obj: k.current, site };
}

/** A timer that nobody holds; what msleep() waits on. */
class SleepTimer implements Waitable {
  constructor(
    readonly id: number,
    readonly name: string,
  ) {}

  holders(): readonly Task[] {
    return [];
  }
}

/** msleep(): sleeps for `ms` milliseconds of simulated time. */
export function* msleep(k: Kernel, ms: number, site: Site): Gen {
  might_sleep(k, site);
  const timer = new SleepTimer(k.newId(), `timer:${ms}ms`);
  yield* sleepOnEvent(k, timer, site, ms * 1e6);
}

/**
 * wait_queue_head_t: tasks sleep on it until woken. Waking is done by whoever changes the
 * condition the sleepers wait for, after changing it.
 */
export class WaitQueueHead implements Waitable {
  readonly id: number;
  private readonly sleepers: Task[] = [];

  constructor(
    private readonly k: Kernel,
    readonly name: string,
  ) {
    this.id = k.newId();
  }

  holders(): readonly Task[] {
    return [];
  }

  /** Whether any task sleeps here. */
  get active(): boolean {
    return this.sleepers.length > 0;
  }

  /** Sleeps until woken; returns how the sleep ended. The caller rechecks its condition. */
  sleep(site: Site, timeoutNs = Number.POSITIVE_INFINITY): Gen<"woken" | "timeout"> {
    return this.sleepAs(site, timeoutNs, true);
  }

  /**
   * sleep() for an idle daemon waiting for work (TASK_IDLE upstream): not announced in the
   * trace, as the hung-task detector does not report it either.
   */
  sleepIdle(site: Site): Gen<"woken" | "timeout"> {
    return this.sleepAs(site, Number.POSITIVE_INFINITY, false);
  }

  private *sleepAs(site: Site, timeoutNs: number, traced: boolean): Gen<"woken" | "timeout"> {
    const task = this.k.current;
    this.sleepers.push(task);
    if (traced) yield* sleepOnEvent(this.k, this, site, timeoutNs);
    else yield* sleepOn(this.k, this, site, timeoutNs);
    const i = this.sleepers.indexOf(task);
    if (i >= 0) this.sleepers.splice(i, 1);
    return task.wakeReason;
  }

  /** wake_up_all(): makes every sleeper runnable. */
  wakeAll(site: Site): void {
    const sleepers = this.sleepers.splice(0);
    for (const task of sleepers) this.k.sched.wake(task, this, site);
  }
}

/**
 * wait_event(wq, cond): sleeps on `wq` until `cond()` holds. `cond` is read after each wake-up
 * with a "read" step on `obj`, the shared state it depends on.
 */
export function* wait_event(
  k: Kernel,
  wq: WaitQueueHead,
  obj: KObject,
  cond: () => boolean,
  site: Site,
): Gen {
  might_sleep(k, site);
  for (;;) {
    yield { op: "read", obj, site };
    if (cond()) return;
    yield* wq.sleep(site);
  }
}
