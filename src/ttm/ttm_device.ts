// struct ttm_device and the TTM global state (drivers/gpu/drm/ttm/ttm_device.c,
// include/drm/ttm/ttm_device.h): the driver callbacks, the system manager, the per-type
// manager table, the LRU lock, the unevictable list, the device's address_space used for
// unmapping, the page pool, the delayed-delete workqueue, and global swapout under page
// pressure.
//
// Left out: DMA32 limits, hibernation preparation, the pool shrinker registration.

import { EINVAL } from "../kernel/errno.js";
import type { address_space } from "../kernel/fs.js";
import type { Kernel } from "../kernel/kernel.js";
import type { Gen } from "../kernel/sched.js";
import { spinlock_t } from "../kernel/spinlock.js";
import { alloc_workqueue, type workqueue_struct } from "../kernel/workqueue.js";
import type { drm_vma_offset_manager } from "./drm_vma_manager.js";
import { list_head } from "./list.js";
import type { ttm_buffer_object, ttm_operation_ctx } from "./ttm_bo.js";
import { ttm_bo_swapout } from "./ttm_bo.js";
import { CLASS_TTM } from "./ttm_classes.js";
import {
  TTM_NUM_MEM_TYPES,
  TTM_PL_SYSTEM,
  type ttm_place,
  type ttm_placement,
} from "./ttm_placement.js";
import { NUMA_NO_NODE, type ttm_pool, ttm_pool_fini, ttm_pool_init } from "./ttm_pool.js";
import type { ttm_lru_item, ttm_resource, ttm_resource_manager } from "./ttm_resource.js";
import { ttm_resource_manager_set_used } from "./ttm_resource.js";
import { ttm_sys_man_init } from "./ttm_sys_manager.js";
import type { ttm_tt } from "./ttm_tt.js";

/** The hop a driver's move asks for when it returns -EMULTIHOP. */
export interface ttm_hop {
  place: ttm_place | null;
}

/** struct ttm_device_funcs: the driver's callbacks. */
export interface ttm_device_funcs {
  ttm_tt_create(bo: ttm_buffer_object, page_flags: number): ttm_tt | null;
  ttm_tt_populate?(bdev: ttm_device, tt: ttm_tt, ctx: ttm_operation_ctx): Gen<number>;
  ttm_tt_unpopulate?(bdev: ttm_device, tt: ttm_tt): Gen;
  ttm_tt_destroy(bdev: ttm_device, tt: ttm_tt): void;
  /** Whether evicting `bo` would make room for `place`; ttm_bo_eviction_valuable when absent. */
  eviction_valuable?(bo: ttm_buffer_object, place: ttm_place): boolean;
  /** Where an evicted `bo` should go. */
  evict_flags(bo: ttm_buffer_object): ttm_placement;
  /**
   * Moves `bo` to `new_mem`, ending with new_mem as the BO's resource; or returns -EMULTIHOP
   * with `hop.place` set. Caller holds the BO's resv.
   */
  move(
    bo: ttm_buffer_object,
    evict: boolean,
    ctx: ttm_operation_ctx,
    new_mem: ttm_resource,
    hop: ttm_hop,
  ): Gen<number>;
  delete_mem_notify?(bo: ttm_buffer_object): void;
  swap_notify?(bo: ttm_buffer_object): void;
  /** Fills mem.bus for CPU access; 0 or a negative errno. */
  io_mem_reserve?(bdev: ttm_device, mem: ttm_resource): number;
  io_mem_free?(bdev: ttm_device, mem: ttm_resource): void;
  io_mem_pfn?(bo: ttm_buffer_object, page_offset: number): number;
  release_notify?(bo: ttm_buffer_object): void;
}

/** struct ttm_device. */
export class ttm_device {
  funcs!: ttm_device_funcs;
  sysman!: ttm_resource_manager;
  readonly man_drv: (ttm_resource_manager | null)[] = new Array<ttm_resource_manager | null>(
    TTM_NUM_MEM_TYPES,
  ).fill(null);
  readonly lru_lock: spinlock_t;
  /** Pinned and swapped resources. Protected by lru_lock. */
  readonly unevictable = new list_head<ttm_lru_item>();
  dev_mapping: address_space | null = null;
  vma_manager: drm_vma_offset_manager | null = null;
  pool!: ttm_pool;
  /** The "ttm" workqueue that runs delayed BO destruction. */
  wq: workqueue_struct | null = null;
  alloc_flags = 0;
  /** drm_dev_unplug() happened: faults map the dummy page (drm_dev_enter fails). */
  unplugged = false;
  /** Pages a fault inserts at most (TTM_BO_VM_NUM_PREFAULT, a driver may pass less). */
  numPrefault = 16;
  /**
   * Whether the move core zaps user mappings before every move (modern TTM: always). A driver
   * modelling the 2006 lock-all-mmap design clears and remaps PTEs itself and turns this off.
   */
  unmapOnMove = true;

