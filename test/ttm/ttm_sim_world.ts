// A small world for the fault-path and property tests: a simulated kernel with the simulated
// GPU driver (sim_drv) whose mmap is plain ttm_bo_mmap_obj, so every fault runs the default
// ttm_bo_vm_ops (ttm_bo_vm_fault), processes that map buffers, and read-only checks of the
// coherency invariants of ttm-modern.md §2.9 that a scheduler hook runs before every step.

import { expect } from "vitest";
import { DMA_RESV_USAGE_KERNEL, dma_resv_fences } from "../../src/kernel/dma_resv.js";
import { create_process, type Process } from "../../src/kernel/fork.js";
import { Kernel } from "../../src/kernel/kernel.js";
import { type mm_struct, vm_area_struct } from "../../src/kernel/mm_types.js";
import { do_mmap } from "../../src/kernel/mmap.js";
import type { MemoryConfig } from "../../src/kernel/physmem.js";
import type { Gen, RunOutcome, Sched, Scheduler, Step, Task } from "../../src/kernel/sched.js";
import { NonPreemptive } from "../../src/kernel/schedulers.js";
import { Protocol } from "../../src/protocols/protocol.js";
import { TtmProtocol } from "../../src/protocols/ttm.js";
import type { SimPlacement } from "../../src/ttm/sim_drv.js";
import type { ttm_buffer_object } from "../../src/ttm/ttm_bo.js";
import { TTM_BO_VM_NUM_PREFAULT, ttm_bo_mmap_obj } from "../../src/ttm/ttm_bo_vm.js";
import { TTM_TT_FLAG_SWAPPED } from "../../src/ttm/ttm_tt.js";

/** The simulated driver with upstream's default fault handler (no driver ->fault). */
export class VmOpsProtocol extends Protocol {
  constructor(k: Kernel, pipelined: boolean) {
    super(k, { name: "ttm", prefault: TTM_BO_VM_NUM_PREFAULT, pipelined }, pipelined);
  }

  *mmap(bo: ttm_buffer_object, vma: vm_area_struct): Gen<number> {
    return ttm_bo_mmap_obj(vma, bo);
  }
}

export interface WorldOptions {
  readonly pipelined: boolean;
  readonly memory?: Partial<MemoryConfig>;
  readonly trace?: boolean;
  /**
   * The fault handler: upstream's default ttm_bo_vm_ops (the default), or the `ttm` protocol's
   * driver fault, which first moves a BO out of invisible VRAM (amdgpu_bo_fault_reserve_notify).
   */
  readonly driver?: "ttm_bo_vm_ops" | "ttm-protocol";
}

/** One kernel with the simulated driver. */
export class SimWorld {
  readonly k: Kernel;
  readonly p: Protocol;

  constructor(options: WorldOptions) {
    this.k = new Kernel({
      trace: options.trace ?? false,
      memory: { system: 256, tt: 32, vram: 32, wordsPerPage: 4, ...options.memory },
    });
    const pipelined = options.pipelined;
    this.p =
      options.driver === "ttm-protocol"
        ? new TtmProtocol(this.k, { name: "ttm", prefault: TTM_BO_VM_NUM_PREFAULT, pipelined })
        : new VmOpsProtocol(this.k, pipelined);
  }

  get words(): number {
    return this.k.mem.config.wordsPerPage;
  }

  /** Runs `body` to completion as the kernel thread "setup" (non-preemptively). */
  setup<T>(body: () => Gen<T>): T {
    let result: { value: T } | null = null;
    this.k.kthread("setup", function* () {
      result = { value: yield* body() };
    });
    const outcome = this.k.sched.run(new NonPreemptive(), 1_000_000);
    if (outcome.kind === "bug") throw outcome.bug;
    expect(outcome).toEqual({ kind: "done" });
    return result!.value;
  }

  /** Creates a BO; fails the test if creation fails. */
  *create(name: string, pages: number, placement: SimPlacement): Gen<ttm_buffer_object> {
    const bo = yield* this.p.create(name, pages, placement, false);
    if (typeof bo === "number") throw new Error(`create ${name}: ${bo}`);
    return bo;
  }

  /** mmap of `pages` pages of `bo` from its page `first` into `proc`. */
  *map(
    proc: Process,
    bo: ttm_buffer_object,
    label: string,
    first = 0,
    pages?: number,
  ): Gen<vm_area_struct> {
    const count = pages ?? bo.base.size / 4096 - first;
    const vma = yield* do_mmap(
      proc.mm,
      this.p.drm.filp,
      this.p.drm.mmapOffset(bo) + first,
      count,
      label,
    );
    if (!(vma instanceof vm_area_struct)) throw new Error(`mmap ${label}: ${vma}`);
    return vma;
  }

