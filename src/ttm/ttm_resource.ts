// Resources, resource managers, LRU lists, cursors and bulk moves
// (drivers/gpu/drm/ttm/ttm_resource.c, include/drm/ttm/ttm_resource.h).
//
// A resource is a BO's allocation in one memory type. Each manager keeps one LRU list per
// priority (head = least recently used); pinned and swapped resources live on the device's
// `unevictable` list instead. Walks over an LRU leave a "hitch" item behind the last resource
// visited, so the lru_lock can be dropped and the walk resumed where it was. Bulk moves keep
// all resources of one (mem_type, priority) that share a reservation contiguous on the LRU, so
// the whole range moves to the tail in O(1).
//
// Locking: every list and `man.usage` is protected by bdev->lru_lock (asserted where the kernel
// asserts it). Left out: dmem cgroup charging, ttm_resource_manager_debug output beyond usage.

import { BUG } from "../kernel/bug.js";
import type { dma_fence } from "../kernel/dma_fence.js";
import type { Gen } from "../kernel/sched.js";
import { assert_spin_locked, spin_lock, spin_unlock, spinlock_t } from "../kernel/spinlock.js";
import type { Site } from "../trace/index.js";
import {
  list_add_tail,
  list_bulk_move_tail,
  list_del_init,
  list_empty,
  list_head,
  list_is_linked,
  list_move_tail,
} from "./list.js";
import type { ttm_buffer_object } from "./ttm_bo.js";
import { CLASS_TTM } from "./ttm_classes.js";
import type { ttm_device } from "./ttm_device.js";
import {
  TTM_MAX_BO_PRIORITY,
  TTM_NUM_MEM_TYPES,
  TTM_NUM_MOVE_FENCES,
  TTM_PL_FLAG_CONTIGUOUS,
  TTM_PL_FLAG_DESIRED,
  TTM_PL_FLAG_FALLBACK,
  TTM_PL_FLAG_TEMPORARY,
  type ttm_caching,
  type ttm_place,
  type ttm_placement,
} from "./ttm_placement.js";
import { TTM_TT_FLAG_SWAPPED } from "./ttm_tt.js";

/** struct ttm_lru_item: either a resource on an LRU, or a cursor's hitch. */
export class ttm_lru_item {
  readonly link: list_head<ttm_lru_item>;

  constructor(
    readonly type: "resource" | "hitch",
    readonly res: ttm_resource | null,
  ) {
    this.link = new list_head<ttm_lru_item>(this);
  }
}

/** struct ttm_bus_placement: how the CPU reaches the resource, filled by io_mem_reserve. */
export interface ttm_bus_placement {
  /** Premapped kernel address (the model uses the first PFN), or null. */
  addr: number | null;
  /** Bus offset in pages of the start of the resource (for iomem: its first PFN). */
  offset: number;
  is_iomem: boolean;
  caching: ttm_caching;
}

/** struct ttm_resource. */
export class ttm_resource {
  /** First page of the allocation within its manager. */
  start = 0;
  /** Size in bytes. */
  size = 0;
  mem_type = 0;
  /** The place flags it was allocated with. */
  placement = 0;
  readonly bus: ttm_bus_placement = { addr: null, offset: 0, is_iomem: false, caching: "cached" };
  bo: ttm_buffer_object | null = null;
  readonly lru: ttm_lru_item;
  /** Manager-private data (the range manager's drm_mm node). */
  mgrPriv: unknown = null;

  constructor() {
    this.lru = new ttm_lru_item("resource", this);
  }

  /** PFN_UP(size): the number of pages. */
  get num_pages(): number {
    return Math.ceil(this.size / PAGE_SIZE);
  }
}

export const PAGE_SIZE = 4096;

/** PFN_UP(). */
export function PFN_UP(bytes: number): number {
  return Math.ceil(bytes / PAGE_SIZE);
}

/** What a manager's alloc returns: the resource, or a negative errno. */
export type AllocResult = ttm_resource | number;

/** struct ttm_resource_manager_func. */
export interface ttm_resource_manager_func {
  /** Allocates a resource for `bo` in `place`; -ENOSPC when there is no room. */
  alloc(man: ttm_resource_manager, bo: ttm_buffer_object, place: ttm_place): Gen<AllocResult>;
  free(man: ttm_resource_manager, res: ttm_resource): Gen;
  intersects?(
    man: ttm_resource_manager,
    res: ttm_resource,
    place: ttm_place,
    size: number,
  ): boolean;
  compatible?(
    man: ttm_resource_manager,
    res: ttm_resource,
    place: ttm_place,
    size: number,
  ): boolean;
}

