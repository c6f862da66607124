// Suite ttm_tt (drivers/gpu/drm/ttm/tests/ttm_tt_test.c): init = all devices; BO_SIZE = 4 KiB.
import { afterEach, describe, expect, it } from "vitest";
import { dma_resv_lock, dma_resv_unlock } from "../../src/kernel/dma_resv.js";
import { EINVAL, ENOMEM } from "../../src/kernel/errno.js";
import { ttm_bo_type_device, ttm_bo_type_sg, ttm_ctx } from "../../src/ttm/ttm_bo.js";
import type { ttm_device_funcs } from "../../src/ttm/ttm_device.js";
import { ttm_pool_alloc } from "../../src/ttm/ttm_pool.js";
import { PAGE_SIZE } from "../../src/ttm/ttm_resource.js";
import {
  TTM_TT_FLAG_SWAPPED,
  TTM_TT_FLAG_ZERO_ALLOC,
  ttm_sg_tt_init,
  ttm_tt,
  ttm_tt_create,
  ttm_tt_destroy,
  ttm_tt_fini,
  ttm_tt_init,
  ttm_tt_is_populated,
  ttm_tt_populate,
  ttm_tt_swapin,
  ttm_tt_swapout,
  ttm_tt_unpopulate,
} from "../../src/ttm/ttm_tt.js";
import {
  runTask,
  SZ_4K,
  SZ_8K,
  ttm_bo_kunit_init,
  type ttm_test_devices,
  ttm_test_devices_all,
  ttm_test_devices_put,
  ttmDev,
} from "./ttm_kunit_helpers.js";

const BO_SIZE = SZ_4K;
const PAGE_SHIFT = 12;

let devs: ttm_test_devices | undefined;

function init(): ttm_test_devices {
  const d = ttm_test_devices_all();
  devs = d;
  return d;
}

afterEach(() => {
  if (devs !== undefined) ttm_test_devices_put(devs);
  devs = undefined;
});

