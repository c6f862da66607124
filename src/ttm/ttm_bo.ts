// Buffer objects (drivers/gpu/drm/ttm/ttm_bo.c, include/drm/ttm/ttm_bo.h): lifetime (kref,
// release, delayed destroy and zombie reaping), reservation, pinning and LRU position,
// placement (two passes over DESIRED / FALLBACK places), validation, the move core,
// eviction through the LRU walk, swapout and population.
//
// Locking follows upstream: a BO's fields after `kref` are protected by its dma_resv; LRU
// lists and `usage` by bdev->lru_lock. The move core unmaps every user mapping of the BO
// (ttm_bo_unmap_virtual) before the driver's move, with the resv held.
//
// Left out: dmem cgroup charging and protection, the 6.15 shrink helpers (ttm_bo_shrink),
// ttm_bo_access (ptrace), the panic kmap. The GEM object is reduced to size, resv and the mmap
// offset node.

import { BUG } from "../kernel/bug.js";
import {
  DMA_RESV_USAGE_BOOKKEEP,
  DMA_RESV_USAGE_KERNEL,
  type dma_resv,
  dma_resv_add_fence,
  dma_resv_assert_held,
  dma_resv_copy_fences,
  dma_resv_fences,
  dma_resv_init,
  dma_resv_lock,
  dma_resv_lock_interruptible,
  dma_resv_lock_slow,
  dma_resv_locking_ctx,
  dma_resv_reserve_fences,
  dma_resv_test_signaled,
  dma_resv_trylock,
  dma_resv_unlock,
  dma_resv_wait_timeout,
} from "../kernel/dma_resv.js";
import {
  EBUSY,
  EINTR,
  EINVAL,
  EMULTIHOP,
  ENOENT,
  ENOMEM,
  ENOSPC,
  ERESTARTSYS,
  errnoName,
} from "../kernel/errno.js";
import type { Kernel } from "../kernel/kernel.js";
import { TT_PFN_BASE, VRAM_PFN_BASE } from "../kernel/physmem.js";
import type { Gen, KObject } from "../kernel/sched.js";
import { spin_lock, spin_unlock } from "../kernel/spinlock.js";
import type { ww_acquire_ctx } from "../kernel/ww_mutex.js";
import type { Site } from "../trace/index.js";
import {
  drm_vma_node_unmap,
  drm_vma_offset_add,
  drm_vma_offset_node,
  drm_vma_offset_remove,
} from "./drm_vma_manager.js";
import {
  ttm_bo_pipeline_gutting,
  type ttm_lru_walk,
  ttm_lru_walk_for_evict,
  ttm_mem_io_free,
} from "./ttm_bo_util.js";
import { type ttm_device, type ttm_hop, ttm_manager_type } from "./ttm_device.js";
import {
  memTypeName,
  TTM_NUM_MOVE_FENCES,
  TTM_PL_FLAG_DESIRED,
  TTM_PL_FLAG_FALLBACK,
  TTM_PL_SYSTEM,
  TTM_PL_TT,
  TTM_PL_VRAM,
  type ttm_place,
  type ttm_placement,
} from "./ttm_placement.js";
import { TTM_ALLOCATION_PROPAGATE_ENOSPC } from "./ttm_pool.js";
import {
  type AllocResult,
  PFN_UP,
  resourceManager,
  type ttm_lru_bulk_move,
  type ttm_resource,
  ttm_resource_add_bulk_move,
  ttm_resource_alloc,
  ttm_resource_compatible,
  ttm_resource_cursor,
  ttm_resource_cursor_fini,
  ttm_resource_del_bulk_move,
  ttm_resource_del_bulk_move_unevictable,
  ttm_resource_free,
  ttm_resource_intersects,
  type ttm_resource_manager,
  ttm_resource_manager_first,
  ttm_resource_manager_used,
  ttm_resource_move_to_lru_tail,
} from "./ttm_resource.js";
import {
  TTM_TT_FLAG_EXTERNAL,
  TTM_TT_FLAG_SWAPPED,
  type ttm_tt,
  ttm_tt_create,
  ttm_tt_destroy,
  ttm_tt_is_populated,
  ttm_tt_is_swapped,
  ttm_tt_populate,
  ttm_tt_swapout,
  ttm_tt_unpopulate,
} from "./ttm_tt.js";

/** enum ttm_bo_type. */
export const ttm_bo_type_device = 0;
export const ttm_bo_type_kernel = 1;
export const ttm_bo_type_sg = 2;
export type ttm_bo_type = number;

/** struct ttm_operation_ctx. */
export interface ttm_operation_ctx {
  interruptible: boolean;
  no_wait_gpu: boolean;
  gfp_retry_mayfail: boolean;
  allow_res_evict: boolean;
  resv: dma_resv | null;
  /** Bytes moved by this operation, every hop and every evicted BO included. */
  bytes_moved: number;
}

/** A ttm_operation_ctx with the given fields and the rest zero, as `{ }` in C. */
export function ttm_ctx(fields: Partial<ttm_operation_ctx> = {}): ttm_operation_ctx {
  return {
    interruptible: false,
    no_wait_gpu: false,
    gfp_retry_mayfail: false,
    allow_res_evict: false,
    resv: null,
    bytes_moved: 0,
    ...fields,
  };
}

/** ttm_bo_wait_ctx's timeout: 15 seconds of simulated time. */
export const TTM_BO_WAIT_TIMEOUT_NS = 15e9;

/** The GEM part of a BO that TTM uses. */
export interface drm_gem_object {
  /** Size in bytes. */
  readonly size: number;
  /** The reservation object in use: `_resv`, or a shared one. */
  resv: dma_resv;
  /** The BO's own reservation object. */
  readonly _resv: dma_resv;
  readonly vma_node: drm_vma_offset_node;
}

