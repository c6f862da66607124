// What every fault/move protocol shares: the simulated driver (one TTM device, one GPU, one
// device address_space), buffer creation and destruction, GPU and kernel accesses, multi-BO
// reservation, and the default mover (reserve, ttm_bo_validate, unreserve). Each protocol
// (history.md §2-§3) supplies how mmap sets a VMA up and how faults fill it, and may replace
// the mover.
//
// Every protocol takes the same per-object lock, the BO's reservation (a dma_resv ww_mutex,
// used without a ticket it is a plain mutex), standing for 2006's bo->mutex / struct_mutex and
// today's dma_resv.

import {
  DMA_RESV_USAGE_BOOKKEEP,
  DMA_RESV_USAGE_KERNEL,
  DMA_RESV_USAGE_READ,
  DMA_RESV_USAGE_WRITE,
  dma_resv_add_fence,
  dma_resv_reserve_fences,
  dma_resv_wait_timeout,
  reservation_ww_class,
} from "../kernel/dma_resv.js";
import { EDEADLK, EINVAL } from "../kernel/errno.js";
import type { GpuOp } from "../kernel/gpu.js";
import type { Kernel } from "../kernel/kernel.js";
import type { mm_struct, vm_area_struct, vm_operations_struct } from "../kernel/mm_types.js";
import type { Frame } from "../kernel/physmem.js";
import type { Gen } from "../kernel/sched.js";
import { copy_from_user } from "../kernel/uaccess.js";
import { type ww_acquire_ctx, ww_acquire_fini, ww_acquire_init } from "../kernel/ww_mutex.js";
import { drm_vma_node_start } from "../ttm/drm_vma_manager.js";
import { apertureSlotPfn, SimDrm, type SimPlacement } from "../ttm/sim_drv.js";
import {
  swapoutBo,
  ttm_bo_evict,
  ttm_bo_fini,
  ttm_bo_get,
  ttm_bo_populate,
  ttm_bo_reserve,
  ttm_bo_reserve_slowpath,
  ttm_bo_unreserve,
  ttm_bo_validate,
  ttm_bo_wait_ctx,
  type ttm_buffer_object,
  ttm_ctx,
} from "../ttm/ttm_bo.js";
import { ttm_bo_kmap_page, ttm_bo_page_pfn, ttm_mem_io_reserve } from "../ttm/ttm_bo_util.js";
import { ttm_bo_vm_close, ttm_bo_vm_open } from "../ttm/ttm_bo_vm.js";
import {
  TTM_PL_FLAG_FALLBACK,
  TTM_PL_SYSTEM,
  TTM_PL_TT,
  TTM_PL_VRAM,
} from "../ttm/ttm_placement.js";

/** The protocols and their options (SCENARIO-FORMAT.md, "Protocols"). */
export type ProtocolConfig =
  | {
      readonly name: "lock-all-mmap";
      readonly order: "registration" | "sorted";
      readonly recheck: boolean;
      /**
       * The mover takes the object lock before the mmap locks, as the 2.6.15-2.6.18 compat
       * code did (drm_bo_lock_kmm), but with down_write where that code used a trylock.
       */
      readonly objectFirst: boolean;
    }
  | { readonly name: "nopage"; readonly truncateCheck: boolean }
  | { readonly name: "nopfn" }
  | { readonly name: "insert-pfn" }
  | { readonly name: "remap-in-fault" }
  | { readonly name: "ttm"; readonly prefault: number; readonly pipelined: boolean };

/** A multi-BO reservation a thread holds between its `reserve` and `unreserve` ops. */
export interface Reservation {
  ticket: ww_acquire_ctx | null;
  readonly held: ttm_buffer_object[];
}

/** How the CPU reaches a tt-backed page: through the page itself, or the AGP aperture slot. */
export type TtAccess = "pages" | "aperture";

/** The base of every protocol. */
export abstract class Protocol {
  readonly drm: SimDrm;

  constructor(
    readonly k: Kernel,
    readonly config: ProtocolConfig,
    pipelined: boolean,
  ) {
    this.drm = new SimDrm(k, { pipelined, mmap: (bo, vma) => this.mmap(bo, vma) });
  }

  /** f_op->mmap for `bo`: sets `vma` up (flags, vm_ops, references, PTEs if any). */
  abstract mmap(bo: ttm_buffer_object, vma: vm_area_struct): Gen<number>;

