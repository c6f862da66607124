// The mock resource managers of the upstream TTM KUnit tests
// (drivers/gpu/drm/ttm/tests/ttm_mock_manager.c): the mock manager, the bad manager (allocation
// always -ENOSPC, every resource compatible) and the busy manager (allocation always -EBUSY).
//
// ADAPTED: upstream's mock manager hands out drm_buddy blocks (page size 4 KiB) over `size`
// bytes. We have no drm_buddy; this one allocates one drm_mm node of PFN_UP(size) pages out of a
// drm_mm of PFN_UP(man.size) pages (src/drm_mm/drm_mm.ts), which is always contiguous, so
// CONTIGUOUS needs no extra work and TOPDOWN maps to DRM_MM_INSERT_HIGH (buddy's
// DRM_BUDDY_TOPDOWN_ALLOCATION). As upstream: man.size is in bytes, use_tt is true, there are no
// intersects/compatible callbacks, the BO's page_alignment is ignored, res.start stays 0 and the
// resource keeps the place flags it was allocated with. A buddy allocator could satisfy a
// request from scattered blocks where one drm_mm hole is too small; no case of the suites
// depends on that (their managers are either filled by whole BOs or freed by evicting one).

import {
  DRM_MM_INSERT_BEST,
  DRM_MM_INSERT_HIGH,
  drm_mm,
  drm_mm_init,
  drm_mm_insert_node_in_range,
  drm_mm_node,
  drm_mm_remove_node,
  drm_mm_takedown,
} from "../../src/drm_mm/drm_mm.js";
import { BUG } from "../../src/kernel/bug.js";
import { EBUSY, ENOSPC } from "../../src/kernel/errno.js";
import { lockClass } from "../../src/kernel/lockdep.js";
import { mutex, mutex_lock, mutex_unlock } from "../../src/kernel/mutex.js";
import type { Gen } from "../../src/kernel/sched.js";
import type { ttm_buffer_object } from "../../src/ttm/ttm_bo.js";
import { ttm_resource_manager_evict_all } from "../../src/ttm/ttm_bo.js";
import {
  type ttm_device,
  ttm_manager_type,
  ttm_set_driver_manager,
} from "../../src/ttm/ttm_device.js";
import { TTM_PL_FLAG_TOPDOWN, type ttm_place } from "../../src/ttm/ttm_placement.js";
import {
  type AllocResult,
  PFN_UP,
  ttm_resource,
  ttm_resource_fini,
  ttm_resource_init,
  ttm_resource_manager,
  type ttm_resource_manager_func,
  ttm_resource_manager_init,
  ttm_resource_manager_set_used,
} from "../../src/ttm/ttm_resource.js";

const CLASS_MOCK_MANAGER = lockClass("&manager->lock");

/** struct ttm_mock_manager. */
export class ttm_mock_manager extends ttm_resource_manager {
  /** Stands in for upstream's drm_buddy; in pages. */
  readonly mm = new drm_mm();
  readonly lock: mutex;

  constructor(bdev: ttm_device, mem_type: number) {
    super(bdev, ttm_mock_manager_funcs, mem_type, `${bdev.name}.mock${mem_type}`);
    this.lock = new mutex(bdev.k, `${bdev.name}.mock${mem_type}.lock`, CLASS_MOCK_MANAGER);
  }
}

/** The drm_mm node of a mock resource (struct ttm_mock_resource's blocks). */
function mockNode(res: ttm_resource): drm_mm_node {
  const node = res.mgrPriv;
  if (!(node instanceof drm_mm_node)) BUG("ttm_mock_manager", "resource without a node");
  return node;
}

function* ttm_mock_manager_alloc(
  man: ttm_resource_manager,
  bo: ttm_buffer_object,
  place: ttm_place,
): Gen<AllocResult> {
  const manager = man as ttm_mock_manager;
  const res = new ttm_resource();
  const node = new drm_mm_node();
  yield* ttm_resource_init(bo, place, res);
  const mode = place.flags & TTM_PL_FLAG_TOPDOWN ? DRM_MM_INSERT_HIGH : DRM_MM_INSERT_BEST;
  yield* mutex_lock(manager.lock, "ttm_mock_manager_alloc");
  const err = drm_mm_insert_node_in_range(
    manager.mm,
    node,
    PFN_UP(res.size),
    0,
    0,
    0,
    PFN_UP(man.size),
    mode,
  );
  if (err !== 0) {
    yield* ttm_resource_fini(man, res);
    yield* mutex_unlock(manager.lock, "ttm_mock_manager_alloc");
    return err;
  }
  yield* mutex_unlock(manager.lock, "ttm_mock_manager_alloc");
  res.mgrPriv = node;
  return res;
}