/** struct ttm_buffer_object. */
export class ttm_buffer_object {
  readonly base: drm_gem_object;
  bdev: ttm_device;
  type: ttm_bo_type = ttm_bo_type_device;
  page_alignment = 0;
  destroy: ((bo: ttm_buffer_object) => void) | null = null;
  kref = 1;
  /** What a change of `resource` or `ttm` touches, for partial-order reduction and checkers. */
  readonly where: KObject;
  private _resource: ttm_resource | null = null;
  private _ttm: ttm_tt | null = null;
  /** Released while busy: waiting in the delayed-delete queue. */
  deleted = false;
  bulk_move: ttm_lru_bulk_move | null = null;
  priority = 0;
  pin_count = 0;
  /** A ghost holds a reference on the BO it was split from. */
  ghostOf: ttm_buffer_object | null = null;

  constructor(
    readonly k: Kernel,
    bdev: ttm_device,
    /** A name for reports and frame owners, e.g. "bo:A". */
    readonly name: string,
    sizeBytes: number,
    resv: dma_resv | null = null,
  ) {
    this.bdev = bdev;
    this.where = { id: k.newId(), name: `${name}.placement` };
    const own = dma_resv_init(k, name);
    this.base = {
      size: sizeBytes,
      resv: resv ?? own,
      _resv: own,
      vma_node: new drm_vma_offset_node(),
    };
    this.base.vma_node.owner = this;
  }
  /** Where the BO lives, or null. Protected by the resv. */
  get resource(): ttm_resource | null {
    return this._resource;
  }

  set resource(res: ttm_resource | null) {
    this._resource = res;
    this.k.sched.touch(this.where, true);
    this.traceWhere("ttm_bo_assign_mem");
  }

  /** The page vector of tt-backed places, or null. Protected by the resv. */
  get ttm(): ttm_tt | null {
    return this._ttm;
  }

  set ttm(tt: ttm_tt | null) {
    this._ttm = tt;
    this.k.sched.touch(this.where, true);
    this.traceWhere("ttm_bo_assign_tt");
  }

  /** Records where the BO's pages are now, for the viewer (only when tracing). */
  traceWhere(site: Site): void {
    const trace = this.k.sched.trace;
    if (!trace || this.ghostOf !== null) return;
    const res = this._resource;
    const tt = this._ttm;
    const pages = Math.ceil(this.base.size / PAGE_SIZE_BYTES);
    let place: "system" | "tt" | "vram" | "none" | "swapped" = "none";
    let pfns: number[] = new Array<number>(pages).fill(-1);
    let aperture: number[] | undefined;
    if (res !== null && res.mem_type === TTM_PL_VRAM) {
      place = "vram";
      pfns = pfns.map((_, i) => VRAM_PFN_BASE + res.start + i);
    } else if (tt !== null && tt.page_flags & TTM_TT_FLAG_SWAPPED) {
      place = "swapped";
    } else if (res !== null) {
      place = res.mem_type === TTM_PL_TT ? "tt" : "system";
      pfns = pfns.map((_, i) => tt?.pages?.[i]?.frame.pfn ?? -1);
      if (place === "tt") aperture = pfns.map((_, i) => TT_PFN_BASE + res.start + i);
    }
    const task = this.k.sched.current;
    const base = {
      type: "placement",
      step: this.k.sched.stepIndex,
      task: task === null ? 0 : task.id,
      site,
      buffer: this.name,
      place,
      pfns,
    } as const;
    trace.push(aperture === undefined ? base : { ...base, aperture });
  }
}

/** PAGE_SIZE, for sizing the placement trace. */
const PAGE_SIZE_BYTES = 4096;

/** Global BO count (ttm_glob.bo_count), per kernel. */
const boCounts = new WeakMap<Kernel, { count: number }>();

/** Number of live BOs of kernel `k`. */
export function ttm_bo_count(k: Kernel): number {
  return boCounts.get(k)?.count ?? 0;
}

/** atomic_inc/dec(&ttm_glob.bo_count): every BO counts, ghosts included. */
export function countBo(k: Kernel, delta: number): void {
  let c = boCounts.get(k);
  if (c === undefined) {
    c = { count: 0 };
    boCounts.set(k, c);
  }
  c.count += delta;
}

function traceSpan(
  bo: ttm_buffer_object,
  kind: "begin" | "end",
  span: "move" | "evict" | "swapout",
  detail: string,
  site: Site,
): void {
  if (kind === "begin") bo.k.spanBegin(span, bo.name, detail, site);
  else bo.k.spanEnd(span, bo.name, detail, site);
}

/** ttm_bo_get(). */
export function ttm_bo_get(bo: ttm_buffer_object): void {
  if (bo.kref <= 0) BUG("ttm_bo_get", `refcount_t: addition on 0; use-after-free of ${bo.name}`);
  bo.kref++;
}

/** ttm_bo_get_unless_zero(): a reference, unless the BO is already being released. */
export function ttm_bo_get_unless_zero(bo: ttm_buffer_object): boolean {
  if (bo.kref <= 0) return false;
  bo.kref++;
  return true;
}

/** ttm_bo_put(): drops a reference; the last one releases the BO. */
export function* ttm_bo_put(bo: ttm_buffer_object): Gen {
  if (bo.kref <= 0) BUG("ttm_bo_put", `refcount_t: underflow; use-after-free of ${bo.name}`);
  bo.kref--;
  if (bo.kref === 0) yield* ttm_bo_release(bo);
}

/** ttm_bo_fini(): the driver drops its reference (was ttm_bo_put). */
export function ttm_bo_fini(bo: ttm_buffer_object): Gen {
  return ttm_bo_put(bo);
}

/** ttm_bo_tt_destroy(): unpopulates and destroys the BO's tt. */
export function* ttm_bo_tt_destroy(bo: ttm_buffer_object): Gen {
  const tt = bo.ttm;
  if (tt === null) return;
  yield* ttm_tt_unpopulate(bo.bdev, tt);
  ttm_tt_destroy(bo.bdev, tt);
  bo.ttm = null;
}

