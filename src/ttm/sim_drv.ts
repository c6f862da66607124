// The simulated GPU driver: the TTM "driver side" that the protocols and the scenarios use,
// shaped like the upstream KUnit mock driver and like amdgpu_ttm.c where the mock is silent.
//
// - Memory types: SYSTEM (TTM's system manager), TT (a range manager over the AGP/GART aperture
//   slots; the tt pages are bound into the GART when a BO moves into TT and unbound when the TT
//   range is freed or, first, when the pages are freed: like amdgpu_ttm_tt_unpopulate, which
//   unbinds before ttm_pool_free, so no GART entry ever points at a freed page) and VRAM (a
//   range manager over the VRAM frames; io memory, write-combined).
// - Moves: nothing to copy when there is no data yet (a new VRAM BO is cleared by a GPU fill,
//   like AMDGPU_GEM_CREATE_VRAM_CLEARED); SYSTEM<->TT are null moves (bind/unbind the same
//   pages; unbind waits for the GPU first); SYSTEM<->VRAM is a multihop through TT (-EMULTIHOP);
//   TT<->VRAM copies with the GPU and completes through ttm_bo_move_accel_cleanup (a ghost BO
//   or a pipelined-eviction fence) when `pipelined`, or with ttm_bo_move_memcpy otherwise.
// - Eviction: VRAM -> TT (SYSTEM as fallback), TT -> SYSTEM.
// - The DRM device file: one address_space for every open (litmus L15), mmap looks the BO up
//   by its fake offset (drm_gem_mmap) and hands it to the protocol's mmap.
//
// Frame owners: VRAM frames and tt pages are owned by the BO whose data they hold (a ghost's
// memory keeps its BO's name) and by nobody once freed, for the isolation checkers.

import { agp_bind_page, agp_slot_pfn, agp_unbind_page } from "../kernel/agp.js";
import {
  DMA_RESV_USAGE_KERNEL,
  dma_resv_add_fence,
  dma_resv_reserve_fences,
} from "../kernel/dma_resv.js";
import { EINVAL, EMULTIHOP } from "../kernel/errno.js";
import { address_space, type file } from "../kernel/fs.js";
import { GpuEngine, type GpuOp } from "../kernel/gpu.js";
import type { Kernel } from "../kernel/kernel.js";
import type { vm_area_struct } from "../kernel/mm_types.js";
import { TT_PFN_BASE, VRAM_PFN_BASE } from "../kernel/physmem.js";
import type { Gen } from "../kernel/sched.js";
import {
  drm_vma_node_start,
  drm_vma_offset_lookup,
  drm_vma_offset_manager_init,
} from "./drm_vma_manager.js";
import {
  ttm_bo_init_validate,
  ttm_bo_pin,
  ttm_bo_reserve,
  ttm_bo_type_device,
  ttm_bo_unreserve,
  ttm_bo_wait_ctx,
  ttm_buffer_object,
  type ttm_operation_ctx,
} from "./ttm_bo.js";
import { ttm_bo_move_accel_cleanup, ttm_bo_move_memcpy, ttm_bo_move_null } from "./ttm_bo_util.js";
import { ttm_device, type ttm_device_funcs, ttm_device_init, type ttm_hop } from "./ttm_device.js";
import {
  TTM_PL_FLAG_FALLBACK,
  TTM_PL_FLAG_TEMPORARY,
  TTM_PL_SYSTEM,
  TTM_PL_TT,
  TTM_PL_VRAM,
  ttm_place_init,
  type ttm_placement,
} from "./ttm_placement.js";
import { ttm_pool_free } from "./ttm_pool.js";
import { ttm_range_man_init, type ttm_range_manager } from "./ttm_range_manager.js";
import { PAGE_SIZE, type ttm_resource } from "./ttm_resource.js";
import {
  ttm_tt,
  ttm_tt_fini,
  ttm_tt_init,
  ttm_tt_is_populated,
  ttm_tt_is_swapped,
} from "./ttm_tt.js";

/** The placements a scenario names. */
export type SimPlacement = "system" | "tt" | "vram";

export interface SimDrmOptions {
  /** Aperture slots and VRAM frames the managers hand out (default: all of them). */
  readonly ttPages?: number;
  readonly vramPages?: number;
  /** TT<->VRAM moves copy on the GPU and complete asynchronously (ghost objects). */
  readonly pipelined: boolean;
  /** How mmap sets a VMA up; the protocols supply their own. */
  readonly mmap: (bo: ttm_buffer_object, vma: vm_area_struct) => Gen<number>;
}

/** The memory type of a scenario placement. */
export function memTypeOf(placement: SimPlacement): number {
  return placement === "system" ? TTM_PL_SYSTEM : placement === "tt" ? TTM_PL_TT : TTM_PL_VRAM;
}

/** The scenario placement of a memory type. */
export function placementOf(memType: number): SimPlacement {
  return memType === TTM_PL_SYSTEM ? "system" : memType === TTM_PL_TT ? "tt" : "vram";
}

