// Move helpers, ghost objects, kernel maps and the LRU walker
// (drivers/gpu/drm/ttm/ttm_bo_util.c): null moves, CPU copies page by page, accelerated moves
// that leave the old memory on a ghost BO until the copy fence signals (or, for pipelined
// evictions, remember the fence in the source manager), pipeline gutting, io reservation and
// caching protection, kmap, and ttm_lru_walk_for_evict.
//
// Left out: kmap iterators as objects (copies go page by page through PFNs), the io-mapping
// variants, ttm_bo_kmap_try_from_panic.

import type { dma_fence } from "../kernel/dma_fence.js";
import {
  DMA_RESV_USAGE_BOOKKEEP,
  DMA_RESV_USAGE_KERNEL,
  dma_resv_add_fence,
  dma_resv_copy_fences,
  dma_resv_lock_interruptible,
  dma_resv_reserve_fences,
  dma_resv_test_signaled,
  dma_resv_trylock,
  dma_resv_unlock,
  dma_resv_wait_timeout,
} from "../kernel/dma_resv.js";
import { EALREADY, EBUSY, EDEADLK, EINVAL, ENOSPC } from "../kernel/errno.js";
import type { pgprot_t } from "../kernel/mm_types.js";
import type { Gen } from "../kernel/sched.js";
import { spin_lock, spin_unlock } from "../kernel/spinlock.js";
import type { ww_acquire_ctx } from "../kernel/ww_mutex.js";
import {
  countBo,
  TTM_BO_WAIT_TIMEOUT_NS,
  ttm_bo_get,
  ttm_bo_get_unless_zero,
  ttm_bo_populate,
  ttm_bo_put,
  ttm_bo_tt_destroy,
  ttm_bo_type_device,
  ttm_bo_wait_ctx,
  ttm_buffer_object,
  ttm_ctx,
  type ttm_operation_ctx,
} from "./ttm_bo.js";
import type { ttm_device } from "./ttm_device.js";
import { TTM_NUM_MOVE_FENCES } from "./ttm_placement.js";
import {
  resourceManager,
  type ttm_resource,
  ttm_resource_cursor,
  ttm_resource_cursor_fini,
  ttm_resource_del_bulk_move,
  ttm_resource_free,
  type ttm_resource_manager,
  ttm_resource_manager_first,
  ttm_resource_manager_next,
} from "./ttm_resource.js";
import {
  TTM_TT_FLAG_SWAPPED,
  TTM_TT_FLAG_ZERO_ALLOC,
  ttm_tt_create,
  ttm_tt_is_populated,
  ttm_tt_mark_for_clear,
  ttm_tt_unpopulate,
} from "./ttm_tt.js";

/** ttm_bo_assign_mem(). */
export function ttm_bo_assign_mem(bo: ttm_buffer_object, new_mem: ttm_resource): void {
  bo.resource = new_mem;
  new_mem.bo = bo;
}

/** ttm_bo_move_null(): frees the old resource and takes the new one; no data is copied. */
export function* ttm_bo_move_null(bo: ttm_buffer_object, new_mem: ttm_resource): Gen {
  const old = bo.resource;
  bo.resource = null;
  yield* ttm_resource_free(bo, old);
  ttm_bo_assign_mem(bo, new_mem);
}

/** ttm_mem_io_reserve(): asks the driver how the CPU reaches `mem` (idempotent). */
export function ttm_mem_io_reserve(bdev: ttm_device, mem: ttm_resource | null): number {
  if (mem === null) return 0;
  if (mem.bus.offset !== 0 || mem.bus.addr !== null) return 0;
  return bdev.funcs.io_mem_reserve?.(bdev, mem) ?? 0;
}

/** ttm_mem_io_free(). */
export function ttm_mem_io_free(bdev: ttm_device, mem: ttm_resource | null): void {
  if (mem === null) return;
  if (mem.bus.offset === 0 && mem.bus.addr === null) return;
  bdev.funcs.io_mem_free?.(bdev, mem);
  mem.bus.offset = 0;
  mem.bus.addr = null;
}