/** ttm_bo_cleanup_memtype_use(): frees the BO's tt and resource. Caller holds the resv. */
export function* ttm_bo_cleanup_memtype_use(bo: ttm_buffer_object): Gen {
  bo.bdev.funcs.delete_mem_notify?.(bo);
  yield* ttm_bo_tt_destroy(bo);
  const res = bo.resource;
  bo.resource = null;
  yield* ttm_resource_free(bo, res);
}

/**
 * ttm_bo_individualize_resv(): a BO that shares a reservation object copies its fences into its
 * own before release, and switches to it (not for sg BOs).
 */
function* ttm_bo_individualize_resv(bo: ttm_buffer_object): Gen<number> {
  if (bo.base.resv === bo.base._resv) return 0;
  const locked = yield* dma_resv_trylock(bo.base._resv, "ttm_bo_individualize_resv");
  if (!locked)
    BUG("ttm_bo_individualize_resv", `BUG_ON(!dma_resv_trylock(&bo->base._resv)) for ${bo.name}`);
  dma_resv_copy_fences(bo.base._resv, bo.base.resv, "ttm_bo_individualize_resv");
  yield* dma_resv_unlock(bo.base._resv, "ttm_bo_individualize_resv");
  if (bo.type !== ttm_bo_type_sg) {
    yield* spin_lock(bo.bdev.lru_lock, "ttm_bo_individualize_resv");
    bo.base.resv = bo.base._resv;
    yield* spin_unlock(bo.bdev.lru_lock, "ttm_bo_individualize_resv");
  }
  return 0;
}

/**
 * ttm_bo_release(): the last reference is gone (no VMA can map the BO). An idle BO whose resv
 * can be trylocked is freed at once; a busy one is resurrected as a zombie ("deleted") and
 * freed by the delayed-delete worker once idle.
 */
function* ttm_bo_release(bo: ttm_buffer_object): Gen {
  const site = "ttm_bo_release";
  const bdev = bo.bdev;
  if (bo.pin_count > 0) bo.k.warn(site, `WARN_ON_ONCE(bo->pin_count) releasing ${bo.name}`);
  if (bo.bulk_move !== null) bo.k.warn(site, `WARN_ON_ONCE(bo->bulk_move) releasing ${bo.name}`);
  if (!bo.deleted) {
    yield* ttm_bo_individualize_resv(bo);
    bdev.funcs.release_notify?.(bo);
    if (bdev.vma_manager !== null) drm_vma_offset_remove(bdev.vma_manager, bo.base.vma_node);
    ttm_mem_io_free(bdev, bo.resource);
    const idle = yield* dma_resv_test_signaled(bo.base._resv, DMA_RESV_USAGE_BOOKKEEP, site);
    if (!idle || bo.type === ttm_bo_type_sg || !(yield* dma_resv_trylock(bo.base.resv, site))) {
      // The BO is not idle: resurrect it for delayed destroy.
      bo.deleted = true;
      yield* spin_lock(bdev.lru_lock, site);
      if (bo.pin_count > 0) {
        bo.pin_count = 0;
        if (bo.resource !== null) ttm_resource_move_to_lru_tail(bo.resource, site);
      }
      bo.kref = 1;
      yield* spin_unlock(bdev.lru_lock, site);
      yield* bdev.wq!.queue(
        `ttm_bo_delayed_delete(${bo.name})`,
        () => ttm_bo_delayed_delete(bo),
        site,
      );
      return;
    }
    yield* ttm_bo_cleanup_memtype_use(bo);
    yield* dma_resv_unlock(bo.base.resv, site);
  }
  countBo(bo.k, -1);
  bo.kref = 0;
  bo.destroy?.(bo);
  if (bo.ghostOf !== null) yield* ttm_bo_put(bo.ghostOf);
}

/** ttm_bo_delayed_delete(): the workqueue item that frees a zombie once it is idle. */
function* ttm_bo_delayed_delete(bo: ttm_buffer_object): Gen {
  const site = "ttm_bo_delayed_delete";
  yield* dma_resv_wait_timeout(
    bo.base._resv,
    DMA_RESV_USAGE_BOOKKEEP,
    false,
    Number.POSITIVE_INFINITY,
    site,
  );
  yield* dma_resv_lock(bo.base.resv, null, site);
  yield* ttm_bo_cleanup_memtype_use(bo);
  yield* dma_resv_unlock(bo.base.resv, site);
  yield* ttm_bo_put(bo);
}

/**
 * ttm_bo_reserve(): locks the BO's resv. `no_wait` trylocks (-EBUSY when held; refused with a
 * ticket); otherwise sleeps, possibly in transaction `ticket` (0, -EALREADY, -EDEADLK).
 */
export function* ttm_bo_reserve(
  bo: ttm_buffer_object,
  interruptible: boolean,
  no_wait: boolean,
  ticket: ww_acquire_ctx | null,
  site: Site = "ttm_bo_reserve",
): Gen<number> {
  if (no_wait) {
    if (ticket !== null) {
      bo.k.warn(site, "WARN_ON(ticket): ttm_bo_reserve with no_wait and a ticket");
      return -EBUSY;
    }
    return (yield* dma_resv_trylock(bo.base.resv, site)) ? 0 : -EBUSY;
  }
  const ret = interruptible
    ? yield* dma_resv_lock_interruptible(bo.base.resv, ticket, site)
    : yield* dma_resv_lock(bo.base.resv, ticket, site);
  return ret === -EINTR ? -ERESTARTSYS : ret;
}

/** ttm_bo_reserve_slowpath(): after -EDEADLK, sleeps for the contended BO. Returns 0. */
export function* ttm_bo_reserve_slowpath(
  bo: ttm_buffer_object,
  ticket: ww_acquire_ctx,
  site: Site = "ttm_bo_reserve_slowpath",
): Gen<number> {
  yield* dma_resv_lock_slow(bo.base.resv, ticket, site);
  return 0;
}

/** ttm_bo_move_to_lru_tail(): caller holds the resv and lru_lock. */
export function ttm_bo_move_to_lru_tail(
  bo: ttm_buffer_object,
  site: Site = "ttm_bo_move_to_lru_tail",
): void {
  dma_resv_assert_held(bo.base.resv, site);
  if (bo.resource !== null) ttm_resource_move_to_lru_tail(bo.resource, site);
}