/** struct ttm_resource_manager. */
export class ttm_resource_manager {
  use_type = false;
  use_tt = false;
  /** Size in the manager's unit (pages for the range manager, bytes for the mock manager). */
  size = 0;
  /** Bytes allocated. Protected by lru_lock. */
  usage = 0;
  /** One LRU per priority. Protected by lru_lock. */
  readonly lru: list_head<ttm_lru_item>[];
  /** Pipelined-eviction fences, one slot per fence context. Protected by eviction_lock. */
  readonly eviction_fences: (dma_fence | null)[] = new Array<dma_fence | null>(
    TTM_NUM_MOVE_FENCES,
  ).fill(null);
  readonly eviction_lock: spinlock_t;

  constructor(
    readonly bdev: ttm_device,
    readonly func: ttm_resource_manager_func,
    readonly mem_type: number,
    readonly name: string,
  ) {
    this.lru = Array.from({ length: TTM_MAX_BO_PRIORITY }, () => new list_head<ttm_lru_item>());
    this.eviction_lock = new spinlock_t(bdev.k, `${name}.eviction_lock`, CLASS_TTM.eviction_lock);
  }
}

/**
 * ttm_resource_manager_init(): initialises the core of `man` for `size` units. As upstream, it
 * leaves use_type and use_tt alone: drivers (amdgpu's GTT manager, the KUnit mock manager) set
 * use_tt before calling it.
 */
export function ttm_resource_manager_init(man: ttm_resource_manager, size: number): void {
  man.size = size;
  man.usage = 0;
  man.eviction_fences.fill(null);
}

/** ttm_resource_manager_set_used(). */
export function ttm_resource_manager_set_used(man: ttm_resource_manager, used: boolean): void {
  man.use_type = used;
}

/** ttm_resource_manager_used(). */
export function ttm_resource_manager_used(man: ttm_resource_manager): boolean {
  return man.use_type;
}

/** ttm_resource_manager_usage(): bytes in use (takes lru_lock). */
export function* ttm_resource_manager_usage(man: ttm_resource_manager): Gen<number> {
  yield* spin_lock(man.bdev.lru_lock, "ttm_resource_manager_usage");
  const usage = man.usage;
  yield* spin_unlock(man.bdev.lru_lock, "ttm_resource_manager_usage");
  return usage;
}

/** struct ttm_lru_bulk_move_pos: the first and last resource of one bulk range. */
export interface ttm_lru_bulk_move_pos {
  first: ttm_resource | null;
  last: ttm_resource | null;
}

/** struct ttm_lru_bulk_move. */
export class ttm_lru_bulk_move {
  readonly pos: ttm_lru_bulk_move_pos[][];
  /** Cursors whose hitch sits inside one of the ranges; a bulk tail move carries them along. */
  readonly cursors: Set<ttm_resource_cursor> = new Set();

  constructor() {
    this.pos = Array.from({ length: TTM_NUM_MEM_TYPES }, () =>
      Array.from({ length: TTM_MAX_BO_PRIORITY }, () => ({ first: null, last: null })),
    );
  }
}

/** ttm_lru_bulk_move_init(). */
export function ttm_lru_bulk_move_init(): ttm_lru_bulk_move {
  return new ttm_lru_bulk_move();
}

/** The manager of a resource's memory type. */
export function resourceManager(bdev: ttm_device, res: ttm_resource): ttm_resource_manager {
  const man = bdev.man_drv[res.mem_type];
  if (man === null || man === undefined)
    BUG("ttm_manager_type", `no manager for memory type ${res.mem_type}`);
  return man;
}

/**
 * ttm_lru_bulk_move_tail(): moves every bulk range to the tail of its LRU, after first moving
 * the hitch of every cursor inside a range to just behind that range's last resource, so that a
 * walk in progress does not see the range again. Caller holds lru_lock.
 */
