// Workqueues (kernel/workqueue.c), reduced to what TTM uses: one worker task per queue that
// runs queued work items in order, flush_workqueue() and destroy_workqueue(). The worker is a
// daemon: an idle workqueue at the end of an execution is not a deadlock.
//
// Left out: concurrency management, per-CPU pools, delayed work timers, max_active above one.

import type { Site } from "../trace/index.js";
import { BUG_ON } from "./bug.js";
import type { Kernel } from "./kernel.js";
import type { Gen, KObject, Task } from "./sched.js";
import { WaitQueueHead } from "./wait.js";

export type work_func_t = () => Gen;

/** struct workqueue_struct with its single worker. */
export class workqueue_struct implements KObject {
  readonly id: number;
  readonly worker: Task;
  private readonly pending: Array<{ name: string; fn: work_func_t }> = [];
  private readonly more: WaitQueueHead;
  private readonly idle: WaitQueueHead;
  private running = false;
  private destroyed = false;

  constructor(
    readonly k: Kernel,
    readonly name: string,
  ) {
    this.id = k.newId();
    this.more = new WaitQueueHead(k, `${name}.more_work`);
    this.idle = new WaitQueueHead(k, `${name}.idle`);
    this.worker = k.spawnTask(`kworker/${name}`, "kernel", true, () => this.workerMain());
  }

  /** Work items queued and not started. */
  get queued(): number {
    return this.pending.length;
  }

  /** queue_work(): appends a work item; a scheduling step on the queue. */
  *queue(name: string, fn: work_func_t, site: Site): Gen {
    yield { op: "write", obj: this, site };
    BUG_ON(this.destroyed, site, `queue_work on ${this.name}, which was destroyed`);
    this.pending.push({ name, fn });
    this.more.wakeAll(site);
  }

  /** flush_workqueue(): sleeps until every item queued so far has run. */
  *flush(site: Site): Gen {
    for (;;) {
      yield { op: "read", obj: this, site };
      if (this.pending.length === 0 && !this.running) return;
      yield* this.idle.sleep(site);
    }
  }

  /**
   * destroy_workqueue(): drains the queue (every item, including those queued by items, has
   * run), then lets the worker exit. Queueing work afterwards is a use after free: a BUG here.
   */
  *destroy(site: Site): Gen {
    yield* this.flush(site);
    this.destroyed = true;
    this.more.wakeAll(site);
  }

  private *workerMain(): Gen {
    for (;;) {
      yield { op: "write", obj: this, site: "worker_thread" };
      const work = this.pending.shift();
      if (work === undefined) {
        this.running = false;
        this.idle.wakeAll("worker_thread");
        if (this.destroyed) return;
        yield* this.more.sleepIdle("worker_thread");
        continue;
      }
      this.running = true;
      yield* work.fn();
    }
  }
}

/** alloc_workqueue(). */
export function alloc_workqueue(k: Kernel, name: string): workqueue_struct {
  return new workqueue_struct(k, name);
}