/** ttm_bo_move_to_lru_tail_unlocked(): takes lru_lock itself. */
export function* ttm_bo_move_to_lru_tail_unlocked(bo: ttm_buffer_object): Gen {
  yield* spin_lock(bo.bdev.lru_lock, "ttm_bo_move_to_lru_tail_unlocked");
  ttm_bo_move_to_lru_tail(bo);
  yield* spin_unlock(bo.bdev.lru_lock, "ttm_bo_move_to_lru_tail_unlocked");
}

/** ttm_bo_unreserve(): moves the BO to the LRU tail, then unlocks its resv. */
export function* ttm_bo_unreserve(bo: ttm_buffer_object, site: Site = "ttm_bo_unreserve"): Gen {
  yield* ttm_bo_move_to_lru_tail_unlocked(bo);
  yield* dma_resv_unlock(bo.base.resv, site);
}

/** ttm_bo_set_bulk_move(): puts the BO in (or takes it out of) a bulk move. Caller holds the resv. */
export function* ttm_bo_set_bulk_move(bo: ttm_buffer_object, bulk: ttm_lru_bulk_move | null): Gen {
  const site = "ttm_bo_set_bulk_move";
  dma_resv_assert_held(bo.base.resv, site);
  if (bo.bulk_move === bulk) return;
  yield* spin_lock(bo.bdev.lru_lock, site);
  if (bo.resource !== null) ttm_resource_del_bulk_move(bo.resource, bo, site);
  bo.bulk_move = bulk;
  if (bo.resource !== null) ttm_resource_add_bulk_move(bo.resource, bo, site);
  yield* spin_unlock(bo.bdev.lru_lock, site);
}

/** ttm_bo_pin(): the BO may not move or be evicted. Caller holds the resv. */
export function* ttm_bo_pin(bo: ttm_buffer_object): Gen {
  const site = "ttm_bo_pin";
  dma_resv_assert_held(bo.base.resv, site);
  yield* spin_lock(bo.bdev.lru_lock, site);
  if (bo.resource !== null) ttm_resource_del_bulk_move(bo.resource, bo, site);
  if (bo.pin_count++ === 0 && bo.resource !== null)
    ttm_resource_move_to_lru_tail(bo.resource, site);
  yield* spin_unlock(bo.bdev.lru_lock, site);
}

/** ttm_bo_unpin(). Caller holds the resv. */
export function* ttm_bo_unpin(bo: ttm_buffer_object): Gen {
  const site = "ttm_bo_unpin";
  dma_resv_assert_held(bo.base.resv, site);
  if (bo.pin_count === 0) {
    bo.k.warn(site, `WARN_ON_ONCE(!bo->pin_count) for ${bo.name}`);
    return;
  }
  yield* spin_lock(bo.bdev.lru_lock, site);
  if (--bo.pin_count === 0 && bo.resource !== null) {
    ttm_resource_add_bulk_move(bo.resource, bo, site);
    ttm_resource_move_to_lru_tail(bo.resource, site);
  }
  yield* spin_unlock(bo.bdev.lru_lock, site);
}

/**
 * ttm_bo_wait_ctx(): waits for every fence of the BO (BOOKKEEP). With no_wait_gpu it only
 * tests and returns -EBUSY when busy; a wait that times out is -EBUSY too.
 */
export function* ttm_bo_wait_ctx(bo: ttm_buffer_object, ctx: ttm_operation_ctx): Gen<number> {
  const site = "ttm_bo_wait_ctx";
  if (ctx.no_wait_gpu)
    return (yield* dma_resv_test_signaled(bo.base.resv, DMA_RESV_USAGE_BOOKKEEP, site))
      ? 0
      : -EBUSY;
  const ret = yield* dma_resv_wait_timeout(
    bo.base.resv,
    DMA_RESV_USAGE_BOOKKEEP,
    ctx.interruptible,
    TTM_BO_WAIT_TIMEOUT_NS,
    site,
  );
  return ret === 0 ? -EBUSY : 0;
}

/** ttm_bo_populate(): populates the tt and puts a swapped-in BO back on its LRU. */
export function* ttm_bo_populate(bo: ttm_buffer_object, ctx: ttm_operation_ctx): Gen<number> {
  const site = "ttm_bo_populate";
  dma_resv_assert_held(bo.base.resv, site);
  const tt = bo.ttm;
  if (tt === null) return 0;
  const swapped = ttm_tt_is_swapped(tt);
  const wasPopulated = ttm_tt_is_populated(tt);
  const ret = yield* ttm_tt_populate(bo.bdev, tt, ctx);
  if (ret !== 0) return ret;
  if (!wasPopulated) bo.traceWhere(site);
  if (swapped && !ttm_tt_is_swapped(tt) && bo.pin_count === 0 && bo.resource !== null) {
    yield* spin_lock(bo.bdev.lru_lock, site);
    ttm_resource_add_bulk_move(bo.resource, bo, site);
    ttm_resource_move_to_lru_tail(bo.resource, site);
    yield* spin_unlock(bo.bdev.lru_lock, site);
  }
  return 0;
}

/** ttm_bo_unmap_virtual(): zaps every user mapping of the BO, then frees its io reservation. */
export function* ttm_bo_unmap_virtual(bo: ttm_buffer_object): Gen {
  const mapping = bo.bdev.dev_mapping;
  if (mapping !== null) yield* drm_vma_node_unmap(bo.base.vma_node, mapping);
  ttm_mem_io_free(bo.bdev, bo.resource);
}

/**
 * ttm_bo_handle_move_mem(): the move core. Unmaps user mappings, creates (and for non-SYSTEM
 * tt places populates) the tt, then calls the driver's move. Caller holds the resv.
 * Returns 0, -EMULTIHOP (with hop filled; nothing undone), or an error.
 */