/** ttm_io_prot(): the PTE caching for the BO's current placement. */
export function ttm_io_prot(bo: ttm_buffer_object, res: ttm_resource): pgprot_t {
  if (res.bus.is_iomem) return res.bus.caching;
  return bo.ttm === null ? "cached" : bo.ttm.caching;
}

/**
 * The PFN through which the CPU reaches page `page_offset` of the BO in `res` (the bus address
 * for iomem, the tt page otherwise), or null when that page has no backing. Caller holds the
 * resv and has io-reserved `res`.
 */
export function ttm_bo_page_pfn(
  bo: ttm_buffer_object,
  res: ttm_resource,
  page_offset: number,
): number | null {
  if (res.bus.is_iomem)
    return bo.bdev.funcs.io_mem_pfn?.(bo, page_offset) ?? res.bus.offset + page_offset;
  const page = bo.ttm?.pages?.[page_offset] ?? null;
  return page === null ? null : page.frame.pfn;
}

/**
 * ttm_bo_kmap() of one page: returns the PFN the kernel reaches it through (populating the tt
 * first when needed), or a negative errno. Caller holds the resv.
 */
export function* ttm_bo_kmap_page(bo: ttm_buffer_object, page: number): Gen<number> {
  const res = bo.resource;
  if (res === null || page < 0 || page >= res.num_pages) return -EINVAL;
  let ret = ttm_mem_io_reserve(bo.bdev, res);
  if (ret !== 0) return ret;
  if (!res.bus.is_iomem) {
    ret = yield* ttm_bo_populate(bo, ttm_ctx());
    if (ret !== 0) return ret;
  }
  const pfn = ttm_bo_page_pfn(bo, res, page);
  return pfn === null ? -EINVAL : pfn;
}

/**
 * ttm_bo_wait_free_node(): waits for the BO to be idle, then frees its old resource (and its
 * tt when the destination does not use one).
 */
function* ttm_bo_wait_free_node(bo: ttm_buffer_object, dst_use_tt: boolean): Gen<number> {
  const ret = yield* ttm_bo_wait_ctx(bo, ttm_ctx());
  if (ret !== 0) return ret;
  if (!dst_use_tt) yield* ttm_bo_tt_destroy(bo);
  const old = bo.resource;
  bo.resource = null;
  yield* ttm_resource_free(bo, old);
  return 0;
}

/** ttm_bo_move_sync_cleanup(): after a CPU copy, wait, free the old resource and assign. */
export function* ttm_bo_move_sync_cleanup(
  bo: ttm_buffer_object,
  new_mem: ttm_resource,
): Gen<number> {
  const man = resourceManager(bo.bdev, new_mem);
  const ret = yield* ttm_bo_wait_free_node(bo, man.use_tt);
  if (ret !== 0) return ret;
  ttm_bo_assign_mem(bo, new_mem);
  return 0;
}

/**
 * ttm_bo_move_memcpy(): copies the BO page by page with the CPU from its resource to `dst_mem`
 * (nothing to copy when both are tt-backed: they share the pages; zeroes when the source is an
 * unpopulated tt), then ttm_bo_move_sync_cleanup. The driver has waited for the GPU first.
 */
