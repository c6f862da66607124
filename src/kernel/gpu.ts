// The simulated GPU: one engine that runs queued jobs in submission order and signals each
// job's fence when it completes, like a single drm_sched ring (drivers/gpu/drm/scheduler). A
// job is a list of page operations; each operation is one scheduling step of the engine task,
// so CPU accesses can interleave with a copy in flight. The engine reaches memory by PFN and
// resolves aperture PFNs through the GART when the operation runs, as the hardware would.
// Each shader read or write remembers whose memory it was queued against: memory freed behind
// a fence (a pipelined eviction) may already belong to the next buffer in CPU time while the
// ring still has to run the earlier jobs on the old contents (FrameAccess.queuedOwner).
//
// Left out: several rings, job dependencies (callers wait for fences before submitting),
// timeouts and GPU resets.

import type { Site } from "../trace/index.js";
import { type dma_fence, dma_fence_init, dma_fence_signal } from "./dma_fence.js";
import type { Kernel } from "./kernel.js";
import type { Frame, FrameOwner } from "./physmem.js";
import type { Gen, KObject, Task } from "./sched.js";
import { WaitQueueHead } from "./wait.js";

/** One page operation of a job. */
export type GpuOp =
  /** Copy a whole page from one PFN to another (a blit). */
  | { readonly kind: "copy"; readonly srcPfn: number; readonly dstPfn: number }
  /** Fill a page with a value (a clear). */
  | { readonly kind: "fill"; readonly pfn: number; readonly value: number }
  /** Store one word (a shader write). */
  | { readonly kind: "write"; readonly pfn: number; readonly word: number; readonly value: number }
  /** Load one word (a shader read); the value goes to the access observers. */
  | { readonly kind: "read"; readonly pfn: number; readonly word: number };

export interface GpuJob {
  /** What the job is for, e.g. "move bo:A vram->tt". */
  readonly name: string;
  readonly ops: readonly GpuOp[];
  /** For each op, the owner of the frame it reached when queued (checkers only). */
  readonly queuedOwners: readonly (FrameOwner | null)[];
  readonly fence: dma_fence;
}

/** The GPU engine and its ring. */
export class GpuEngine implements KObject {
  readonly id: number;
  readonly task: Task;
  /** Fence context of the ring (dma_fence_context_alloc). */
  readonly context: number;
  private readonly ring: GpuJob[] = [];
  /**
   * What submitting and fetching a job touch: the ring (and the doorbell's sleeper, which only
   * those two steps change). The engine's own steps, running a job's page operations, touch the
   * engine and the memory they reach, so they do not depend on submissions from the CPU.
   */
  private readonly ringObj: KObject;
  private readonly doorbell: WaitQueueHead;
  private seqno = 0;
  /** Jobs completed, for statistics. */
  completed = 0;

  constructor(
    private readonly k: Kernel,
    readonly name = "gfx",
  ) {
    this.id = k.newId();
    this.context = this.id;
    this.ringObj = { id: k.newId(), name: `${name}.ring` };
    this.doorbell = new WaitQueueHead(k, `${name}.doorbell`);
    this.task = k.spawnTask(`gpu:${name}`, "gpu", true, () => this.main());
  }

  /** Jobs queued and not yet started. */
  get queued(): number {
    return this.ring.length;
  }

  /**
   * Queues a job and returns its fence (one reference for the caller). A scheduling step on the
   * ring; the job runs later on the engine task.
   */
  *submit(name: string, ops: readonly GpuOp[], site: Site): Gen<dma_fence> {
    const mem = this.k.mem;
    // Remembering whose memory each shader access was queued against reads those frames.
    const also = ops.flatMap((op) =>
      op.kind === "write" || op.kind === "read" ? mem.accessPath(op.pfn, "gpu", false) : [],
    );
    yield also.length === 0
      ? { op: "write", obj: this.ringObj, site }
      : { op: "write", obj: this.ringObj, site, also };
    const fence = dma_fence_init(this.k, `${this.name}:${++this.seqno}`, this.context, this.seqno);
    const queuedOwners = ops.map((op) =>
      op.kind === "write" || op.kind === "read" ? (mem.reach(op.pfn, "gpu")?.owner ?? null) : null,
    );
    this.ring.push({ name, ops, queuedOwners, fence });
    this.doorbell.wakeAll(site);
    return fence;
  }

  private *main(): Gen {
    const k = this.k;
    for (;;) {
      yield { op: "write", obj: this.ringObj, site: "gpu_ring_fetch" };
      const job = this.ring.shift();
      if (job === undefined) {
        yield* this.doorbell.sleepIdle("gpu_ring_idle");
        continue;
      }
      k.spanBegin("gpu-job", job.name, undefined, "gpu_job_run", this.task);
      for (let i = 0; i < job.ops.length; i++) yield* this.runOp(job.ops[i]!, job.queuedOwners[i]!);
      yield* dma_fence_signal(job.fence, "gpu_job_done");
      this.completed++;
      k.spanEnd("gpu-job", job.name, "0", "gpu_job_done", this.task);
    }
  }

  /**
   * One page operation, as one or two steps. Each step names the GART entries and frames it
   * goes through (resolved when the step is taken) and resolves them again when it runs.
   */
  private *runOp(op: GpuOp, queuedOwner: FrameOwner | null): Gen {
    const mem = this.k.mem;
    switch (op.kind) {
      case "copy": {
        yield {
          op: "read",
          obj: this,
          site: "gpu_copy",
          also: mem.accessPath(op.srcPfn, "gpu", false),
        };
        const words = readWords(mem.reach(op.srcPfn, "gpu"), mem.config.wordsPerPage);
        // Data movement, not a buffer write: observers see the words move, not new values.
        yield {
          op: "write",
          obj: this,
          site: "gpu_copy",
          also: mem.accessPath(op.dstPfn, "gpu", true),
        };
        const target = mem.reach(op.dstPfn, "gpu");
        if (target !== null) for (let w = 0; w < words.length; w++) target.words[w] = words[w]!;
        return;
      }
      case "fill":
        yield {
          op: "write",
          obj: this,
          site: "gpu_fill",
          also: mem.accessPath(op.pfn, "gpu", true),
        };
        mem.reach(op.pfn, "gpu")?.words.fill(op.value);
        return;
      case "write":
        yield {
          op: "write",
          obj: this,
          site: "gpu_write",
          also: mem.accessPath(op.pfn, "gpu", true),
        };
        mem.store(op.pfn, op.word, op.value, "gpu", "gpu_write", undefined, queuedOwner);
        return;
      case "read":
        yield {
          op: "read",
          obj: this,
          site: "gpu_read",
          also: mem.accessPath(op.pfn, "gpu", false),
        };
        mem.load(op.pfn, op.word, "gpu", "gpu_read", undefined, queuedOwner);
        return;
    }
  }
}

function readWords(frame: Frame | null, wordsPerPage: number): number[] {
  return frame === null ? new Array<number>(wordsPerPage).fill(0) : [...frame.words];
}
