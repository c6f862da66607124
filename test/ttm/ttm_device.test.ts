// Suite ttm_device (drivers/gpu/drm/ttm/tests/ttm_device_test.c): init = basic devices only.
import { describe, expect, it } from "vitest";
import { EINVAL } from "../../src/kernel/errno.js";
import { list_empty } from "../../src/ttm/list.js";
import { ttm_device_fini, ttm_manager_type, ttmGlobal } from "../../src/ttm/ttm_device.js";
import { TTM_CACHINGS, TTM_PL_SYSTEM } from "../../src/ttm/ttm_placement.js";
import {
  NR_PAGE_ORDERS,
  TTM_ALLOCATION_POOL_USE_DMA_ALLOC,
  TTM_ALLOCATION_POOL_USE_DMA32,
} from "../../src/ttm/ttm_pool.js";
import {
  newTtmDevice,
  runTask,
  ttm_dev_funcs,
  ttm_device_kunit_init,
  ttm_test_devices_basic,
} from "./ttm_kunit_helpers.js";

describe("ttm_device", () => {
  it("ttm_device_init_basic", () => {
    const priv = ttm_test_devices_basic();
    const ttm_dev = newTtmDevice(priv);
    expect(ttm_device_kunit_init(priv, ttm_dev, 0)).toBe(0);

    expect(ttm_dev.funcs).toBe(ttm_dev_funcs);
    expect(ttm_dev.wq).not.toBeNull();
    expect(ttm_dev.man_drv[TTM_PL_SYSTEM]).not.toBeNull();

    const ttm_sys_man = ttm_dev.sysman;
    expect(ttm_sys_man).toBeDefined();
    expect(ttm_sys_man.use_tt).toBe(true);
    expect(ttm_sys_man.use_type).toBe(true);
    expect(ttm_sys_man.func).toBeDefined();

    expect(ttm_dev.dev_mapping).toBe(priv.drm.anon_inode_mapping);

    runTask(priv.k, () => ttm_device_fini(ttm_dev));
  });

  it("ttm_device_init_multiple", () => {
    const priv = ttm_test_devices_basic();
    const num_dev = 3;
    const ttm_devs = Array.from({ length: num_dev }, () => newTtmDevice(priv));

    for (const ttm_dev of ttm_devs) {
      expect(ttm_device_kunit_init(priv, ttm_dev, 0)).toBe(0);
      expect(ttm_dev.dev_mapping).toBe(priv.drm.anon_inode_mapping);
      expect(ttm_dev.wq).not.toBeNull();
      expect(ttm_dev.funcs).toBe(ttm_dev_funcs);
      expect(ttm_dev.man_drv[TTM_PL_SYSTEM]).not.toBeNull();
    }

    // Upstream counts the nodes of the global device list from the first device's node (the
    // other two devices and the list head); here the global list is an array.
    expect(ttmGlobal(priv.k).devices).toEqual(ttm_devs);
    expect(ttmGlobal(priv.k).devices.length).toBe(num_dev);

    runTask(priv.k, function* () {
      for (const ttm_dev of ttm_devs) yield* ttm_device_fini(ttm_dev);
    });
  });

  it("ttm_device_fini_basic", () => {
    const priv = ttm_test_devices_basic();
    const ttm_dev = newTtmDevice(priv);
    expect(ttm_device_kunit_init(priv, ttm_dev, 0)).toBe(0);

    const man = ttm_manager_type(ttm_dev, TTM_PL_SYSTEM);
    expect(man).not.toBeNull();

    runTask(priv.k, () => ttm_device_fini(ttm_dev));

    expect(man!.use_type).toBe(false);
    expect(list_empty(man!.lru[0]!)).toBe(true);
    expect(ttm_dev.man_drv[TTM_PL_SYSTEM]).toBeNull();
  });

  it("ttm_device_fini drains the workqueue: queued work runs, then the worker exits", () => {
    // Not an upstream case: upstream's ttm_device_fini calls drain_workqueue and
    // destroy_workqueue, so delayed destroys still queued are finished before the pool goes.
    const priv = ttm_test_devices_basic();
    const ttm_dev = newTtmDevice(priv);
    expect(ttm_device_kunit_init(priv, ttm_dev, 0)).toBe(0);
    const wq = ttm_dev.wq!;
    const ran: string[] = [];
    runTask(priv.k, function* () {
      yield* wq.queue(
        "first",
        function* () {
          ran.push("first");
          // Work queued by work is drained too.
          yield* wq.queue(
            "chained",
            function* () {
              ran.push("chained");
            },
            "test",
          );
        },
        "test",
      );
      yield* ttm_device_fini(ttm_dev);
      expect(ran).toEqual(["first", "chained"]);
    });
    expect(ttm_dev.wq).toBeNull();
    expect(wq.worker.state).toBe("done");
  });

  it("ttm_device_init_no_vma_man", () => {
    const priv = ttm_test_devices_basic();
    const ttm_dev = newTtmDevice(priv);

    // Let's pretend there's no VMA manager allocated.
    const vma_man = priv.drm.vma_offset_manager;
    priv.drm.vma_offset_manager = null;

    expect(ttm_device_kunit_init(priv, ttm_dev, 0)).toBe(-EINVAL);

    // Bring the manager back for a graceful cleanup.
    priv.drm.vma_offset_manager = vma_man;
  });

  const ttm_device_cases = [
    {
      description: "No DMA allocations, no DMA32 required",
      alloc_flags: 0,
      pools_init_expected: false,
    },
    {
      description: "DMA allocations, DMA32 required",
      alloc_flags: TTM_ALLOCATION_POOL_USE_DMA_ALLOC | TTM_ALLOCATION_POOL_USE_DMA32,
      pools_init_expected: true,
    },
    {
      description: "No DMA allocations, DMA32 required",
      alloc_flags: TTM_ALLOCATION_POOL_USE_DMA32,
      pools_init_expected: false,
    },
    {
      description: "DMA allocations, no DMA32 required",
      alloc_flags: TTM_ALLOCATION_POOL_USE_DMA_ALLOC,
      pools_init_expected: true,
    },
  ];

  it.each(ttm_device_cases)("ttm_device_init_pools: $description", (params) => {
    const priv = ttm_test_devices_basic();
    const ttm_dev = newTtmDevice(priv);
    expect(ttm_device_kunit_init(priv, ttm_dev, params.alloc_flags)).toBe(0);

    const pool = ttm_dev.pool;
    expect(pool).toBeDefined();
    // ADAPTED: upstream checks pool->dev == the DRM device's struct device. Our
    // ttm_device_init() takes no struct device, so the device pool's dev is the ttm_device.
    expect(pool.dev).toBe(ttm_dev);
    expect(pool.alloc_flags).toBe(params.alloc_flags);

    if (params.pools_init_expected) {
      for (let i = 0; i < TTM_CACHINGS.length; ++i) {
        for (let j = 0; j < NR_PAGE_ORDERS; ++j) {
          const pt = pool.caching[i]!.orders[j]!;
          expect(pt.pool).toBe(pool);
          expect(TTM_CACHINGS.indexOf(pt.caching)).toBe(i);
          expect(pt.order).toBe(j);
          // Upstream asserts on a struct copy that the page list head was initialised; ours is
          // an (empty) array as soon as the type exists.
          expect(pt.pages).toEqual([]);
        }
      }
    }

    runTask(priv.k, () => ttm_device_fini(ttm_dev));
  });
});