export function* ttm_bo_handle_move_mem(
  bo: ttm_buffer_object,
  mem: ttm_resource,
  evict: boolean,
  ctx: ttm_operation_ctx,
  hop: ttm_hop | null,
): Gen<number> {
  const site = "ttm_bo_handle_move_mem";
  const bdev = bo.bdev;
  dma_resv_assert_held(bo.base.resv, site);
  const old_use_tt = bo.resource === null || resourceManager(bdev, bo.resource).use_tt;
  const new_use_tt = resourceManager(bdev, mem).use_tt;
  const from = bo.resource === null ? "none" : memTypeName(bo.resource.mem_type);
  traceSpan(bo, "begin", evict ? "evict" : "move", `${from} -> ${memTypeName(mem.mem_type)}`, site);
  const ret = yield* moveMemCore(bo, mem, evict, ctx, hop, old_use_tt, new_use_tt);
  traceSpan(bo, "end", evict ? "evict" : "move", errnoName(ret), site);
  return ret;
}

function* moveMemCore(
  bo: ttm_buffer_object,
  mem: ttm_resource,
  evict: boolean,
  ctx: ttm_operation_ctx,
  hop: ttm_hop | null,
  old_use_tt: boolean,
  new_use_tt: boolean,
): Gen<number> {
  const bdev = bo.bdev;
  if (bdev.unmapOnMove) yield* ttm_bo_unmap_virtual(bo);
  else ttm_mem_io_free(bdev, bo.resource);
  let ret = 0;
  if (new_use_tt) {
    ret = ttm_tt_create(bo, old_use_tt);
    if (ret === 0 && mem.mem_type !== TTM_PL_SYSTEM) ret = yield* ttm_bo_populate(bo, ctx);
  }
  if (ret === 0) {
    dma_resv_reserve_fences(bo.base.resv, 1, "ttm_bo_handle_move_mem");
    ret = yield* bdev.funcs.move(bo, evict, ctx, mem, hop ?? { place: null });
    if (ret === -EMULTIHOP) {
      if (hop === null)
        BUG(
          "ttm_bo_handle_move_mem",
          `unexpected -EMULTIHOP moving ${bo.name} out of a bounce place`,
        );
      return ret;
    }
  }
  if (ret !== 0) {
    if (!old_use_tt) yield* ttm_bo_tt_destroy(bo);
    return ret;
  }
  ctx.bytes_moved += bo.base.size;
  return 0;
}

/** ttm_bo_eviction_valuable(): the default: evict only what intersects the wanted range. */
export function ttm_bo_eviction_valuable(bo: ttm_buffer_object, place: ttm_place): boolean {
  const res = bo.resource;
  if (res === null) return false;
  return ttm_resource_intersects(bo.bdev, res, place, bo.base.size);
}

/**
 * ttm_bo_add_pipelined_eviction_fences(): the new owner of space in `man` must wait for the
 * pipelined evictions still copying out of it. -EBUSY with no_wait_gpu while one is unsignaled.
 */
function* ttm_bo_add_pipelined_eviction_fences(
  bo: ttm_buffer_object,
  man: ttm_resource_manager,
  no_wait_gpu: boolean,
): Gen<number> {
  const site = "ttm_bo_add_pipelined_eviction_fences";
  yield* spin_lock(man.eviction_lock, site);
  let ret = 0;
  for (const fence of man.eviction_fences) {
    if (fence === null) continue;
    yield { op: "read", obj: fence, site };
    if (fence.signaled) continue;
    if (no_wait_gpu) {
      ret = -EBUSY;
      break;
    }
    dma_resv_add_fence(bo.base.resv, fence, DMA_RESV_USAGE_KERNEL, site);
  }
  yield* spin_unlock(man.eviction_lock, site);
  return ret;
}

/**
 * ttm_bo_alloc_resource(): one pass over the placement. Pass 1 (force_space false) skips
 * FALLBACK places and never evicts; pass 2 skips DESIRED places and evicts (not for SYSTEM).
 * Returns the resource, -ENOSPC when no place had room, or another error.
 */
export function* ttm_bo_alloc_resource(
  bo: ttm_buffer_object,
  placement: ttm_placement,
  ctx: ttm_operation_ctx,
  force_space: boolean,
): Gen<AllocResult> {
  const bdev = bo.bdev;
  const ticket = dma_resv_locking_ctx(bo.base.resv);
  dma_resv_reserve_fences(bo.base.resv, TTM_NUM_MOVE_FENCES, "ttm_bo_alloc_resource");
  for (const place of placement.placement) {
    const man = ttm_manager_type(bdev, place.mem_type);
    if (man === null || !ttm_resource_manager_used(man)) continue;
    if (place.flags & (force_space ? TTM_PL_FLAG_DESIRED : TTM_PL_FLAG_FALLBACK)) continue;
    const may_evict = force_space && place.mem_type !== TTM_PL_SYSTEM;
    let res = yield* ttm_resource_alloc(bo, place);
    if (typeof res === "number") {
      if (res !== -ENOSPC) return res;
      if (!may_evict) continue;
      res = yield* ttm_bo_evict_alloc(bdev, man, place, bo, ctx, ticket);
      if (res === -EBUSY) continue;
      if (typeof res === "number") return res;
    }
    const ret = yield* ttm_bo_add_pipelined_eviction_fences(bo, man, ctx.no_wait_gpu);
    if (ret !== 0) {
      yield* ttm_resource_free(bo, res);
      if (ret === -EBUSY) continue;
      return ret;
    }
    return res;
  }
  return -ENOSPC;
}

/** ttm_bo_mem_space(): both passes of ttm_bo_alloc_resource. */
export function* ttm_bo_mem_space(
  bo: ttm_buffer_object,
  placement: ttm_placement,
  ctx: ttm_operation_ctx,
): Gen<AllocResult> {
  let res = yield* ttm_bo_alloc_resource(bo, placement, ctx, false);
  if (res === -ENOSPC) res = yield* ttm_bo_alloc_resource(bo, placement, ctx, true);
  return res;
}

/**
 * ttm_bo_bounce_temp_buffer(): for a multihop move, allocates the hop place and moves there
 * first. Returns 0 or an error.
 */