  /**
   * The 2006 drivers' mmap (drm_bo_mmap): the VMA takes a reference to `bo` and points at it,
   * gets `vmFlags`, and gets `ops` with ttm_bo_vm_open/close, which take and drop a reference
   * for every copy of the VMA (fork) and its unmapping.
   */
  protected mmapBo(
    bo: ttm_buffer_object,
    vma: vm_area_struct,
    vmFlags: number,
    ops: Omit<vm_operations_struct, "open" | "close">,
  ): number {
    ttm_bo_get(bo);
    vma.vm_private_data = bo;
    vma.vm_flags |= vmFlags;
    vma.vm_ops = { ...ops, open: ttm_bo_vm_open, close: ttm_bo_vm_close };
    return 0;
  }

  /** The page index of `bo` that virtual page `address` of `vma` maps. */
  pageIndex(bo: ttm_buffer_object, vma: vm_area_struct, address: number): number {
    return address - vma.vm_start + vma.vm_pgoff - drm_vma_node_start(bo.base.vma_node);
  }

  /**
   * The PFN through which the CPU should reach page `page` of `bo` now, with the BO reserved:
   * populates its tt, io-reserves VRAM. Null when the page is not CPU-reachable (no backing,
   * or VRAM beyond the visible window).
   */
  *cpuPfnLocked(bo: ttm_buffer_object, page: number, tt: TtAccess): Gen<number | null> {
    const res = bo.resource;
    if (res === null) return null;
    if (res.mem_type !== TTM_PL_VRAM && (yield* ttm_bo_populate(bo, ttm_ctx())) !== 0) return null;
    if (ttm_mem_io_reserve(bo.bdev, res) !== 0) return null;
    const pfn =
      tt === "aperture" && res.mem_type === TTM_PL_TT
        ? apertureSlotPfn(res, page)
        : ttm_bo_page_pfn(bo, res, page);
    if (pfn === null || !this.k.mem.cpuVisible(pfn)) return null;
    return pfn;
  }

  /** The frame that holds page `page` of `bo` now, for the checkers (no locking, no steps). */
  currentFrame(bo: ttm_buffer_object, page: number): Frame | null {
    const res = bo.resource;
    if (res === null) return null;
    if (res.mem_type === TTM_PL_VRAM) return this.k.mem.vram[res.start + page] ?? null;
    return bo.ttm?.pages?.[page]?.frame ?? null;
  }

  /** Whether the BO is in VRAM beyond the CPU-visible window, where no fault can map it. */
  inInvisibleVram(bo: ttm_buffer_object): boolean {
    const res = bo.resource;
    return (
      res !== null &&
      res.mem_type === TTM_PL_VRAM &&
      res.start + res.num_pages > this.k.mem.config.visibleVram
    );
  }

  /**
   * Moves a reserved BO that is in invisible VRAM into the visible window (or TT when the
   * window is full), as amdgpu_bo_fault_reserve_notify does from inside the fault (litmus L6).
   * Returns 0 or a negative errno.
   */
  *makeCpuReachable(bo: ttm_buffer_object): Gen<number> {
    if (!this.inInvisibleVram(bo)) return 0;
    const placement = {
      placement: [
        { fpfn: 0, lpfn: this.k.mem.config.visibleVram, mem_type: TTM_PL_VRAM, flags: 0 },
        { fpfn: 0, lpfn: 0, mem_type: TTM_PL_TT, flags: TTM_PL_FLAG_FALLBACK },
      ],
    };
    return yield* ttm_bo_validate(bo, placement, ttm_ctx({ interruptible: true }));
  }

  /** Waits for the KERNEL fences of a reserved BO (moves and clears in flight). */
  *waitKernelFences(bo: ttm_buffer_object, site: string): Gen {
    yield* dma_resv_wait_timeout(
      bo.base.resv,
      DMA_RESV_USAGE_KERNEL,
      false,
      Number.POSITIVE_INFINITY,
      site,
    );
  }

  /** `create`: a BO of `pages` pages in `placement`. Returns the BO or a negative errno. */
  create(
    name: string,
    pages: number,
    placement: SimPlacement,
    pinned: boolean,
  ): Gen<ttm_buffer_object | number> {
    return this.drm.create(name, pages, placement, pinned);
  }

