// Suite ttm_resource (drivers/gpu/drm/ttm/tests/ttm_resource_test.c): init = all devices;
// RES_SIZE = 4 KiB; the test manager has use_tt = false, empty funcs and 16 KiB.
import { afterEach, describe, expect, it } from "vitest";
import { BUG } from "../../src/kernel/bug.js";
import { dma_resv_lock, dma_resv_unlock } from "../../src/kernel/dma_resv.js";
import { list_empty, list_is_linked, list_is_singular } from "../../src/ttm/list.js";
import type { ttm_buffer_object } from "../../src/ttm/ttm_bo.js";
import { ttm_bo_pin, ttm_bo_unpin } from "../../src/ttm/ttm_bo.js";
import { ttm_manager_type, ttm_set_driver_manager } from "../../src/ttm/ttm_device.js";
import {
  TTM_MAX_BO_PRIORITY,
  TTM_NUM_MEM_TYPES,
  TTM_PL_FLAG_TOPDOWN,
  TTM_PL_SYSTEM,
  TTM_PL_VRAM,
  type ttm_place,
} from "../../src/ttm/ttm_placement.js";
import {
  ttm_resource,
  ttm_resource_alloc,
  ttm_resource_fini,
  ttm_resource_init,
  ttm_resource_manager,
  type ttm_resource_manager_func,
  ttm_resource_manager_init,
  ttm_resource_manager_set_used,
  ttm_resource_manager_usage,
} from "../../src/ttm/ttm_resource.js";
import {
  runTask,
  SZ_4K,
  SZ_16K,
  ttm_bo_kunit_init,
  ttm_place_kunit_init,
  type ttm_test_devices,
  ttm_test_devices_all,
  ttm_test_devices_put,
  ttmDev,
} from "./ttm_kunit_helpers.js";

const RES_SIZE = SZ_4K;
const TTM_PRIV_DUMMY_REG = TTM_NUM_MEM_TYPES - 1;

/**
 * ttm_resource_manager_mock_funcs: upstream's are empty (`{ }`), and no case calls them; ours
 * must be functions, so they oops if ever called.
 */
const ttm_resource_manager_mock_funcs: ttm_resource_manager_func = {
  *alloc() {
    BUG("ttm_resource_manager_mock_funcs", "alloc is NULL");
  },
  *free() {
    BUG("ttm_resource_manager_mock_funcs", "free is NULL");
  },
};

interface ttm_resource_test_priv {
  devs: ttm_test_devices;
  bo: ttm_buffer_object | null;
  place: ttm_place | null;
}

let priv: ttm_resource_test_priv | undefined;

function ttm_resource_test_init(): ttm_resource_test_priv {
  const p: ttm_resource_test_priv = { devs: ttm_test_devices_all(), bo: null, place: null };
  priv = p;
  return p;
}

afterEach(() => {
  if (priv !== undefined) ttm_test_devices_put(priv.devs);
  priv = undefined;
});

function ttm_init_test_mocks(
  p: ttm_resource_test_priv,
  mem_type: number,
  flags: number,
): { bo: ttm_buffer_object; place: ttm_place } {
  // Make sure we have what we need for a good BO mock.
  expect(p.devs.ttm_dev).not.toBeNull();
  const bo = ttm_bo_kunit_init(p.devs, RES_SIZE, null);
  const place = ttm_place_kunit_init(mem_type, flags);
  p.bo = bo;
  p.place = place;
  return { bo, place };
}

function ttm_init_test_manager(p: ttm_resource_test_priv, mem_type: number): void {
  const ttm_dev = ttmDev(p.devs);
  const man = new ttm_resource_manager(
    ttm_dev,
    ttm_resource_manager_mock_funcs,
    mem_type,
    `${ttm_dev.name}.test${mem_type}`,
  );
  man.use_tt = false;
  ttm_resource_manager_init(man, SZ_16K);
  ttm_set_driver_manager(ttm_dev, mem_type, man);
  ttm_resource_manager_set_used(man, true);
}