function* ttm_bo_bounce_temp_buffer(
  bo: ttm_buffer_object,
  ctx: ttm_operation_ctx,
  hop: ttm_hop,
): Gen<number> {
  if (hop.place === null) BUG("ttm_bo_bounce_temp_buffer", "-EMULTIHOP without a hop place");
  const hopMem = yield* ttm_bo_mem_space(bo, { placement: [hop.place] }, ctx);
  if (typeof hopMem === "number") return hopMem;
  const ret = yield* ttm_bo_handle_move_mem(bo, hopMem, false, ctx, null);
  if (ret !== 0) {
    yield* ttm_resource_free(bo, hopMem);
    return ret;
  }
  return 0;
}

/**
 * ttm_bo_evict(): moves `bo` where the driver's evict_flags say (multihop included), or purges
 * its backing store when they say nowhere. Caller holds the resv.
 */
export function* ttm_bo_evict(bo: ttm_buffer_object, ctx: ttm_operation_ctx): Gen<number> {
  const site = "ttm_bo_evict";
  dma_resv_assert_held(bo.base.resv, site);
  const placement = bo.bdev.funcs.evict_flags(bo);
  if (placement.placement.length === 0) {
    const ret = yield* ttm_bo_wait_ctx(bo, ctx);
    if (ret !== 0) return ret;
    return yield* ttm_bo_pipeline_gutting(bo);
  }
  const evictMem = yield* ttm_bo_mem_space(bo, placement, ctx);
  if (typeof evictMem === "number") {
    if (evictMem !== -ERESTARTSYS)
      bo.k.printk(site, `Failed to find memory space for buffer ${bo.name} eviction`);
    return evictMem;
  }
  const hop: ttm_hop = { place: null };
  let ret: number;
  for (;;) {
    ret = yield* ttm_bo_handle_move_mem(bo, evictMem, true, ctx, hop);
    if (ret !== -EMULTIHOP) break;
    ret = yield* ttm_bo_bounce_temp_buffer(bo, ctx, hop);
    if (ret !== 0) break;
  }
  if (ret !== 0) {
    yield* ttm_resource_free(bo, evictMem);
    if (ret !== -ERESTARTSYS && ret !== -EINTR) bo.k.printk(site, `Buffer eviction failed: ${ret}`);
  }
  return ret;
}

/**
 * The eviction walk's per-BO step (ttm_bo_evict_cb): evict (or reap a zombie), then retry the
 * evictor's allocation. 1 when it now fits; 0 to skip; -EBUSY (from -ENOSPC) to keep walking.
 */
interface EvictWalk extends ttm_lru_walk {
  readonly place: ttm_place;
  readonly evictor: ttm_buffer_object;
  res: ttm_resource | null;
  evicted: number;
}

function* ttm_bo_evict_cb(walk: ttm_lru_walk, bo: ttm_buffer_object): Gen<number> {
  const ew = walk as EvictWalk;
  const ctx = walk.ctx;
  const valuable = bo.bdev.funcs.eviction_valuable ?? ttm_bo_eviction_valuable;
  if (bo.pin_count > 0 || !valuable(bo, ew.place)) return 0;
  let lret: number;
  if (bo.deleted) {
    lret = yield* ttm_bo_wait_ctx(bo, ctx);
    if (lret === 0) yield* ttm_bo_cleanup_memtype_use(bo);
  } else {
    lret = yield* ttm_bo_evict(bo, ctx);
  }
  if (lret === 0) {
    ew.evicted++;
    const res = yield* ttm_resource_alloc(ew.evictor, ew.place);
    if (typeof res !== "number") {
      ew.res = res;
      return 1;
    }
    lret = res;
  }
  return lret === -ENOSPC ? -EBUSY : lret;
}

/**
 * ttm_bo_evict_alloc(): makes room for `evictor` in `man` by evicting from its LRU: a trylock
 * walk first, then, if the evictor holds a ticket, ticket-locking walks while they make
 * progress. Returns the resource, -EBUSY when nothing could be evicted, or an error.
 */
function* ttm_bo_evict_alloc(
  bdev: ttm_device,
  man: ttm_resource_manager,
  place: ttm_place,
  evictor: ttm_buffer_object,
  ctx: ttm_operation_ctx,
  ticket: ww_acquire_ctx | null,
): Gen<AllocResult> {
  const walk: EvictWalk = {
    process_bo: ttm_bo_evict_cb,
    ctx,
    ticket,
    trylock_only: true,
    place,
    evictor,
    res: null,
    evicted: 0,
  };
  let lret = yield* ttm_lru_walk_for_evict(walk, bdev, man, 1);
  if (lret === 0 && ticket !== null) {
    walk.trylock_only = false;
    do {
      walk.evicted = 0;
      lret = yield* ttm_lru_walk_for_evict(walk, bdev, man, 1);
    } while (lret === 0 && walk.evicted > 0);
  }
  if (lret < 0) return lret;
  if (lret === 0 || walk.res === null) return -EBUSY;
  return walk.res;
}

/**
 * ttm_bo_validate(): makes sure the BO is in a place compatible with `placement`, moving it
 * (evicting others in the second pass) if needed. An empty placement purges the backing store.
 * Caller holds the resv. Returns 0, -EINVAL for a pinned BO that would move, -ENOMEM when no
 * place has room (unless PROPAGATE_ENOSPC), or an error.
 */