export function ttm_lru_bulk_move_tail(
  bulk: ttm_lru_bulk_move,
  bdev: ttm_device,
  site: Site,
): void {
  assert_spin_locked(bdev.lru_lock, site);
  for (const cursor of bulk.cursors) {
    const pos = bulk.pos[cursor.man.mem_type]![cursor.priority]!;
    if (pos.last !== null) linkAfter(cursor.hitch.link, pos.last.lru.link);
    cursor.bulk = null;
  }
  bulk.cursors.clear();
  for (let type = 0; type < TTM_NUM_MEM_TYPES; type++) {
    for (let prio = 0; prio < TTM_MAX_BO_PRIORITY; prio++) {
      const pos = bulk.pos[type]![prio]!;
      if (pos.first === null || pos.last === null) continue;
      const man = resourceManager(bdev, pos.first);
      list_bulk_move_tail(man.lru[prio]!, pos.first.lru.link, pos.last.lru.link);
    }
  }
}

/** list_move(entry, after): unlinks `entry` and puts it right after `after`. */
function linkAfter(entry: list_head<ttm_lru_item>, after: list_head<ttm_lru_item>): void {
  list_del_init(entry);
  entry.prev = after;
  entry.next = after.next;
  after.next.prev = entry;
  after.next = entry;
}

function bulkPos(bulk: ttm_lru_bulk_move, res: ttm_resource): ttm_lru_bulk_move_pos {
  return bulk.pos[res.mem_type]![res.bo!.priority]!;
}

/** ttm_lru_next_res(): the next resource on the list (skipping hitches), or null. */
function nextResource(res: ttm_resource): ttm_resource | null {
  for (let e = res.lru.link.next; e.owner !== null; e = e.next)
    if (e.owner.type === "resource") return e.owner.res;
  return null;
}

/** ttm_lru_prev_res(). */
function prevResource(res: ttm_resource): ttm_resource | null {
  for (let e = res.lru.link.prev; e.owner !== null; e = e.prev)
    if (e.owner.type === "resource") return e.owner.res;
  return null;
}

/** ttm_resource_unevictable(): pinned or swapped resources stay off the LRUs. */
export function ttm_resource_unevictable(_res: ttm_resource, bo: ttm_buffer_object): boolean {
  return bo.pin_count > 0 || (bo.ttm !== null && (bo.ttm.page_flags & TTM_TT_FLAG_SWAPPED) !== 0);
}

/** ttm_lru_bulk_move_pos_tail(): moves `res` to the end of its range. */
function bulkPosTail(pos: ttm_lru_bulk_move_pos, res: ttm_resource): void {
  if (pos.last === res) return;
  if (pos.first === res) pos.first = nextResource(res);
  linkAfter(res.lru.link, pos.last!.lru.link);
  pos.last = res;
}

/** ttm_lru_bulk_move_add(). */
function bulkMoveAdd(bulk: ttm_lru_bulk_move, res: ttm_resource, site: Site): void {
  const pos = bulkPos(bulk, res);
  if (pos.first === null) {
    pos.first = res;
    pos.last = res;
    return;
  }
  if (pos.first.bo!.base.resv !== res.bo!.base.resv) {
    res.bo!.bdev.k.warn(site, "WARN_ON(pos->first->bo->base.resv != res->bo->base.resv)");
  }
  bulkPosTail(pos, res);
}

/** ttm_lru_bulk_move_del(). */
function bulkMoveDel(bulk: ttm_lru_bulk_move, res: ttm_resource, site: Site): void {
  const pos = bulkPos(bulk, res);
  if (pos.first === null || pos.last === null) {
    res.bo!.bdev.k.warn(site, "WARN_ON(!pos->first || !pos->last)");
    pos.first = null;
    pos.last = null;
  } else if (pos.first === res && pos.last === res) {
    pos.first = null;
    pos.last = null;
  } else if (pos.first === res) {
    pos.first = nextResource(res);
  } else if (pos.last === res) {
    pos.last = prevResource(res);
  } else {
    linkAfter(res.lru.link, pos.last.lru.link);
  }
}

/** ttm_resource_add_bulk_move(): puts `res` at the end of its bulk range. Caller holds lru_lock. */
export function ttm_resource_add_bulk_move(
  res: ttm_resource,
  bo: ttm_buffer_object,
  site: Site,
): void {
  assert_spin_locked(bo.bdev.lru_lock, site);
  if (bo.bulk_move !== null && !ttm_resource_unevictable(res, bo))
    bulkMoveAdd(bo.bulk_move, res, site);
}

/** ttm_resource_del_bulk_move(): takes `res` out of its bulk range. Caller holds lru_lock. */
export function ttm_resource_del_bulk_move(
  res: ttm_resource,
  bo: ttm_buffer_object,
  site: Site,
): void {
  assert_spin_locked(bo.bdev.lru_lock, site);
  if (bo.bulk_move !== null && !ttm_resource_unevictable(res, bo))
    bulkMoveDel(bo.bulk_move, res, site);
}