describe("ttm_resource", () => {
  const ttm_resource_cases = [
    { description: "Init resource in TTM_PL_SYSTEM", mem_type: TTM_PL_SYSTEM, flags: 0 },
    { description: "Init resource in TTM_PL_VRAM", mem_type: TTM_PL_VRAM, flags: 0 },
    { description: "Init resource in a private placement", mem_type: TTM_PRIV_DUMMY_REG, flags: 0 },
    {
      description: "Init resource in TTM_PL_SYSTEM, set placement flags",
      mem_type: TTM_PL_SYSTEM,
      flags: TTM_PL_FLAG_TOPDOWN,
    },
  ];

  it.each(ttm_resource_cases)("ttm_resource_init_basic: $description", (params) => {
    const p = ttm_resource_test_init();
    const { bo, place } = ttm_init_test_mocks(p, params.mem_type, params.flags);
    if (params.mem_type > TTM_PL_SYSTEM) ttm_init_test_manager(p, params.mem_type);

    runTask(p.devs.k, function* () {
      const res = new ttm_resource();
      const man = ttm_manager_type(ttmDev(p.devs), place.mem_type)!;
      const expected_usage = man.usage + RES_SIZE;

      expect(list_empty(man.lru[bo.priority]!)).toBe(true);

      yield* ttm_resource_init(bo, place, res);

      expect(res.start).toBe(0);
      expect(res.size).toBe(RES_SIZE);
      expect(res.mem_type).toBe(place.mem_type);
      expect(res.placement).toBe(place.flags);
      expect(res.bo).toBe(bo);

      expect(res.bus.addr).toBeNull();
      expect(res.bus.offset).toBe(0);
      expect(res.bus.is_iomem).toBe(false);
      expect(res.bus.caching).toBe("cached");
      expect(man.usage).toBe(expected_usage);

      expect(list_is_singular(man.lru[bo.priority]!)).toBe(true);

      yield* ttm_resource_fini(man, res);
    });
  });

  it("ttm_resource_init_pinned", () => {
    const p = ttm_resource_test_init();
    const { bo, place } = ttm_init_test_mocks(p, TTM_PL_SYSTEM, 0);
    const man = ttm_manager_type(ttmDev(p.devs), place.mem_type)!;

    runTask(p.devs.k, function* () {
      const res = new ttm_resource();
      // The list of pinned resources was renamed `unevictable` when swapped BOs joined it.
      expect(list_empty(bo.bdev.unevictable)).toBe(true);

      yield* dma_resv_lock(bo.base.resv, null, "test");
      yield* ttm_bo_pin(bo);
      yield* ttm_resource_init(bo, place, res);
      expect(list_is_singular(bo.bdev.unevictable)).toBe(true);

      yield* ttm_bo_unpin(bo);
      yield* ttm_resource_fini(man, res);
      yield* dma_resv_unlock(bo.base.resv, "test");

      expect(list_empty(bo.bdev.unevictable)).toBe(true);
    });
  });

  it("ttm_resource_fini_basic", () => {
    const p = ttm_resource_test_init();
    const { bo, place } = ttm_init_test_mocks(p, TTM_PL_SYSTEM, 0);
    const man = ttm_manager_type(ttmDev(p.devs), place.mem_type)!;

    runTask(p.devs.k, function* () {
      const res = new ttm_resource();
      yield* ttm_resource_init(bo, place, res);
      yield* ttm_resource_fini(man, res);

      expect(list_is_linked(res.lru.link)).toBe(false);
      expect(man.usage).toBe(0);
    });
  });

  it("ttm_resource_manager_init_basic", () => {
    const p = ttm_resource_test_init();
    const size = SZ_16K;
    const man = new ttm_resource_manager(
      ttmDev(p.devs),
      ttm_resource_manager_mock_funcs,
      TTM_PL_VRAM,
      "test-man",
    );

    ttm_resource_manager_init(man, size);

    expect(man.bdev).toBe(p.devs.ttm_dev);
    expect(man.size).toBe(size);
    expect(man.usage).toBe(0);
    // Upstream (older tree): man->move is NULL and move_lock exists; now one eviction fence
    // slot per context, all empty, under eviction_lock.
    for (const fence of man.eviction_fences) expect(fence).toBeNull();
    expect(man.eviction_lock).toBeDefined();

    for (let i = 0; i < TTM_MAX_BO_PRIORITY; ++i) expect(list_empty(man.lru[i]!)).toBe(true);
  });

  it("ttm_resource_manager_usage_basic", () => {
    const p = ttm_resource_test_init();
    const { bo, place } = ttm_init_test_mocks(p, TTM_PL_SYSTEM, TTM_PL_FLAG_TOPDOWN);

    runTask(p.devs.k, function* () {
      const res = new ttm_resource();
      const man = ttm_manager_type(ttmDev(p.devs), place.mem_type)!;

      yield* ttm_resource_init(bo, place, res);
      const actual_usage = yield* ttm_resource_manager_usage(man);

      expect(actual_usage).toBe(RES_SIZE);

      yield* ttm_resource_fini(man, res);
    });
  });

  it("ttm_resource_manager_set_used_basic", () => {
    const p = ttm_resource_test_init();
    const man = ttm_manager_type(ttmDev(p.devs), TTM_PL_SYSTEM)!;
    expect(man.use_type).toBe(true);

    ttm_resource_manager_set_used(man, false);
    expect(man.use_type).toBe(false);
  });

  it("ttm_sys_man_alloc_basic", () => {
    const p = ttm_resource_test_init();
    const mem_type = TTM_PL_SYSTEM;
    const { bo, place } = ttm_init_test_mocks(p, mem_type, 0);

    runTask(p.devs.k, function* () {
      const man = ttm_manager_type(ttmDev(p.devs), mem_type)!;
      const res = yield* man.func.alloc(man, bo, place);

      expect(typeof res).not.toBe("number");
      const r = res as ttm_resource;
      expect(r.size).toBe(RES_SIZE);
      expect(r.mem_type).toBe(mem_type);
      expect(r.bo).toBe(bo);

      yield* ttm_resource_fini(man, r);
    });
  });

  it("ttm_sys_man_free_basic", () => {
    const p = ttm_resource_test_init();
    const mem_type = TTM_PL_SYSTEM;
    const { bo, place } = ttm_init_test_mocks(p, mem_type, 0);

    runTask(p.devs.k, function* () {
      const res = yield* ttm_resource_alloc(bo, place);
      expect(typeof res).not.toBe("number");

      const man = ttm_manager_type(ttmDev(p.devs), mem_type)!;
      yield* man.func.free(man, res as ttm_resource);

      expect(list_empty(man.lru[bo.priority]!)).toBe(true);
      expect(man.usage).toBe(0);
    });
  });
});