function* ttm_mock_manager_free(man: ttm_resource_manager, res: ttm_resource): Gen {
  const manager = man as ttm_mock_manager;
  yield* mutex_lock(manager.lock, "ttm_mock_manager_free");
  drm_mm_remove_node(mockNode(res));
  yield* mutex_unlock(manager.lock, "ttm_mock_manager_free");
  yield* ttm_resource_fini(man, res);
}

const ttm_mock_manager_funcs: ttm_resource_manager_func = {
  alloc: ttm_mock_manager_alloc,
  free: ttm_mock_manager_free,
};

/** ttm_mock_manager_init(): a mock manager of `size` bytes for `mem_type`, in use. Returns 0. */
export function ttm_mock_manager_init(bdev: ttm_device, mem_type: number, size: number): number {
  const manager = new ttm_mock_manager(bdev, mem_type);
  drm_mm_init(manager.mm, 0, PFN_UP(size));
  manager.use_tt = true;
  ttm_resource_manager_init(manager, size);
  ttm_set_driver_manager(bdev, mem_type, manager);
  ttm_resource_manager_set_used(manager, true);
  return 0;
}

/** ttm_mock_manager_fini(): evicts everything, then takes the manager down. */
export function* ttm_mock_manager_fini(bdev: ttm_device, mem_type: number): Gen {
  const man = ttm_manager_type(bdev, mem_type);
  if (!(man instanceof ttm_mock_manager)) BUG("ttm_mock_manager_fini", "not a mock manager");
  const err = yield* ttm_resource_manager_evict_all(bdev, man);
  if (err !== 0) return;
  ttm_resource_manager_set_used(man, false);
  yield* mutex_lock(man.lock, "ttm_mock_manager_fini");
  drm_mm_takedown(man.mm);
  yield* mutex_unlock(man.lock, "ttm_mock_manager_fini");
  ttm_set_driver_manager(bdev, mem_type, null);
}

function* ttm_bad_manager_alloc(): Gen<AllocResult> {
  return -ENOSPC;
}

function* ttm_busy_manager_alloc(): Gen<AllocResult> {
  return -EBUSY;
}

function* ttm_bad_manager_free(): Gen {}

function ttm_bad_manager_compatible(): boolean {
  return true;
}

const ttm_bad_manager_funcs: ttm_resource_manager_func = {
  alloc: ttm_bad_manager_alloc,
  free: ttm_bad_manager_free,
  compatible: ttm_bad_manager_compatible,
};

const ttm_bad_busy_manager_funcs: ttm_resource_manager_func = {
  alloc: ttm_busy_manager_alloc,
  free: ttm_bad_manager_free,
  compatible: ttm_bad_manager_compatible,
};

function badManager(
  bdev: ttm_device,
  mem_type: number,
  size: number,
  funcs: ttm_resource_manager_func,
): number {
  const man = new ttm_resource_manager(bdev, funcs, mem_type, `${bdev.name}.bad${mem_type}`);
  ttm_resource_manager_init(man, size);
  ttm_set_driver_manager(bdev, mem_type, man);
  ttm_resource_manager_set_used(man, true);
  return 0;
}

/** ttm_bad_manager_init(): a manager whose allocations always fail with -ENOSPC. */
export function ttm_bad_manager_init(bdev: ttm_device, mem_type: number, size: number): number {
  return badManager(bdev, mem_type, size, ttm_bad_manager_funcs);
}

/** ttm_busy_manager_init(): a manager whose allocations always fail with -EBUSY. */
export function ttm_busy_manager_init(bdev: ttm_device, mem_type: number, size: number): number {
  return badManager(bdev, mem_type, size, ttm_bad_busy_manager_funcs);
}

/** ttm_bad_manager_fini(). */
export function ttm_bad_manager_fini(bdev: ttm_device, mem_type: number): void {
  const man = ttm_manager_type(bdev, mem_type);
  if (man !== null) ttm_resource_manager_set_used(man, false);
  ttm_set_driver_manager(bdev, mem_type, null);
}