/**
 * ttm_resource_del_bulk_move_unevictable(): as ttm_resource_del_bulk_move, for a resource that
 * has just become unevictable (swapped) and so must leave the range regardless (the 2026 fix
 * for the endless swapout walk). Caller holds lru_lock.
 */
export function ttm_resource_del_bulk_move_unevictable(
  res: ttm_resource,
  bo: ttm_buffer_object,
  site: Site,
): void {
  assert_spin_locked(bo.bdev.lru_lock, site);
  if (bo.bulk_move !== null && bo.pin_count === 0) bulkMoveDel(bo.bulk_move, res, site);
}

/**
 * ttm_resource_move_to_lru_tail(): a resource that was just used goes to the tail of its LRU,
 * to the end of its bulk range, or to `unevictable` when pinned or swapped. Caller holds
 * lru_lock.
 */
export function ttm_resource_move_to_lru_tail(res: ttm_resource, site: Site): void {
  const bo = res.bo!;
  const bdev = bo.bdev;
  assert_spin_locked(bdev.lru_lock, site);
  if (ttm_resource_unevictable(res, bo)) {
    list_move_tail(res.lru.link, bdev.unevictable);
  } else if (bo.bulk_move !== null) {
    bulkPosTail(bulkPos(bo.bulk_move, res), res);
  } else {
    list_move_tail(res.lru.link, resourceManager(bdev, res).lru[bo.priority]!);
  }
}

/**
 * ttm_resource_init(): fills `res` for `bo` in `place` and puts it on the LRU (or
 * `unevictable`), accounting its size. Takes lru_lock.
 */
export function* ttm_resource_init(
  bo: ttm_buffer_object,
  place: ttm_place,
  res: ttm_resource,
): Gen {
  const site = "ttm_resource_init";
  res.start = 0;
  res.size = bo.base.size;
  res.mem_type = place.mem_type;
  res.placement = place.flags;
  res.bus.addr = null;
  res.bus.offset = 0;
  res.bus.is_iomem = false;
  res.bus.caching = "cached";
  res.bo = bo;
  const bdev = bo.bdev;
  const man = bdev.man_drv[place.mem_type]!;
  yield* spin_lock(bdev.lru_lock, site);
  if (bo.pin_count > 0) list_add_tail(res.lru.link, bdev.unevictable);
  else list_add_tail(res.lru.link, man.lru[bo.priority]!);
  man.usage += res.size;
  yield* spin_unlock(bdev.lru_lock, site);
}

/** ttm_resource_fini(): takes `res` off its list and un-accounts it. Takes lru_lock. */
export function* ttm_resource_fini(man: ttm_resource_manager, res: ttm_resource): Gen {
  const site = "ttm_resource_fini";
  yield* spin_lock(man.bdev.lru_lock, site);
  list_del_init(res.lru.link);
  man.usage -= res.size;
  yield* spin_unlock(man.bdev.lru_lock, site);
}

/**
 * ttm_resource_alloc(): asks the manager of `place` for a resource and adds it to the BO's bulk
 * range. Returns the resource or a negative errno (-ENOSPC when the manager is full).
 */
export function* ttm_resource_alloc(bo: ttm_buffer_object, place: ttm_place): Gen<AllocResult> {
  const man = bo.bdev.man_drv[place.mem_type]!;
  const res = yield* man.func.alloc(man, bo, place);
  if (typeof res === "number") return res;
  const site = "ttm_resource_alloc";
  yield* spin_lock(bo.bdev.lru_lock, site);
  ttm_resource_add_bulk_move(res, bo, site);
  yield* spin_unlock(bo.bdev.lru_lock, site);
  return res;
}

/** ttm_resource_free(): takes a resource out of the bulk range and gives it back to its manager. */
export function* ttm_resource_free(bo: ttm_buffer_object, res: ttm_resource | null): Gen {
  if (res === null) return;
  const site = "ttm_resource_free";
  yield* spin_lock(bo.bdev.lru_lock, site);
  ttm_resource_del_bulk_move(res, bo, site);
  yield* spin_unlock(bo.bdev.lru_lock, site);
  const man = resourceManager(bo.bdev, res);
  yield* man.func.free(man, res);
}

