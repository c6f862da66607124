// The generic range manager (drivers/gpu/drm/ttm/ttm_range_manager.c) over drm_mm: best-fit
// (or top-down) insertion of PFN_UP(size) pages aligned to the BO's page alignment within
// [fpfn, lpfn or size), under the manager's spinlock. `intersects` is overlap with
// [fpfn, lpfn); `compatible` is "fully inside".
//
// The model also gives each allocated page frame its owner (the BO), and clears it on free, so
// the checkers can tell whose data a VRAM or aperture page holds.

import {
  DRM_MM_INSERT_BEST,
  DRM_MM_INSERT_HIGH,
  drm_mm,
  drm_mm_clean,
  drm_mm_init,
  drm_mm_insert_node_in_range,
  drm_mm_node,
  drm_mm_remove_node,
  drm_mm_takedown,
} from "../drm_mm/drm_mm.js";
import type { Gen } from "../kernel/sched.js";
import { spin_lock, spin_unlock, spinlock_t } from "../kernel/spinlock.js";
import type { ttm_buffer_object } from "./ttm_bo.js";
import { CLASS_TTM } from "./ttm_classes.js";
import type { ttm_device } from "./ttm_device.js";
import { TTM_PL_FLAG_CONTIGUOUS, TTM_PL_FLAG_TOPDOWN, type ttm_place } from "./ttm_placement.js";
import {
  type AllocResult,
  PFN_UP,
  ttm_resource,
  ttm_resource_fini,
  ttm_resource_init,
  ttm_resource_manager,
  ttm_resource_manager_init,
  ttm_resource_manager_set_used,
} from "./ttm_resource.js";

/** struct ttm_range_manager. */
export class ttm_range_manager extends ttm_resource_manager {
  readonly mm = new drm_mm();
  readonly lock: spinlock_t;
  /** Called with each page of an allocation when it changes hands (frame ownership). */
  onPages: ((res: ttm_resource, owner: string | null) => void) | null = null;

  constructor(bdev: ttm_device, mem_type: number, name: string) {
    super(
      bdev,
      {
        alloc: rangeAlloc,
        free: rangeFree,
        intersects: rangeIntersects,
        compatible: rangeCompatible,
      },
      mem_type,
      name,
    );
    this.lock = new spinlock_t(bdev.k, `${name}.lock`, CLASS_TTM.range_manager_lock);
  }
}

function* rangeAlloc(
  man: ttm_resource_manager,
  bo: ttm_buffer_object,
  place: ttm_place,
): Gen<AllocResult> {
  const rman = man as ttm_range_manager;
  const lpfn = place.lpfn === 0 ? man.size : place.lpfn;
  const res = new ttm_resource();
  const node = new drm_mm_node();
  yield* ttm_resource_init(bo, place, res);
  const mode = place.flags & TTM_PL_FLAG_TOPDOWN ? DRM_MM_INSERT_HIGH : DRM_MM_INSERT_BEST;
  yield* spin_lock(rman.lock, "ttm_range_man_alloc");
  const ret = drm_mm_insert_node_in_range(
    rman.mm,
    node,
    PFN_UP(res.size),
    bo.page_alignment,
    0,
    place.fpfn,
    lpfn,
    mode,
  );
  yield* spin_unlock(rman.lock, "ttm_range_man_alloc");
  if (ret !== 0) {
    yield* ttm_resource_fini(man, res);
    return ret;
  }
  res.start = node.start;
  res.mgrPriv = node;
  res.placement |= TTM_PL_FLAG_CONTIGUOUS;
  rman.onPages?.(res, bo.name);
  return res;
}

function* rangeFree(man: ttm_resource_manager, res: ttm_resource): Gen {
  const rman = man as ttm_range_manager;
  rman.onPages?.(res, null);
  yield* spin_lock(rman.lock, "ttm_range_man_free");
  drm_mm_remove_node(res.mgrPriv as drm_mm_node);
  yield* spin_unlock(rman.lock, "ttm_range_man_free");
  yield* ttm_resource_fini(man, res);
}

function rangeIntersects(
  _man: ttm_resource_manager,
  res: ttm_resource,
  place: ttm_place,
  size: number,
): boolean {
  const num_pages = PFN_UP(size);
  if (place.fpfn >= res.start + num_pages) return false;
  if (place.lpfn !== 0 && place.lpfn <= res.start) return false;
  return true;
}

function rangeCompatible(
  _man: ttm_resource_manager,
  res: ttm_resource,
  place: ttm_place,
  size: number,
): boolean {
  const num_pages = PFN_UP(size);
  if (res.start < place.fpfn) return false;
  if (place.lpfn !== 0 && place.lpfn < res.start + num_pages) return false;
  return true;
}

/** ttm_range_man_init(): a range manager of `p_size` pages for `type`, registered and in use. */
export function ttm_range_man_init(
  bdev: ttm_device,
  type: number,
  use_tt: boolean,
  p_size: number,
): ttm_range_manager {
  const rman = new ttm_range_manager(bdev, type, `${bdev.name}.${type}`);
  ttm_resource_manager_init(rman, p_size);
  rman.use_tt = use_tt;
  drm_mm_init(rman.mm, 0, p_size);
  bdev.man_drv[type] = rman;
  ttm_resource_manager_set_used(rman, true);
  return rman;
}

/** ttm_range_man_fini(): the manager must be empty (evict everything first). */
export function ttm_range_man_fini(bdev: ttm_device, type: number): void {
  const rman = bdev.man_drv[type] as ttm_range_manager;
  ttm_resource_manager_set_used(rman, false);
  if (drm_mm_clean(rman.mm)) drm_mm_takedown(rman.mm);
  bdev.man_drv[type] = null;
}