  /** `destroy`: drops the creator's reference. */
  *destroy(bo: ttm_buffer_object): Gen<number> {
    yield* ttm_bo_fini(bo);
    return 0;
  }

  /** `move`: validate the BO into `to`, evicting others if that pool is full. */
  *move(bo: ttm_buffer_object, to: SimPlacement): Gen<number> {
    const site = "simdrm_gem_move_ioctl";
    const ret = yield* ttm_bo_reserve(bo, true, false, null, site);
    if (ret !== 0) return ret;
    const vret = yield* ttm_bo_validate(
      bo,
      this.drm.placement(to),
      ttm_ctx({ interruptible: true }),
    );
    yield* ttm_bo_unreserve(bo, site);
    return vret;
  }

  /** `evict`: as TTM evicts (VRAM -> TT -> SYSTEM). A SYSTEM BO stays. */
  *evict(bo: ttm_buffer_object): Gen<number> {
    const site = "simdrm_evict";
    const ret = yield* ttm_bo_reserve(bo, true, false, null, site);
    if (ret !== 0) return ret;
    const res = bo.resource;
    const eret =
      res === null || res.mem_type === TTM_PL_SYSTEM
        ? 0
        : yield* ttm_bo_evict(bo, ttm_ctx({ interruptible: true }));
    yield* ttm_bo_unreserve(bo, site);
    return eret;
  }

  /** `swapout`: swaps this BO's pages out to shmem, as the TTM shrinker would. */
  *swapout(bo: ttm_buffer_object): Gen<number> {
    const site = "simdrm_swapout";
    const ret = yield* ttm_bo_reserve(bo, true, false, null, site);
    if (ret !== 0) return ret;
    const sret = yield* swapoutBo(bo, ttm_ctx());
    yield* ttm_bo_unreserve(bo, site);
    return Math.min(sret, 0);
  }

  /**
   * `gpu-write` / `gpu-read`: a command submission that uses the BO. The BO is validated into a
   * GPU-reachable place (VRAM or TT) if needed, the job is queued and its fence added with
   * WRITE or READ usage. The job runs later on the GPU engine.
   */
  *gpuAccess(
    bo: ttm_buffer_object,
    page: number,
    word: number,
    write: { value: number } | null,
  ): Gen<number> {
    const site = "simdrm_cs_ioctl";
    let ret = yield* ttm_bo_reserve(bo, true, false, null, site);
    if (ret !== 0) return ret;
    let res = bo.resource;
    if (res === null || res.mem_type === TTM_PL_SYSTEM) {
      ret = yield* ttm_bo_validate(
        bo,
        { placement: [{ fpfn: 0, lpfn: 0, mem_type: TTM_PL_TT, flags: 0 }] },
        ttm_ctx(),
      );
      res = bo.resource;
    }
    if (ret === 0 && res !== null) {
      const pfn = this.drm.gpuPfn(res, page)!;
      const op: GpuOp =
        write === null
          ? { kind: "read", pfn, word }
          : { kind: "write", pfn, word, value: write.value };
      const fence = yield* this.drm.gpu.submit(
        `${write === null ? "read" : "write"} ${bo.name}[${page}]`,
        [op],
        site,
      );
      dma_resv_reserve_fences(bo.base.resv, 1, site);
      dma_resv_add_fence(
        bo.base.resv,
        fence,
        write === null ? DMA_RESV_USAGE_READ : DMA_RESV_USAGE_WRITE,
        site,
      );
    }
    yield* ttm_bo_unreserve(bo, site);
    return ret;
  }

  /** `wait-idle`: waits for every fence of the BO. */
  *waitIdle(bo: ttm_buffer_object): Gen<number> {
    yield* dma_resv_wait_timeout(
      bo.base.resv,
      DMA_RESV_USAGE_BOOKKEEP,
      false,
      Number.POSITIVE_INFINITY,
      "simdrm_wait_idle",
    );
    return 0;
  }

