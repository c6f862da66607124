// lockdep classes of the TTM locks, named as the kernel names them.
import { lockClass } from "../kernel/lockdep.js";

export const CLASS_TTM = {
  lru_lock: lockClass("&bdev->lru_lock"),
  eviction_lock: lockClass("&man->eviction_lock"),
  range_manager_lock: lockClass("&rman->lock"),
  vma_offset_lock: lockClass("&mgr->vm_lock"),
} as const;