/** One simulated GPU with its TTM device. */
export class SimDrm {
  readonly bdev: ttm_device;
  readonly gpu: GpuEngine;
  readonly tt: ttm_range_manager;
  readonly vram: ttm_range_manager;
  /** The DRM device file every process opens. */
  readonly filp: file;
  /** TT resources whose pages are bound into the GART, with the tt whose pages they are. */
  private readonly bound = new Map<ttm_resource, ttm_tt>();

  constructor(
    readonly k: Kernel,
    readonly options: SimDrmOptions,
  ) {
    const mapping = new address_space(k, "drm");
    const vma_manager = drm_vma_offset_manager_init();
    this.bdev = new ttm_device(k, "simdrm");
    const ret = ttm_device_init(this.bdev, this.funcs(), mapping, vma_manager, 0);
    if (ret !== 0) throw new Error(`ttm_device_init failed: ${ret}`);
    const mem = k.mem.config;
    this.tt = ttm_range_man_init(this.bdev, TTM_PL_TT, true, options.ttPages ?? mem.tt);
    this.vram = ttm_range_man_init(this.bdev, TTM_PL_VRAM, false, options.vramPages ?? mem.vram);
    this.tt.onPages = (res, owner) => {
      if (owner === null) this.unbind(res);
    };
    this.vram.onPages = (res, owner) => {
      for (let i = 0; i < res.num_pages; i++) {
        const frame = k.mem.vram[res.start + i]!;
        k.mem.setOwner(frame, owner === null ? null : { name: owner, index: i }, "simdrm_vram");
      }
    };
    this.gpu = new GpuEngine(k, "gfx");
    const drm = this;
    this.filp = {
      name: "/dev/dri/card0",
      f_mapping: mapping,
      private_data: null,
      f_op: {
        *mmap(_filp, vma): Gen<number> {
          const node = drm_vma_offset_lookup(vma_manager, vma.vm_pgoff, vma.pageCount);
          if (node === null) return -EINVAL;
          return yield* drm.options.mmap(node.owner as ttm_buffer_object, vma);
        },
      },
    };
  }

  /** The placement of one memory type, with fallbacks as a driver would ask. */
  placement(to: SimPlacement): ttm_placement {
    return { placement: [ttm_place_init(memTypeOf(to))] };
  }

  /**
   * Creates a BO of `pages` pages in `placement` (ttm_bo_init_validate), pinned if asked.
   * Returns the BO, or a negative errno (the BO is gone then).
   */
  *create(
    name: string,
    pages: number,
    placement: SimPlacement,
    pinned: boolean,
  ): Gen<ttm_buffer_object | number> {
    const bo = new ttm_buffer_object(this.k, this.bdev, name, pages * PAGE_SIZE);
    const ret = yield* ttm_bo_init_validate(
      this.bdev,
      bo,
      ttm_bo_type_device,
      this.placement(placement),
      0,
      false,
      null,
      null,
    );
    if (ret !== 0) return ret;
    if (pinned) {
      yield* ttm_bo_reserve(bo, false, false, null);
      yield* ttm_bo_pin(bo);
      yield* ttm_bo_unreserve(bo);
    }
    return bo;
  }

  /** The file offset (in pages) that mmap of `bo` uses. */
  mmapOffset(bo: ttm_buffer_object): number {
    return drm_vma_node_start(bo.base.vma_node);
  }

  /** The GPU's address (a PFN) for page `i` of a resource: VRAM, or the aperture for TT. */
  gpuPfn(res: ttm_resource, i: number): number | null {
    if (res.mem_type === TTM_PL_VRAM) return VRAM_PFN_BASE + res.start + i;
    if (res.mem_type === TTM_PL_TT) return TT_PFN_BASE + res.start + i;
    return null;
  }

  private bind(bo: ttm_buffer_object, res: ttm_resource): void {
    const tt = bo.ttm;
    const pages = tt?.pages;
    if (tt === null || pages === null || pages === undefined || this.bound.has(res)) return;
    for (let i = 0; i < res.num_pages; i++) {
      const page = pages[i];
      if (page !== null && page !== undefined)
        agp_bind_page(this.k, res.start + i, page.frame, "simdrm_ttm_bind");
    }
    this.bound.set(res, tt);
  }

  private unbind(res: ttm_resource): void {
    if (!this.bound.delete(res)) return;
    for (let i = 0; i < res.num_pages; i++) {
      if (this.k.mem.gart[res.start + i] !== null)
        agp_unbind_page(this.k, res.start + i, "simdrm_ttm_unbind");
    }
  }

  /** Submits a GPU clear of a fresh VRAM resource and makes the BO's users wait for it. */
  private *clearVram(bo: ttm_buffer_object, res: ttm_resource): Gen {
    const ops: GpuOp[] = [];
    for (let i = 0; i < res.num_pages; i++)
      ops.push({ kind: "fill", pfn: VRAM_PFN_BASE + res.start + i, value: 0 });
    const fence = yield* this.gpu.submit(`clear ${bo.name}`, ops, "amdgpu_fill_buffer");
    dma_resv_reserve_fences(bo.base.resv, 1, "simdrm_clear");
    dma_resv_add_fence(bo.base.resv, fence, DMA_RESV_USAGE_KERNEL, "simdrm_clear");
  }