  /**
   * `kernel-write` / `kernel-read`: a CPU access through a kernel map (kmap) with the BO
   * reserved and idle. Returns the value read (or written), or a negative errno.
   */
  *kernelAccess(
    bo: ttm_buffer_object,
    page: number,
    word: number,
    write: { value: number } | null,
  ): Gen<{ ret: number; value: number }> {
    const site = "simdrm_kmap_access";
    let ret = yield* ttm_bo_reserve(bo, true, false, null, site);
    if (ret !== 0) return { ret, value: 0 };
    ret = yield* ttm_bo_wait_ctx(bo, ttm_ctx());
    let value = 0;
    if (ret === 0) {
      const pfn = yield* ttm_bo_kmap_page(bo, page);
      if (pfn < 0) {
        ret = pfn;
      } else {
        const frame = this.k.mem.resolve(pfn);
        yield { op: write === null ? "read" : "write", obj: frame ?? bo.base.resv.lock, site };
        if (write === null) value = this.k.mem.load(pfn, word, "kernel", site);
        else {
          value = write.value;
          this.k.mem.store(pfn, word, value, "kernel", site);
        }
      }
    }
    yield* ttm_bo_unreserve(bo, site);
    return { ret, value };
  }

  /**
   * `reserve`: locks several BOs in the given order. With a ticket, a ww_acquire_ctx backs off
   * on -EDEADLK (release all, sleep on the contended one, restart); without one, plain locks
   * in order (litmus L18). Returns 0 or a negative errno (then nothing is held).
   */
  *reserve(bos: readonly ttm_buffer_object[], useTicket: boolean, state: Reservation): Gen<number> {
    const site = "simdrm_reserve_ioctl";
    if (!useTicket) {
      for (const bo of bos) {
        const ret = yield* ttm_bo_reserve(bo, true, false, null, site);
        if (ret !== 0) {
          for (const held of state.held.splice(0)) yield* ttm_bo_unreserve(held, site);
          return ret;
        }
        state.held.push(bo);
      }
      return 0;
    }
    const ticket = state.ticket ?? ww_acquire_init(this.k, reservation_ww_class, site);
    state.ticket = ticket;
    let contended: ttm_buffer_object | null = null;
    for (;;) {
      let failed: ttm_buffer_object | null = null;
      for (const bo of bos) {
        if (bo === contended) continue;
        const ret = yield* ttm_bo_reserve(bo, true, false, ticket, site);
        if (ret === -EDEADLK) {
          failed = bo;
          break;
        }
        if (ret !== 0 && ret !== -EINVAL) {
          for (const held of state.held.splice(0)) yield* ttm_bo_unreserve(held, site);
          return ret;
        }
        if (ret === 0) state.held.push(bo);
      }
      if (failed === null) return 0;
      for (const held of state.held.splice(0)) yield* ttm_bo_unreserve(held, site);
      yield* ttm_bo_reserve_slowpath(failed, ticket, site);
      state.held.push(failed);
      contended = failed;
    }
  }

  /** `unreserve`: unlocks the named BOs; the ticket ends when nothing is held any more. */
  *unreserve(bos: readonly ttm_buffer_object[], state: Reservation): Gen<number> {
    const site = "simdrm_unreserve_ioctl";
    for (const bo of bos) {
      const i = state.held.indexOf(bo);
      if (i < 0) continue;
      state.held.splice(i, 1);
      yield* ttm_bo_unreserve(bo, site);
    }
    if (state.held.length === 0 && state.ticket !== null) {
      ww_acquire_fini(state.ticket, site);
      state.ticket = null;
    }
    return 0;
  }

  /**
   * `read-into`: an ioctl that locks `bo` and then copies from user memory (copy_from_user with
   * an object lock held, litmus L13) into page `bufferPage` of `bo`.
   */
  *readInto(mm: mm_struct, vpn: number, bo: ttm_buffer_object, bufferPage: number): Gen<number> {
    const site = "simdrm_read_into_ioctl";
    let ret = yield* ttm_bo_reserve(bo, true, false, null, site);
    if (ret !== 0) return ret;
    const words = this.k.mem.config.wordsPerPage;
    for (let w = 0; w < words && ret === 0; w++) {
      const r = yield* copy_from_user(this.k, mm, vpn, w);
      if (r.ret !== 0) {
        ret = r.ret;
        break;
      }
      const pfn = yield* ttm_bo_kmap_page(bo, bufferPage);
      if (pfn < 0) {
        ret = pfn;
        break;
      }
      yield { op: "write", obj: this.k.mem.resolve(pfn) ?? bo.base.resv.lock, site };
      this.k.mem.store(pfn, w, r.value, "kernel", site);
    }
    yield* ttm_bo_unreserve(bo, site);
    return ret;
  }
}