export function* ttm_bo_move_memcpy(
  bo: ttm_buffer_object,
  ctx: ttm_operation_ctx,
  dst_mem: ttm_resource,
): Gen<number> {
  const site = "ttm_bo_move_memcpy";
  const bdev = bo.bdev;
  const src_mem = bo.resource;
  if (src_mem === null) {
    bo.k.warn(site, "WARN_ON(!src_mem)");
    return -EINVAL;
  }
  const dst_man = resourceManager(bdev, dst_mem);
  const src_man = resourceManager(bdev, src_mem);
  const tt = bo.ttm;
  if (tt !== null && (tt.page_flags & TTM_TT_FLAG_SWAPPED || dst_man.use_tt)) {
    const ret = yield* ttm_bo_populate(bo, ctx);
    if (ret !== 0) return ret;
  }
  let ret = ttm_mem_io_reserve(bdev, dst_mem);
  if (ret === 0) ret = ttm_mem_io_reserve(bdev, src_mem);
  if (ret !== 0) return ret;
  const srcIsTt = !src_mem.bus.is_iomem && src_man.use_tt;
  const dstIsTt = !dst_mem.bus.is_iomem && dst_man.use_tt;
  const clear = srcIsTt && (tt === null || !ttm_tt_is_populated(tt));
  const skip =
    (srcIsTt && dstIsTt) || (clear && tt !== null && !(tt.page_flags & TTM_TT_FLAG_ZERO_ALLOC));
  if (!skip) {
    const mem = bo.k.mem;
    for (let i = 0; i < dst_mem.num_pages; i++) {
      const dstPfn = ttm_bo_page_pfn(bo, dst_mem, i);
      if (dstPfn === null) continue;
      const dst = mem.resolve(dstPfn);
      const srcPfn = clear ? null : ttm_bo_page_pfn(bo, src_mem, i);
      const src = srcPfn === null ? null : mem.resolve(srcPfn);
      yield src === null
        ? { op: "write", obj: dst ?? bo.base.resv.lock, site }
        : { op: "write", obj: dst ?? bo.base.resv.lock, site, also: [{ obj: src, write: false }] };
      if (dst === null) continue;
      if (src === null) mem.clearPage(dst);
      else mem.copyPage(src, dst);
    }
  }
  ttm_mem_io_free(bdev, src_mem);
  return yield* ttm_bo_move_sync_cleanup(bo, dst_mem);
}

/** The ghost's own struct type: a BO whose only job is to hold old memory until idle. */
function ttm_transfered_destroy(_bo: ttm_buffer_object): void {}

/**
 * ttm_buffer_object_transfer(): a ghost BO that takes over `bo`'s resource (and tt), with its
 * own locked reservation object, no mmap offset and no bulk move. The ghost holds a reference
 * on `bo` until it is destroyed.
 */
function* ttm_buffer_object_transfer(bo: ttm_buffer_object): Gen<ttm_buffer_object> {
  const site = "ttm_buffer_object_transfer";
  const ghost = new ttm_buffer_object(bo.k, bo.bdev, `${bo.name}(ghost)`, bo.base.size);
  // A ghost is released like any BO, which uncounts it: count it (atomic_inc(bo_count)).
  countBo(bo.k, 1);
  ghost.type = bo.type;
  ghost.page_alignment = bo.page_alignment;
  ghost.priority = bo.priority;
  ghost.ttm = bo.ttm;
  ghost.destroy = ttm_transfered_destroy;
  if (!(yield* dma_resv_trylock(ghost.base._resv, site)))
    bo.k.warn(site, "WARN_ON(!dma_resv_trylock(&fbo->base.base._resv))");
  dma_resv_reserve_fences(ghost.base._resv, TTM_NUM_MOVE_FENCES, site);
  const res = bo.resource;
  if (res !== null) {
    yield* spin_lock(bo.bdev.lru_lock, site);
    ttm_resource_del_bulk_move(res, bo, site);
    res.bo = ghost;
    yield* spin_unlock(bo.bdev.lru_lock, site);
    ghost.resource = res;
    bo.resource = null;
  }
  ttm_bo_get(bo);
  ghost.ghostOf = bo;
  return ghost;
}

/**
 * ttm_bo_move_to_ghost(): hangs the old memory on a ghost BO that is freed once `fence`
 * signals. The tt stays with the BO when the destination uses one, else goes with the ghost.
 */
function* ttm_bo_move_to_ghost(
  bo: ttm_buffer_object,
  fence: dma_fence,
  dst_use_tt: boolean,
): Gen<number> {
  const site = "ttm_bo_move_to_ghost";
  const ghost = yield* ttm_buffer_object_transfer(bo);
  dma_resv_add_fence(ghost.base._resv, fence, DMA_RESV_USAGE_KERNEL, site);
  if (dst_use_tt) ghost.ttm = null;
  else bo.ttm = null;
  yield* dma_resv_unlock(ghost.base._resv, site);
  yield* ttm_bo_put(ghost);
  return 0;
}