export function* ttm_bo_validate(
  bo: ttm_buffer_object,
  placement: ttm_placement,
  ctx: ttm_operation_ctx,
): Gen<number> {
  const site = "ttm_bo_validate";
  dma_resv_assert_held(bo.base.resv, site);
  if (placement.placement.length === 0) return yield* ttm_bo_pipeline_gutting(bo);
  let force_space = false;
  let ret = 0;
  do {
    if (bo.resource !== null && ttm_resource_compatible(bo.resource, placement, force_space))
      return 0;
    if (bo.pin_count > 0) return -EINVAL;
    const res = yield* ttm_bo_alloc_resource(bo, placement, ctx, force_space);
    force_space = !force_space;
    if (res === -ENOSPC) {
      ret = -ENOSPC;
      continue;
    }
    if (typeof res === "number") return res;
    const hop: ttm_hop = { place: null };
    for (;;) {
      ret = yield* ttm_bo_handle_move_mem(bo, res, false, ctx, hop);
      if (ret !== -EMULTIHOP) break;
      ret = yield* ttm_bo_bounce_temp_buffer(bo, ctx, hop);
      if (ret !== 0) break;
    }
    if (ret !== 0) {
      yield* ttm_resource_free(bo, res);
      return ret;
    }
  } while (ret !== 0 && force_space);
  if (ret === -ENOSPC) return bo.bdev.alloc_flags & TTM_ALLOCATION_PROPAGATE_ENOSPC ? ret : -ENOMEM;
  if (bo.resource === null || bo.resource.mem_type === TTM_PL_SYSTEM) {
    const tret = ttm_tt_create(bo, true);
    if (tret !== 0) return tret;
  }
  return 0;
}

/**
 * ttm_bo_init_reserved(): initialises `bo` (kref 1, no resource), gives device and sg BOs an
 * mmap offset, locks its resv (or checks the caller's is held) and validates it into
 * `placement`. On failure the BO has been put and must not be touched. Returns 0 or an error.
 */
export function* ttm_bo_init_reserved(
  bdev: ttm_device,
  bo: ttm_buffer_object,
  type: ttm_bo_type,
  placement: ttm_placement,
  alignment: number,
  ctx: ttm_operation_ctx,
  resv: dma_resv | null,
  destroy: ((bo: ttm_buffer_object) => void) | null,
): Gen<number> {
  const site = "ttm_bo_init_reserved";
  bo.bdev = bdev;
  bo.type = type;
  bo.page_alignment = alignment;
  bo.destroy = destroy;
  bo.kref = 1;
  bo.resource = null;
  bo.ttm = null;
  bo.deleted = false;
  bo.bulk_move = null;
  bo.pin_count = 0;
  bo.base.resv = resv ?? bo.base._resv;
  countBo(bo.k, 1);
  if (type !== ttm_bo_type_kernel && bdev.vma_manager !== null) {
    const ret = drm_vma_offset_add(bdev.vma_manager, bo.base.vma_node, PFN_UP(bo.base.size));
    if (ret !== 0) {
      yield* ttm_bo_put(bo);
      return ret;
    }
  }
  if (resv === null) {
    if (!(yield* dma_resv_trylock(bo.base.resv, site)))
      bo.k.warn(site, `WARN_ON(!dma_resv_trylock(bo->base.resv)) for ${bo.name}`);
  } else {
    dma_resv_assert_held(resv, site);
  }
  const ret = yield* ttm_bo_validate(bo, placement, ctx);
  if (ret !== 0) {
    if (resv === null) yield* dma_resv_unlock(bo.base.resv, site);
    yield* ttm_bo_put(bo);
    return ret;
  }
  return 0;
}

/** ttm_bo_init_validate(): ttm_bo_init_reserved, then unreserve (unless a resv was given). */
export function* ttm_bo_init_validate(
  bdev: ttm_device,
  bo: ttm_buffer_object,
  type: ttm_bo_type,
  placement: ttm_placement,
  alignment: number,
  interruptible: boolean,
  resv: dma_resv | null,
  destroy: ((bo: ttm_buffer_object) => void) | null,
): Gen<number> {
  const ctx = ttm_ctx({ interruptible });
  const ret = yield* ttm_bo_init_reserved(bdev, bo, type, placement, alignment, ctx, resv, destroy);
  if (ret !== 0) return ret;
  if (resv === null) yield* ttm_bo_unreserve(bo);
  return 0;
}

/** Regressions the tests can put back to show that the swapout tests catch them. */
export type SwapoutRegression = "endless-lru-walk" | "page-count-as-error";

/** Per-device switches for SwapoutRegression; empty in normal use. */
export const swapoutRegressions = new WeakMap<ttm_device, Set<SwapoutRegression>>();

/**
 * ttm_bo_swapout_cb(): swaps one BO out (victim resv held, lru_lock not). Returns the number of
 * pages swapped, -EBUSY to skip it, or an error. -ENOMEM and -ENOSPC are non-fatal: -EBUSY.
 */
function* ttm_bo_swapout_cb(walk: ttm_lru_walk, bo: ttm_buffer_object): Gen<number> {
  const site = "ttm_bo_swapout_cb";
  const ctx = walk.ctx;
  const bdev = bo.bdev;
  let ret = yield* swapoutOne(bo, ctx, bdev, site);
  if (ret === -ENOMEM || ret === -ENOSPC) ret = -EBUSY;
  return ret;
}

/**
 * Swaps out one BO its caller picked and reserved, as the swapout walk does for each victim.
 * Returns the pages swapped out, -EBUSY when the BO cannot be swapped, or an error.
 */
export function* swapoutBo(bo: ttm_buffer_object, ctx: ttm_operation_ctx): Gen<number> {
  const ret = yield* swapoutOne(bo, ctx, bo.bdev, "ttm_bo_swapout_cb");
  return ret === -ENOMEM || ret === -ENOSPC ? -EBUSY : ret;
}