  process(name: string): Process {
    return create_process(this.k, name);
  }

  /** The words of a BO page where they live now: its frame, or its swap storage. */
  wordsOf(bo: ttm_buffer_object, page: number): readonly number[] | null {
    const tt = bo.ttm;
    if (tt !== null && tt.page_flags & TTM_TT_FLAG_SWAPPED) return tt.swap_storage?.[page] ?? null;
    return this.p.currentFrame(bo, page)?.words ?? null;
  }

  /** Runs the spawned tasks under `scheduler` with the coherency checks before every step. */
  run(scheduler: Scheduler, mms: readonly mm_struct[], maxSteps = 400_000): RunOutcome {
    const checked = new CoherencyScheduler(scheduler, () => this.coherency(mms));
    const outcome = this.k.sched.run(checked, maxSteps);
    if (outcome.kind === "bug") throw outcome.bug;
    checked.checkNow();
    return outcome;
  }

  private readonly seen = new Map<string, number>();
  /** Steps before which at least one PTE was present: shows a run was not vacuous. */
  stepsWithPtes = 0;

  /**
   * The invariants of §2.9 that hold between any two steps: (1) every present PTE of a buffer
   * maps the frame that holds that buffer page now, and that frame belongs to the buffer;
   * (2) a PTE that appeared in the last step was inserted with every KERNEL fence (pipelined
   * moves and clears) of its buffer signalled. Returns the problems.
   */
  coherency(mms: readonly mm_struct[]): string[] {
    const problems: string[] = [];
    const now = new Map<string, number>();
    for (const mm of mms) {
      for (const { vpn, pte } of mm.presentPtes()) {
        const key = `${mm.name}@${vpn}`;
        now.set(key, pte.pfn);
        const vma = mm.findVma(vpn);
        if (vma === null || vpn < vma.vm_start) {
          // munmap detaches the VMA before it zaps its PTEs, under mmap_lock held for write.
          if (mm.mmap_lock.writer === null) problems.push(`${key}: PTE outside every VMA`);
          continue;
        }
        const bo = vma.vm_private_data as ttm_buffer_object | null;
        if (bo === null) continue;
        const page = this.p.pageIndex(bo, vma, vpn);
        const frame = this.k.mem.resolve(pte.pfn);
        const current = this.p.currentFrame(bo, page);
        if (!this.k.mem.cpuVisible(pte.pfn))
          problems.push(`${key}: PTE to pfn 0x${pte.pfn.toString(16)}, which the CPU cannot reach`);
        if (frame === null || frame !== current)
          problems.push(
            `${key}: PTE to pfn 0x${pte.pfn.toString(16)} for ${bo.name}[${page}], which now lives in ${current?.name ?? "no frame"}`,
          );
        else if (frame.owner?.name !== bo.name)
          problems.push(`${key}: maps ${frame.name} owned by ${frame.owner?.name ?? "nobody"}`);
        if (this.seen.get(key) !== pte.pfn) {
          const pending = dma_resv_fences(bo.base.resv, DMA_RESV_USAGE_KERNEL).filter(
            (f) => !f.signaled,
          );
          if (pending.length > 0)
            problems.push(
              `${key}: PTE for ${bo.name}[${page}] inserted before KERNEL fence ${pending[0]!.name} signalled`,
            );
        }
      }
    }
    this.seen.clear();
    for (const [key, pfn] of now) this.seen.set(key, pfn);
    if (now.size > 0) this.stepsWithPtes++;
    return problems;
  }
}

/** Wraps a scheduler and checks invariants before every step (forced steps included). */
export class CoherencyScheduler implements Scheduler {
  constructor(
    private readonly inner: Scheduler,
    private readonly check: () => string[],
  ) {}

  pick(runnable: readonly Task[], sched: Sched): Task {
    return this.inner.pick(runnable, sched);
  }

  observeStep(task: Task, step: Step, runnable: readonly Task[], sched: Sched): void {
    this.inner.observeStep?.(task, step, runnable, sched);
    this.checkNow(sched.stepIndex + 1);
  }

  checkNow(step?: number): void {
    const problems = this.check();
    if (problems.length > 0)
      throw new Error(`coherency broken before step ${step ?? "end"}: ${problems.join("; ")}`);
  }
}