describe("ttm_tt", () => {
  const ttm_tt_init_basic_cases = [
    { description: "Page-aligned size", size: SZ_4K, extra_pages_num: 0 },
    { description: "Extra pages requested", size: SZ_4K, extra_pages_num: 1 },
  ];

  it.each(ttm_tt_init_basic_cases)("ttm_tt_init_basic: $description", (params) => {
    const priv = init();
    const page_flags = TTM_TT_FLAG_ZERO_ALLOC;
    const caching = "cached";
    const extra_pages = params.extra_pages_num;
    const num_pages = params.size >> PAGE_SHIFT;

    const tt = new ttm_tt();
    const bo = ttm_bo_kunit_init(priv, params.size, null);

    expect(ttm_tt_init(tt, bo, page_flags, caching, extra_pages)).toBe(0);
    expect(tt.num_pages).toBe(num_pages + extra_pages);
    expect(tt.page_flags).toBe(page_flags);
    expect(tt.caching).toBe(caching);
    expect(tt.dma_address).toBeNull();
    expect(tt.swap_storage).toBeNull();
  });

  it("ttm_tt_init_misaligned", () => {
    const priv = init();
    const size = SZ_8K;
    const num_pages = (size + SZ_4K) >> PAGE_SHIFT;
    const tt = new ttm_tt();

    // Make the object size misaligned.
    const bo = ttm_bo_kunit_init(priv, size + 1, null);

    expect(ttm_tt_init(tt, bo, 0, "cached", 0)).toBe(0);
    expect(tt.num_pages).toBe(num_pages);
  });

  it("ttm_tt_fini_basic", () => {
    const priv = init();
    const tt = new ttm_tt();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);

    expect(ttm_tt_init(tt, bo, 0, "cached", 0)).toBe(0);
    expect(tt.pages).not.toBeNull();

    ttm_tt_fini(tt);
    expect(tt.pages).toBeNull();
  });

  it("ttm_tt_fini_sg", () => {
    const priv = init();
    const tt = new ttm_tt();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);

    expect(ttm_sg_tt_init(tt, bo, 0, "cached")).toBe(0);
    expect(tt.dma_address).not.toBeNull();

    ttm_tt_fini(tt);
    expect(tt.dma_address).toBeNull();
  });

  it("ttm_tt_fini_shmem", () => {
    const priv = init();
    const tt = new ttm_tt();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);

    expect(ttm_tt_init(tt, bo, 0, "cached", 0)).toBe(0);

    // shmem_file_setup("ttm swap", BO_SIZE, 0): our shmem file is one word array per page.
    tt.swap_storage = Array.from({ length: BO_SIZE / PAGE_SIZE }, () => [0]);

    ttm_tt_fini(tt);
    expect(tt.swap_storage).toBeNull();
  });

  it("ttm_tt_create_basic", () => {
    const priv = init();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);
    bo.type = ttm_bo_type_device;

    runTask(priv.k, function* () {
      yield* dma_resv_lock(bo.base.resv, null, "test");
      const err = ttm_tt_create(bo, false);
      yield* dma_resv_unlock(bo.base.resv, "test");

      expect(err).toBe(0);
      expect(bo.ttm).not.toBeNull();
    });
  });

  it("ttm_tt_create_invalid_bo_type", () => {
    const priv = init();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);
    bo.type = ttm_bo_type_sg + 1;

    runTask(priv.k, function* () {
      yield* dma_resv_lock(bo.base.resv, null, "test");
      const err = ttm_tt_create(bo, false);
      yield* dma_resv_unlock(bo.base.resv, "test");

      expect(err).toBe(-EINVAL);
      expect(bo.ttm).toBeNull();
    });
  });

  it("ttm_tt_create_ttm_exists", () => {
    const priv = init();
    const tt = new ttm_tt();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);

    expect(ttm_tt_init(tt, bo, 0, "cached", 0)).toBe(0);
    bo.ttm = tt;

    runTask(priv.k, function* () {
      yield* dma_resv_lock(bo.base.resv, null, "test");
      const err = ttm_tt_create(bo, false);
      yield* dma_resv_unlock(bo.base.resv, "test");

      // Expect to keep the previous TTM.
      expect(err).toBe(0);
      expect(bo.ttm).toBe(tt);
    });
  });

  it("ttm_tt_create_failed", () => {
    const priv = init();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);

    // Update ttm_device_funcs so we don't alloc ttm_tt. Upstream's ttm_dev_empty_funcs has only
    // ttm_tt_create; ours keeps the other (unused) mock callbacks because they are mandatory.
    const ttm_dev_empty_funcs: ttm_device_funcs = {
      ...ttmDev(priv).funcs,
      ttm_tt_create: () => null,
    };
    ttmDev(priv).funcs = ttm_dev_empty_funcs;

    runTask(priv.k, function* () {
      yield* dma_resv_lock(bo.base.resv, null, "test");
      const err = ttm_tt_create(bo, false);
      yield* dma_resv_unlock(bo.base.resv, "test");

      expect(err).toBe(-ENOMEM);
    });
  });

  it("ttm_tt_destroy_basic", () => {
    const priv = init();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);

    runTask(priv.k, function* () {
      yield* dma_resv_lock(bo.base.resv, null, "test");
      const err = ttm_tt_create(bo, false);
      yield* dma_resv_unlock(bo.base.resv, "test");

      expect(err).toBe(0);
      expect(bo.ttm).not.toBeNull();

      ttm_tt_destroy(ttmDev(priv), bo.ttm!);
    });
  });

  it("ttm_tt_populate_null_ttm", () => {
    const priv = init();
    runTask(priv.k, function* () {
      const err = yield* ttm_tt_populate(ttmDev(priv), null, ttm_ctx());
      expect(err).toBe(-EINVAL);
    });
  });

  it("ttm_tt_populate_populated_ttm", () => {
    const priv = init();
    const ctx = ttm_ctx();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);
    const tt = new ttm_tt();
    expect(ttm_tt_init(tt, bo, 0, "cached", 0)).toBe(0);

    runTask(priv.k, function* () {
      let err = yield* ttm_tt_populate(ttmDev(priv), tt, ctx);
      expect(err).toBe(0);
      const populated_page = tt.pages![0];
      expect(populated_page).not.toBeNull();

      err = yield* ttm_tt_populate(ttmDev(priv), tt, ctx);
      expect(tt.pages![0]).toBe(populated_page);
    });
  });

  it("ttm_tt_unpopulate_basic", () => {
    const priv = init();
    const ctx = ttm_ctx();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);
    const tt = new ttm_tt();
    expect(ttm_tt_init(tt, bo, 0, "cached", 0)).toBe(0);

    runTask(priv.k, function* () {
      const err = yield* ttm_tt_populate(ttmDev(priv), tt, ctx);
      expect(err).toBe(0);
      expect(ttm_tt_is_populated(tt)).toBe(true);

      yield* ttm_tt_unpopulate(ttmDev(priv), tt);
      expect(ttm_tt_is_populated(tt)).toBe(false);
    });
  });

  it("ttm_tt_unpopulate_empty_ttm", () => {
    const priv = init();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);
    const tt = new ttm_tt();
    expect(ttm_tt_init(tt, bo, 0, "cached", 0)).toBe(0);

    runTask(priv.k, function* () {
      yield* ttm_tt_unpopulate(ttmDev(priv), tt);
      // Expect graceful handling of unpopulated TTs.
      expect(ttm_tt_is_populated(tt)).toBe(false);
    });
  });

  it("ttm_tt_swapin_basic", () => {
    const priv = init();
    const expected_num_pages = BO_SIZE >> PAGE_SHIFT;
    const ctx = ttm_ctx();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);
    const tt = new ttm_tt();
    expect(ttm_tt_init(tt, bo, 0, "cached", 0)).toBe(0);

    runTask(priv.k, function* () {
      let err = yield* ttm_tt_populate(ttmDev(priv), tt, ctx);
      expect(err).toBe(0);
      expect(ttm_tt_is_populated(tt)).toBe(true);

      const num_pages = yield* ttm_tt_swapout(ttmDev(priv), tt);
      expect(num_pages).toBe(expected_num_pages);
      expect(tt.swap_storage).not.toBeNull();
      expect(tt.page_flags & TTM_TT_FLAG_SWAPPED).toBeTruthy();

      // Swapout depopulates TT, allocate pages and then swap them in.
      err = yield* ttm_pool_alloc(ttmDev(priv).pool, tt, ctx);
      expect(err).toBe(0);

      err = ttm_tt_swapin(ttmDev(priv), tt);
      expect(err).toBe(0);
      expect(tt.swap_storage).toBeNull();
      expect(tt.page_flags & TTM_TT_FLAG_SWAPPED).toBeFalsy();
    });
  });
});