  private *move(
    bo: ttm_buffer_object,
    evict: boolean,
    ctx: ttm_operation_ctx,
    new_mem: ttm_resource,
    hop: ttm_hop,
  ): Gen<number> {
    const old = bo.resource;
    const from = old === null ? -1 : old.mem_type;
    const to = new_mem.mem_type;
    // Like amdgpu_bo_move's null move without a tt; a tt that was never populated holds no
    // data either, but a swapped-out one does (in shmem): it must be swapped in and copied.
    const tt = bo.ttm;
    const noData =
      old === null ||
      (from === TTM_PL_SYSTEM &&
        (tt === null || (!ttm_tt_is_populated(tt) && !ttm_tt_is_swapped(tt))));
    if (noData) {
      if (to === TTM_PL_TT) this.bind(bo, new_mem);
      if (to === TTM_PL_VRAM) yield* this.clearVram(bo, new_mem);
      yield* ttm_bo_move_null(bo, new_mem);
      return 0;
    }
    if (from === TTM_PL_SYSTEM && to === TTM_PL_TT) {
      this.bind(bo, new_mem);
      yield* ttm_bo_move_null(bo, new_mem);
      return 0;
    }
    if (from === TTM_PL_TT && to === TTM_PL_SYSTEM) {
      // The GPU may still use the GART mapping: wait before it is unbound with the old range.
      const ret = yield* ttm_bo_wait_ctx(bo, ctx);
      if (ret !== 0) return ret;
      yield* ttm_bo_move_null(bo, new_mem);
      return 0;
    }
    if (
      (from === TTM_PL_SYSTEM && to === TTM_PL_VRAM) ||
      (from === TTM_PL_VRAM && to === TTM_PL_SYSTEM)
    ) {
      hop.place = { fpfn: 0, lpfn: 0, mem_type: TTM_PL_TT, flags: TTM_PL_FLAG_TEMPORARY };
      return -EMULTIHOP;
    }
    if (to === TTM_PL_TT) this.bind(bo, new_mem);
    if (!this.options.pipelined) {
      const ret = yield* ttm_bo_wait_ctx(bo, ctx);
      if (ret !== 0) return ret;
      return yield* ttm_bo_move_memcpy(bo, ctx, new_mem);
    }
    const ops: GpuOp[] = [];
    for (let i = 0; i < new_mem.num_pages; i++) {
      const srcPfn = this.gpuPfn(old!, i);
      const dstPfn = this.gpuPfn(new_mem, i);
      if (srcPfn !== null && dstPfn !== null) ops.push({ kind: "copy", srcPfn, dstPfn });
    }
    const fence = yield* this.gpu.submit(
      `move ${bo.name} ${from}->${to}`,
      ops,
      "amdgpu_copy_buffer",
    );
    return yield* ttm_bo_move_accel_cleanup(bo, fence, evict, true, new_mem);
  }

  private funcs(): ttm_device_funcs {
    const drm = this;
    return {
      ttm_tt_create(bo, page_flags) {
        const tt = new ttm_tt();
        ttm_tt_init(tt, bo, page_flags, "cached", 0);
        return tt;
      },
      // amdgpu_ttm_tt_unpopulate: unbind from the GART, then give the pages back.
      ttm_tt_unpopulate: function* (bdev, tt) {
        for (const [res, boundTt] of drm.bound) if (boundTt === tt) drm.unbind(res);
        ttm_pool_free(bdev.pool, tt);
      },
      // amdgpu_ttm_backend_destroy: ttm_tt_fini, which drops the swap storage, then kfree.
      ttm_tt_destroy(_bdev, tt) {
        ttm_tt_fini(tt);
      },
      evict_flags(bo): ttm_placement {
        const res = bo.resource;
        if (res !== null && res.mem_type === TTM_PL_VRAM) {
          return {
            placement: [
              ttm_place_init(TTM_PL_TT),
              ttm_place_init(TTM_PL_SYSTEM, TTM_PL_FLAG_FALLBACK),
            ],
          };
        }
        return { placement: [ttm_place_init(TTM_PL_SYSTEM)] };
      },
      move: (bo, evict, ctx, new_mem, hop) => this.move(bo, evict, ctx, new_mem, hop),
      io_mem_reserve(_bdev, mem) {
        if (mem.mem_type !== TTM_PL_VRAM)
          return mem.mem_type === TTM_PL_SYSTEM || mem.mem_type === TTM_PL_TT ? 0 : -EINVAL;
        mem.bus.offset = VRAM_PFN_BASE + mem.start;
        mem.bus.is_iomem = true;
        mem.bus.caching = "write-combined";
        return 0;
      },
    };
  }
}

/** The aperture PFN of page `i` of a TT resource (for drivers that map TT through the AGP aperture). */
export function apertureSlotPfn(res: ttm_resource, i: number): number {
  return agp_slot_pfn(res.start + i);
}