/** ttm_resource_intersects(). */
export function ttm_resource_intersects(
  bdev: ttm_device,
  res: ttm_resource,
  place: ttm_place | null,
  size: number,
): boolean {
  if (place === null) return true;
  const man = resourceManager(bdev, res);
  return man.func.intersects === undefined ? true : man.func.intersects(man, res, place, size);
}

/**
 * ttm_resource_compatible(): whether `res` satisfies `placement` in this pass. TEMPORARY
 * resources never are; DESIRED places count only in the first pass and FALLBACK places only in
 * the second (`evicting` true).
 */
export function ttm_resource_compatible(
  res: ttm_resource | null,
  placement: ttm_placement,
  evicting: boolean,
): boolean {
  if (res === null || placement.placement.length === 0) return false;
  if (res.placement & TTM_PL_FLAG_TEMPORARY) return false;
  const bo = res.bo!;
  const man = resourceManager(bo.bdev, res);
  for (const place of placement.placement) {
    if (res.mem_type !== place.mem_type) continue;
    if (place.flags & (evicting ? TTM_PL_FLAG_DESIRED : TTM_PL_FLAG_FALLBACK)) continue;
    if (place.flags & TTM_PL_FLAG_CONTIGUOUS && !(res.placement & TTM_PL_FLAG_CONTIGUOUS)) continue;
    if (man.func.compatible !== undefined && !man.func.compatible(man, res, place, bo.base.size))
      continue;
    return true;
  }
  return false;
}

/** struct ttm_resource_cursor: a walk over one manager's LRUs that can drop lru_lock. */
export class ttm_resource_cursor {
  readonly hitch = new ttm_lru_item("hitch", null);
  priority = 0;
  /** The bulk move whose range the hitch is inside, if any. */
  bulk: ttm_lru_bulk_move | null = null;

  constructor(readonly man: ttm_resource_manager) {}
}

function clearCursorBulk(cursor: ttm_resource_cursor): void {
  cursor.bulk?.cursors.delete(cursor);
  cursor.bulk = null;
}

/** ttm_resource_cursor_fini(): removes the hitch. Caller holds lru_lock. */
export function ttm_resource_cursor_fini(cursor: ttm_resource_cursor): void {
  if (list_is_linked(cursor.hitch.link)) list_del_init(cursor.hitch.link);
  clearCursorBulk(cursor);
}

/**
 * ttm_resource_manager_first(): starts a walk at the least recently used resource of the
 * lowest priority. Caller holds lru_lock.
 */
export function ttm_resource_manager_first(cursor: ttm_resource_cursor): ttm_resource | null {
  ttm_resource_cursor_fini(cursor);
  cursor.priority = 0;
  linkAfter(cursor.hitch.link, cursor.man.lru[0]!);
  return ttm_resource_manager_next(cursor);
}

/**
 * ttm_resource_manager_next(): the next resource after the hitch, moving the hitch past it and
 * registering the cursor with the resource's bulk move; continues with the next priority at the
 * end of a list. Caller holds lru_lock.
 */
export function ttm_resource_manager_next(cursor: ttm_resource_cursor): ttm_resource | null {
  for (;;) {
    const head = cursor.man.lru[cursor.priority]!;
    let e = cursor.hitch.link.next;
    while (e !== head && e.owner?.type !== "resource") e = e.next;
    if (e !== head) {
      linkAfter(cursor.hitch.link, e);
      const res = e.owner!.res!;
      const bulk = res.bo?.bulk_move ?? null;
      if (bulk !== cursor.bulk) {
        clearCursorBulk(cursor);
        if (bulk !== null) {
          cursor.bulk = bulk;
          bulk.cursors.add(cursor);
        }
      }
      return res;
    }
    if (++cursor.priority >= TTM_MAX_BO_PRIORITY) {
      ttm_resource_cursor_fini(cursor);
      return null;
    }
    linkAfter(cursor.hitch.link, cursor.man.lru[cursor.priority]!);
  }
}

/** Every resource on a manager's LRUs, in walk order (for tests and checkers). */
export function lruResources(man: ttm_resource_manager): ttm_resource[] {
  const out: ttm_resource[] = [];
  for (const head of man.lru) {
    for (let e = head.next; e !== head; e = e.next)
      if (e.owner?.type === "resource") out.push(e.owner.res!);
  }
  return out;
}

/** Whether all LRUs of the manager are empty. */
export function lruEmpty(man: ttm_resource_manager): boolean {
  return man.lru.every((head) => list_empty(head));
}