  constructor(
    readonly k: Kernel,
    readonly name: string,
  ) {
    this.lru_lock = new spinlock_t(k, `${name}.lru_lock`, CLASS_TTM.lru_lock);
  }
}

/** Global TTM state of one kernel (struct ttm_global plus the page accounting of ttm_tt.c). */
export interface TtmGlobal {
  readonly devices: ttm_device[];
  /** ttm_pages_limit: pages tts may hold before global swapout starts (half of RAM). */
  pages_limit: number;
  pages_allocated: number;
  /** Pages the simulated shmem can hold; swapout fails with -ENOMEM beyond it. */
  swap_pages_limit: number;
  swap_pages_used: number;
  /** Round-robin position of ttm_global_swapout. */
  nextSwapDevice: number;
}

const globals = new WeakMap<Kernel, TtmGlobal>();

/** The TTM global state of `k`, created on first use. */
export function ttmGlobal(k: Kernel): TtmGlobal {
  let glob = globals.get(k);
  if (glob === undefined) {
    glob = {
      devices: [],
      pages_limit: Math.floor(k.mem.config.system / 2),
      pages_allocated: 0,
      swap_pages_limit: Number.POSITIVE_INFINITY,
      swap_pages_used: 0,
      nextSwapDevice: 0,
    };
    globals.set(k, glob);
  }
  return glob;
}

/**
 * ttm_device_init(): sets up `bdev` with the driver's callbacks, the system manager and the
 * page pool. Returns 0, or -EINVAL without a vma offset manager.
 */
export function ttm_device_init(
  bdev: ttm_device,
  funcs: ttm_device_funcs,
  mapping: address_space,
  vma_manager: drm_vma_offset_manager | null,
  alloc_flags: number,
): number {
  if (vma_manager === null) return -EINVAL;
  bdev.funcs = funcs;
  bdev.dev_mapping = mapping;
  bdev.vma_manager = vma_manager;
  bdev.alloc_flags = alloc_flags;
  bdev.wq = alloc_workqueue(bdev.k, "ttm");
  ttm_sys_man_init(bdev);
  bdev.pool = ttm_pool_init(bdev.k, bdev, NUMA_NO_NODE, alloc_flags);
  ttmGlobal(bdev.k).devices.push(bdev);
  return 0;
}

/**
 * ttm_device_fini(): tears the device down; its managers must be empty. It takes the device off
 * the global list, then drains and destroys its workqueue (delayed destroys still queued run to
 * the end) before the pool goes.
 */
export function* ttm_device_fini(bdev: ttm_device): Gen {
  const man = bdev.man_drv[TTM_PL_SYSTEM]!;
  ttm_resource_manager_set_used(man, false);
  bdev.man_drv[TTM_PL_SYSTEM] = null;
  const glob = ttmGlobal(bdev.k);
  const i = glob.devices.indexOf(bdev);
  if (i >= 0) glob.devices.splice(i, 1);
  if (bdev.wq !== null) {
    yield* bdev.wq.destroy("ttm_device_fini");
    bdev.wq = null;
  }
  ttm_pool_fini(bdev.pool);
}

/** ttm_set_driver_manager(). */
export function ttm_set_driver_manager(
  bdev: ttm_device,
  type: number,
  man: ttm_resource_manager | null,
): void {
  bdev.man_drv[type] = man;
}

/** ttm_manager_type(). */
export function ttm_manager_type(bdev: ttm_device, type: number): ttm_resource_manager | null {
  return bdev.man_drv[type] ?? null;
}

/**
 * ttm_device_swapout(): swaps out one BO of a tt-backed manager of `bdev`. Returns the number
 * of pages swapped out, 0 when nothing could be, or a negative errno.
 */
export function* ttm_device_swapout(bdev: ttm_device, ctx: ttm_operation_ctx): Gen<number> {
  for (const man of bdev.man_drv) {
    if (man === null || !man.use_tt || !man.use_type) continue;
    const lret = yield* ttm_bo_swapout(bdev, ctx, man, 1);
    if (lret !== 0) return lret;
  }
  return 0;
}

/** ttm_global_swapout(): asks the devices in turn to swap something out. */
export function* ttm_global_swapout(k: Kernel, ctx: ttm_operation_ctx): Gen<number> {
  const glob = ttmGlobal(k);
  const n = glob.devices.length;
  for (let i = 0; i < n; i++) {
    const bdev = glob.devices[(glob.nextSwapDevice + i) % n]!;
    const ret = yield* ttm_device_swapout(bdev, ctx);
    if (ret > 0) {
      glob.nextSwapDevice = (glob.nextSwapDevice + i + 1) % n;
      return ret;
    }
    if (ret < 0) return ret;
  }
  return 0;
}