/**
 * ttm_bo_move_pipeline_evict(): an eviction out of a non-tt manager: remember the copy fence in
 * the source manager (one slot per fence context; later fences replace older ones) so the next
 * user of the space waits for it, and free the old range at once.
 */
function* ttm_bo_move_pipeline_evict(bo: ttm_buffer_object, fence: dma_fence): Gen {
  const site = "ttm_bo_move_pipeline_evict";
  const from = resourceManager(bo.bdev, bo.resource!);
  yield* spin_lock(from.eviction_lock, site);
  let slot = from.eviction_fences.findIndex((f) => f !== null && f.context === fence.context);
  if (slot < 0) slot = from.eviction_fences.findIndex((f) => f === null || f.signaled);
  if (slot < 0) {
    bo.k.warn(site, "WARN_ON_ONCE: more than TTM_NUM_MOVE_FENCES eviction fence contexts");
    yield* spin_unlock(from.eviction_lock, site);
    yield* dma_resv_wait_timeout(
      bo.base.resv,
      DMA_RESV_USAGE_KERNEL,
      false,
      TTM_BO_WAIT_TIMEOUT_NS,
      site,
    );
  } else {
    from.eviction_fences[slot] = fence;
    yield* spin_unlock(from.eviction_lock, site);
  }
  const old = bo.resource;
  bo.resource = null;
  yield* ttm_resource_free(bo, old);
}

/**
 * ttm_bo_move_accel_cleanup(): finishes a GPU copy whose completion is `fence`: the fence is
 * added to the BO (KERNEL usage, so faults and later moves wait for it); a normal move hangs
 * the old memory on a ghost; a pipelined eviction out of a non-tt manager records the fence in
 * that manager; otherwise wait and free. Then `new_mem` becomes the BO's resource.
 */
export function* ttm_bo_move_accel_cleanup(
  bo: ttm_buffer_object,
  fence: dma_fence,
  evict: boolean,
  pipeline: boolean,
  new_mem: ttm_resource,
): Gen<number> {
  const site = "ttm_bo_move_accel_cleanup";
  const from = resourceManager(bo.bdev, bo.resource!);
  const man = resourceManager(bo.bdev, new_mem);
  dma_resv_add_fence(bo.base.resv, fence, DMA_RESV_USAGE_KERNEL, site);
  let ret = 0;
  if (!evict) ret = yield* ttm_bo_move_to_ghost(bo, fence, man.use_tt);
  else if (!from.use_tt && pipeline) yield* ttm_bo_move_pipeline_evict(bo, fence);
  else ret = yield* ttm_bo_wait_free_node(bo, man.use_tt);
  if (ret !== 0) return ret;
  ttm_bo_assign_mem(bo, new_mem);
  return 0;
}

/**
 * ttm_bo_pipeline_gutting(): drops the backing store. An idle BO just unpopulates (device BOs
 * are marked for clearing) or gets an empty zeroing tt, and frees its resource; a busy one
 * hands resource and tt to a ghost holding its fences and gets a fresh empty tt.
 */
export function* ttm_bo_pipeline_gutting(bo: ttm_buffer_object): Gen<number> {
  const site = "ttm_bo_pipeline_gutting";
  if (yield* dma_resv_test_signaled(bo.base.resv, DMA_RESV_USAGE_BOOKKEEP, site)) {
    if (bo.ttm === null) {
      const ret = ttm_tt_create(bo, true);
      if (ret !== 0) return ret;
    } else {
      yield* ttm_tt_unpopulate(bo.bdev, bo.ttm);
      if (bo.type === ttm_bo_type_device) ttm_tt_mark_for_clear(bo.ttm);
    }
    const old = bo.resource;
    bo.resource = null;
    yield* ttm_resource_free(bo, old);
    return 0;
  }
  // An empty tt for the BO, made before the transfer takes the old one away.
  const oldTt = bo.ttm;
  bo.ttm = null;
  const ret = ttm_tt_create(bo, true);
  const freshTt = bo.ttm;
  bo.ttm = oldTt;
  if (ret !== 0) return ret;
  const ghost = yield* ttm_buffer_object_transfer(bo);
  dma_resv_copy_fences(ghost.base._resv, bo.base.resv, site);
  yield* dma_resv_unlock(ghost.base._resv, site);
  yield* ttm_bo_put(ghost);
  bo.ttm = freshTt;
  return 0;
}