function* swapoutOne(
  bo: ttm_buffer_object,
  ctx: ttm_operation_ctx,
  bdev: ttm_device,
  site: Site,
): Gen<number> {
  const tt = bo.ttm;
  const res = bo.resource!;
  if (
    tt === null ||
    !ttm_tt_is_populated(tt) ||
    tt.page_flags & TTM_TT_FLAG_EXTERNAL ||
    tt.page_flags & TTM_TT_FLAG_SWAPPED
  )
    return -EBUSY;
  const valuable = bdev.funcs.eviction_valuable ?? ttm_bo_eviction_valuable;
  if (bo.pin_count > 0 || !valuable(bo, { fpfn: 0, lpfn: 0, mem_type: res.mem_type, flags: 0 }))
    return -EBUSY;
  if (bo.deleted) {
    const num_pages = tt.num_pages;
    const ret = yield* ttm_bo_wait_ctx(bo, ctx);
    if (ret !== 0) return ret;
    yield* ttm_bo_cleanup_memtype_use(bo);
    return num_pages;
  }
  traceSpan(bo, "begin", "swapout", memTypeName(res.mem_type), site);
  if (res.mem_type !== TTM_PL_SYSTEM) {
    const evictMem = yield* ttm_resource_alloc(bo, {
      fpfn: 0,
      lpfn: 0,
      mem_type: TTM_PL_SYSTEM,
      flags: 0,
    });
    if (typeof evictMem === "number") return evictMem;
    const ret = yield* ttm_bo_handle_move_mem(bo, evictMem, true, ctx, { place: null });
    if (ret !== 0) {
      if (ret === -EMULTIHOP)
        bo.k.warn(site, "Unexpected multihop in swapout - likely driver bug.");
      yield* ttm_resource_free(bo, evictMem);
      return ret;
    }
  }
  let ret = yield* ttm_bo_wait_ctx(bo, ctx);
  if (ret !== 0) return ret;
  yield* ttm_bo_unmap_virtual(bo);
  bdev.funcs.swap_notify?.(bo);
  const regressions = swapoutRegressions.get(bdev);
  const cur = bo.resource!;
  if (ttm_tt_is_populated(tt)) {
    if (regressions?.has("endless-lru-walk")) {
      // Before b2ed01e7ad3d: out of the bulk first, back in on failure (CVE-2026-52965).
      yield* spin_lock(bdev.lru_lock, site);
      ttm_resource_del_bulk_move(cur, bo, site);
      yield* spin_unlock(bdev.lru_lock, site);
      ret = yield* ttm_tt_swapout(bdev, tt);
      bo.traceWhere(site);
      yield* spin_lock(bdev.lru_lock, site);
      if (ret < 0) ttm_resource_add_bulk_move(cur, bo, site);
      ttm_resource_move_to_lru_tail(cur, site);
      yield* spin_unlock(bdev.lru_lock, site);
    } else {
      // b2ed01e7ad3d: only a swapped-out resource leaves its bulk range and the LRU; after a
      // failure the resource stays where it is, in front of the walk's hitch.
      ret = yield* ttm_tt_swapout(bdev, tt);
      bo.traceWhere(site);
      // ttm_tt_swapout returns the page count on success: the hibernate regression tested !ret.
      const succeeded = regressions?.has("page-count-as-error") ? ret === 0 : ret > 0;
      if (succeeded) {
        yield* spin_lock(bdev.lru_lock, site);
        ttm_resource_del_bulk_move_unevictable(cur, bo, site);
        ttm_resource_move_to_lru_tail(cur, site);
        yield* spin_unlock(bdev.lru_lock, site);
      }
    }
  }
  traceSpan(bo, "end", "swapout", ret > 0 ? `${ret} pages` : errnoName(ret), site);
  return ret;
}

/**
 * ttm_bo_swapout(): walks `man`'s LRU with trylocks only and swaps BOs out until `target`
 * pages are out. Returns the pages swapped out, or an error.
 */
export function* ttm_bo_swapout(
  bdev: ttm_device,
  ctx: ttm_operation_ctx,
  man: ttm_resource_manager,
  target: number,
): Gen<number> {
  const walk: ttm_lru_walk = {
    process_bo: ttm_bo_swapout_cb,
    ctx,
    ticket: null,
    trylock_only: true,
  };
  return yield* ttm_lru_walk_for_evict(walk, bdev, man, target);
}

/**
 * ttm_bo_evict_first(): evicts (or reaps) the BO at the head of `man`'s LRU, taking its
 * reservation with a blocking lock (no ticket). Returns 0, -ENOENT when the LRU is empty, or
 * the error of the reserve or the eviction.
 */
export function* ttm_bo_evict_first(
  bdev: ttm_device,
  man: ttm_resource_manager,
  ctx: ttm_operation_ctx,
): Gen<number> {
  const site = "ttm_bo_evict_first";
  yield* spin_lock(bdev.lru_lock, site);
  const cursor = new ttm_resource_cursor(man);
  const res = ttm_resource_manager_first(cursor);
  ttm_resource_cursor_fini(cursor);
  if (res === null || res.bo === null || !ttm_bo_get_unless_zero(res.bo)) {
    yield* spin_unlock(bdev.lru_lock, site);
    return res === null ? -ENOENT : 0;
  }
  const bo = res.bo;
  const mem_type = res.mem_type;
  yield* spin_unlock(bdev.lru_lock, site);
  let ret = yield* ttm_bo_reserve(bo, ctx.interruptible, ctx.no_wait_gpu, null, site);
  if (ret === 0) {
    if (bo.resource !== null && bo.resource.mem_type === mem_type) {
      if (bo.deleted) {
        ret = yield* ttm_bo_wait_ctx(bo, ctx);
        if (ret === 0) yield* ttm_bo_cleanup_memtype_use(bo);
      } else {
        ret = yield* ttm_bo_evict(bo, ctx);
      }
    }
    yield* dma_resv_unlock(bo.base.resv, site);
  }
  yield* ttm_bo_put(bo);
  return ret;
}

/** ttm_resource_manager_evict_all(): evicts every BO of `man` (driver teardown). */
export function* ttm_resource_manager_evict_all(
  bdev: ttm_device,
  man: ttm_resource_manager,
): Gen<number> {
  const ctx = ttm_ctx();
  for (;;) {
    const ret = yield* ttm_bo_evict_first(bdev, man, ctx);
    if (ret !== 0) return ret === -ENOENT ? 0 : ret;
  }
}

/** The fences a fault must wait for (KERNEL usage): pending moves and clears. */
export function ttm_bo_kernel_fences(bo: ttm_buffer_object) {
  return dma_resv_fences(bo.base.resv, DMA_RESV_USAGE_KERNEL);
}
