// The system memory manager (drivers/gpu/drm/ttm/ttm_sys_manager.c): always present at
// TTM_PL_SYSTEM, tt-backed, with no size limit, so allocation never fails.

import type { Gen } from "../kernel/sched.js";
import type { ttm_buffer_object } from "./ttm_bo.js";
import type { ttm_device } from "./ttm_device.js";
import { TTM_PL_SYSTEM, type ttm_place } from "./ttm_placement.js";
import {
  type AllocResult,
  ttm_resource,
  ttm_resource_fini,
  ttm_resource_init,
  ttm_resource_manager,
  ttm_resource_manager_init,
  ttm_resource_manager_set_used,
} from "./ttm_resource.js";

function* ttm_sys_man_alloc(
  _man: ttm_resource_manager,
  bo: ttm_buffer_object,
  place: ttm_place,
): Gen<AllocResult> {
  const res = new ttm_resource();
  yield* ttm_resource_init(bo, place, res);
  return res;
}

function* ttm_sys_man_free(man: ttm_resource_manager, res: ttm_resource): Gen {
  yield* ttm_resource_fini(man, res);
}

/** ttm_sys_man_init(): installs the system manager of `bdev`. */
export function ttm_sys_man_init(bdev: ttm_device): void {
  const man = new ttm_resource_manager(
    bdev,
    { alloc: ttm_sys_man_alloc, free: ttm_sys_man_free },
    TTM_PL_SYSTEM,
    `${bdev.name}.sysman`,
  );
  ttm_resource_manager_init(man, 0);
  man.use_tt = true;
  ttm_resource_manager_set_used(man, true);
  bdev.sysman = man;
  bdev.man_drv[TTM_PL_SYSTEM] = man;
}