/** struct ttm_lru_walk (with its arg folded in). */
export interface ttm_lru_walk {
  /** Called with the BO's resv held and a reference; returns progress (> 0), 0, or an errno. */
  process_bo(walk: ttm_lru_walk, bo: ttm_buffer_object): Gen<number>;
  readonly ctx: ttm_operation_ctx;
  /** The ww ticket for one blocking lock per walk, or null. */
  ticket: ww_acquire_ctx | null;
  trylock_only: boolean;
}

/**
 * ttm_lru_walk_for_evict(): walks `man`'s LRUs (priority 0 first, least recently used first).
 * For each BO: trylock it (or accept one sharing ctx.resv when allow_res_evict); if that fails
 * and the walk may, take one blocking ticketed lock per walk (-EDEADLK becomes -ENOSPC and ends
 * the walk); skip BOs whose resource changed type meanwhile; call process_bo with lru_lock
 * dropped. -EBUSY and -EALREADY mean "skip". Returns the summed progress once it reaches
 * `target`, or the first error.
 */
export function* ttm_lru_walk_for_evict(
  walk: ttm_lru_walk,
  bdev: ttm_device,
  man: ttm_resource_manager,
  target: number,
): Gen<number> {
  const site = "ttm_lru_walk_for_evict";
  const ctx = walk.ctx;
  const cursor = new ttm_resource_cursor(man);
  let progress = 0;
  yield* spin_lock(bdev.lru_lock, site);
  for (
    let res = ttm_resource_manager_first(cursor);
    res !== null;
    res = ttm_resource_manager_next(cursor)
  ) {
    const bo = res.bo;
    if (bo === null) continue;
    let locked = false;
    let ownResv = false;
    if (ctx.allow_res_evict && ctx.resv !== null && bo.base.resv === ctx.resv) {
      ownResv = true;
    } else if (yield* dma_resv_trylock(bo.base.resv, site)) {
      locked = true;
    } else if (walk.ticket === null || ctx.no_wait_gpu || walk.trylock_only) {
      continue;
    }
    if (!ttm_bo_get_unless_zero(bo)) {
      if (locked) yield* dma_resv_unlock(bo.base.resv, site);
      continue;
    }
    const mem_type = res.mem_type;
    yield* spin_unlock(bdev.lru_lock, site);
    let lret = 0;
    if (!locked && !ownResv) {
      lret = yield* dma_resv_lock_interruptible(bo.base.resv, walk.ticket, site);
      if (lret === -EDEADLK) lret = -ENOSPC;
      if (lret === 0) {
        locked = true;
        // Ticket locks are prone to -EDEADLK: only one per walk.
        walk.ticket = null;
      }
    }
    if (lret === 0) {
      if (bo.resource !== null && bo.resource.mem_type === mem_type)
        lret = yield* walk.process_bo(walk, bo);
      if (locked) yield* dma_resv_unlock(bo.base.resv, site);
    }
    yield* ttm_bo_put(bo);
    if (lret === -EBUSY || lret === -EALREADY) lret = 0;
    progress = lret < 0 ? lret : progress + lret;
    yield* spin_lock(bdev.lru_lock, site);
    if (progress < 0 || progress >= target) break;
  }
  ttm_resource_cursor_fini(cursor);
  yield* spin_unlock(bdev.lru_lock, site);
  return progress;
}
