// Suite ttm_bo (drivers/gpu/drm/ttm/tests/ttm_bo_test.c): init = basic devices; the cases that
// need a ttm_device make their own; BO_SIZE = 8 KiB. Upstream's ttm_bo_put_* cases were renamed
// ttm_bo_fini_* with ttm_bo_put -> ttm_bo_fini.
import { describe, expect, it, vi } from "vitest";
import { dma_fence_init, dma_fence_signal, dma_fence_wait } from "../../src/kernel/dma_fence.js";
import {
  DMA_RESV_USAGE_BOOKKEEP,
  type dma_resv,
  dma_resv_add_fence,
  dma_resv_init,
  dma_resv_lock,
  dma_resv_reserve_fences,
  dma_resv_unlock,
  reservation_ww_class,
} from "../../src/kernel/dma_resv.js";
import { EALREADY, EBUSY, EDEADLK, EINTR, ERESTARTSYS } from "../../src/kernel/errno.js";
import type { Kernel } from "../../src/kernel/kernel.js";
import type { Gen, Task } from "../../src/kernel/sched.js";
import { msleep } from "../../src/kernel/wait.js";
import { ww_acquire_fini, ww_acquire_init } from "../../src/kernel/ww_mutex.js";
import {
  ttm_bo_fini,
  ttm_bo_pin,
  ttm_bo_reserve,
  ttm_bo_set_bulk_move,
  ttm_bo_type_device,
  ttm_bo_unpin,
  ttm_bo_unreserve,
  type ttm_buffer_object,
} from "../../src/ttm/ttm_bo.js";
import { ttm_manager_type } from "../../src/ttm/ttm_device.js";
import { TTM_MAX_BO_PRIORITY, TTM_PL_SYSTEM } from "../../src/ttm/ttm_placement.js";
import {
  ttm_lru_bulk_move_init,
  type ttm_resource,
  ttm_resource_alloc,
  ttm_resource_free,
} from "../../src/ttm/ttm_resource.js";
import { ttm_tt_create } from "../../src/ttm/ttm_tt.js";
import {
  destroyedBos,
  list_is_last,
  newTtmDevice,
  runTask,
  SZ_8K,
  ttm_bo_kunit_init,
  ttm_device_kunit_init,
  ttm_place_kunit_init,
  type ttm_test_devices,
  ttm_test_devices_basic,
  ttmDev,
} from "./ttm_kunit_helpers.js";

/**
 * ADAPTED for ttm_bo_reserve_interrupted: the simulated kernel delivers no signals, so an
 * interruptible sleep can never end with -EINTR. Tasks in `sigtermAfterMs` get upstream's timer
 * SIGTERM: when their interruptible resv lock would have to sleep, they sleep until the timer
 * fires and the lock attempt fails with -EINTR, as the signalled ww_mutex sleep returns it.
 * Everything else goes to the real dma_resv_lock_interruptible.
 */
const sigtermAfterMs = vi.hoisted(() => new Map<unknown, number>());

vi.mock("../../src/kernel/dma_resv.js", async (importOriginal) => {
  const mod = await importOriginal<typeof import("../../src/kernel/dma_resv.js")>();
  const { msleep: sleep } = await import("../../src/kernel/wait.js");
  function* dma_resv_lock_interruptible(
    obj: dma_resv,
    ctx: Parameters<typeof mod.dma_resv_lock_interruptible>[1],
    site: string,
  ): Gen<number> {
    const task = obj.k.current;
    const ms = sigtermAfterMs.get(task);
    if (ms !== undefined && obj.lock.owner !== null && obj.lock.owner !== task) {
      yield* sleep(obj.k, ms, site);
      return -EINTR;
    }
    return yield* mod.dma_resv_lock_interruptible(obj, ctx, site);
  }
  return { ...mod, dma_resv_lock_interruptible };
});

const BO_SIZE = SZ_8K;

/** kthread_create + wake_up_process; `stop` is kthread_stop(): waits and returns its result. */
function kthread_run(k: Kernel, name: string, fn: (task: Task) => Gen<number>) {
  const done = dma_fence_init(k, `${name}.exit`, 1000, 0);
  let result = 0;
  const task = k.kthread(name, function* (t) {
    result = yield* fn(t);
    yield* dma_fence_signal(done, "kthread_exit");
  });
  return {
    task,
    *stop(): Gen<number> {
      yield* dma_fence_wait(done, false, "kthread_stop");
      return result;
    },
  };
}

/** priv->ttm_dev = a fresh ttm_device with the mock driver. */
function withDevice(priv: ttm_test_devices) {
  const ttm_dev = newTtmDevice(priv);
  expect(ttm_device_kunit_init(priv, ttm_dev, 0)).toBe(0);
  priv.ttm_dev = ttm_dev;
  return ttm_dev;
}

function asRes(res: ttm_resource | number): ttm_resource {
  expect(typeof res).not.toBe("number");
  return res as ttm_resource;
}

describe("ttm_bo", () => {
  const ttm_bo_reserved_cases = [
    { description: "Cannot be interrupted and sleeps", interruptible: false, no_wait: false },
    {
      description: "Cannot be interrupted, locks straight away",
      interruptible: false,
      no_wait: true,
    },
    { description: "Can be interrupted, sleeps", interruptible: true, no_wait: false },
  ];

  it.each(ttm_bo_reserved_cases)("ttm_bo_reserve_optimistic_no_ticket: $description", (params) => {
    const priv = ttm_test_devices_basic();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);

    runTask(priv.k, function* () {
      const err = yield* ttm_bo_reserve(bo, params.interruptible, params.no_wait, null);
      expect(err).toBe(0);
      yield* dma_resv_unlock(bo.base.resv, "test");
    });
  });

  it("ttm_bo_reserve_locked_no_sleep", () => {
    const priv = ttm_test_devices_basic();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);

    runTask(priv.k, function* () {
      // Let's lock it beforehand.
      yield* dma_resv_lock(bo.base.resv, null, "test");

      const err = yield* ttm_bo_reserve(bo, false, true, null);
      yield* dma_resv_unlock(bo.base.resv, "test");

      expect(err).toBe(-EBUSY);
    });
  });

  it("ttm_bo_reserve_no_wait_ticket", () => {
    const priv = ttm_test_devices_basic();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);

    runTask(
      priv.k,
      function* () {
        const ctx = ww_acquire_init(priv.k, reservation_ww_class, "test");
        const err = yield* ttm_bo_reserve(bo, false, true, ctx);
        expect(err).toBe(-EBUSY);
        ww_acquire_fini(ctx, "test");
      },
      { allowWarnings: true },
    );
    // Upstream WARNs about the combination before refusing it.
    expect(priv.k.reports.map((r) => r.kind)).toEqual(["warn"]);
  });

  it("ttm_bo_reserve_double_resv", () => {
    const priv = ttm_test_devices_basic();
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);

    runTask(priv.k, function* () {
      const ctx = ww_acquire_init(priv.k, reservation_ww_class, "test");
      let err = yield* ttm_bo_reserve(bo, false, false, ctx);
      expect(err).toBe(0);

      err = yield* ttm_bo_reserve(bo, false, false, ctx);

      yield* dma_resv_unlock(bo.base.resv, "test");
      ww_acquire_fini(ctx, "test");

      expect(err).toBe(-EALREADY);
    });
  });

  // Upstream injects the deadlock by making bo2's lock look owned by a context with an older
  // stamp (ctx2.stamp = ctx1.stamp - 1). Here a second thread really holds bo2 in a context
  // created before ctx1, and ctx1, holding bo1, is the younger one that has to back off.
  it("ttm_bo_reserve_deadlock", () => {
    const priv = ttm_test_devices_basic();
    const k = priv.k;
    const bo1 = ttm_bo_kunit_init(priv, BO_SIZE, null);
    const bo2 = ttm_bo_kunit_init(priv, BO_SIZE, null);
    const locked = dma_fence_init(k, "bo2-locked", 2000, 0);
    const release = dma_fence_init(k, "bo2-release", 2001, 0);

    runTask(k, function* () {
      const holder = kthread_run(k, "ctx2-holder", function* () {
        const ctx2 = ww_acquire_init(k, reservation_ww_class, "ctx2");
        expect(yield* dma_resv_lock(bo2.base.resv, ctx2, "ctx2")).toBe(0);
        yield* dma_fence_signal(locked, "ctx2");
        yield* dma_fence_wait(release, false, "ctx2");
        yield* dma_resv_unlock(bo2.base.resv, "ctx2");
        ww_acquire_fini(ctx2, "ctx2");
        return 0;
      });
      yield* dma_fence_wait(locked, false, "test");

      const ctx1 = ww_acquire_init(k, reservation_ww_class, "test");
      let err = yield* ttm_bo_reserve(bo1, false, false, ctx1);
      expect(err).toBe(0);

      err = yield* ttm_bo_reserve(bo2, false, false, ctx1);
      expect(err).toBe(-EDEADLK);

      yield* dma_resv_unlock(bo1.base.resv, "test");
      ww_acquire_fini(ctx1, "test");

      yield* dma_fence_signal(release, "test");
      yield* holder.stop();
    });
  });

  it("ttm_bo_reserve_interrupted", () => {
    const priv = ttm_test_devices_basic();
    const k = priv.k;
    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);

    runTask(k, function* () {
      // Take a lock so the threaded reserve has to wait.
      yield* dma_resv_lock(bo.base.resv, null, "test");

      const thread = kthread_run(k, "ttm-bo-reserve", function* (task) {
        const ctx = ww_acquire_init(k, reservation_ww_class, "threaded_ttm_bo_reserve");
        // Prepare a signal that will interrupt the reservation attempt.
        sigtermAfterMs.set(task, 100);
        const err = yield* ttm_bo_reserve(bo, true, false, ctx);
        sigtermAfterMs.delete(task);
        ww_acquire_fini(ctx, "threaded_ttm_bo_reserve");
        return err;
      });
      yield* msleep(k, 20, "test");
      const err = yield* thread.stop();

      yield* dma_resv_unlock(bo.base.resv, "test");

      expect(err).toBe(-ERESTARTSYS);
    });
  });

  it("ttm_bo_unreserve_basic", () => {
    const priv = ttm_test_devices_basic();
    const bo_prio = TTM_MAX_BO_PRIORITY - 1;
    const mem_type = TTM_PL_SYSTEM;
    const place = ttm_place_kunit_init(mem_type, 0);
    withDevice(priv);

    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);
    bo.priority = bo_prio;

    runTask(priv.k, function* () {
      const res1 = asRes(yield* ttm_resource_alloc(bo, place));
      bo.resource = res1;

      // Add a dummy resource to populate LRU.
      const res2 = asRes(yield* ttm_resource_alloc(bo, place));

      yield* dma_resv_lock(bo.base.resv, null, "test");
      yield* ttm_bo_unreserve(bo);

      const man = ttm_manager_type(ttmDev(priv), mem_type)!;
      expect(list_is_last(res1.lru.link, man.lru[bo.priority]!)).toBe(true);

      yield* ttm_resource_free(bo, res2);
      yield* ttm_resource_free(bo, res1);
    });
  });

  it("ttm_bo_unreserve_pinned", () => {
    const priv = ttm_test_devices_basic();
    const mem_type = TTM_PL_SYSTEM;
    const ttm_dev = withDevice(priv);

    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);
    const place = ttm_place_kunit_init(mem_type, 0);

    runTask(priv.k, function* () {
      yield* dma_resv_lock(bo.base.resv, null, "test");
      yield* ttm_bo_pin(bo);

      const res1 = asRes(yield* ttm_resource_alloc(bo, place));
      bo.resource = res1;

      // Add a dummy resource to the pinned (now: unevictable) list.
      const res2 = asRes(yield* ttm_resource_alloc(bo, place));
      expect(list_is_last(res2.lru.link, ttm_dev.unevictable)).toBe(true);

      yield* ttm_bo_unreserve(bo);
      expect(list_is_last(res1.lru.link, ttm_dev.unevictable)).toBe(true);

      yield* ttm_resource_free(bo, res1);
      yield* ttm_resource_free(bo, res2);
    });
  });

  it("ttm_bo_unreserve_bulk", () => {
    const priv = ttm_test_devices_basic();
    const mem_type = TTM_PL_SYSTEM;
    const bo_priority = 0;
    const lru_bulk_move = ttm_lru_bulk_move_init();
    const place = ttm_place_kunit_init(mem_type, 0);
    withDevice(priv);

    const resv = dma_resv_init(priv.k, "shared");
    const bo1 = ttm_bo_kunit_init(priv, BO_SIZE, resv);
    const bo2 = ttm_bo_kunit_init(priv, BO_SIZE, resv);

    runTask(priv.k, function* () {
      yield* dma_resv_lock(bo1.base.resv, null, "test");
      yield* ttm_bo_set_bulk_move(bo1, lru_bulk_move);
      yield* dma_resv_unlock(bo1.base.resv, "test");

      const res1 = asRes(yield* ttm_resource_alloc(bo1, place));
      bo1.resource = res1;

      yield* dma_resv_lock(bo2.base.resv, null, "test");
      yield* ttm_bo_set_bulk_move(bo2, lru_bulk_move);
      yield* dma_resv_unlock(bo2.base.resv, "test");

      const res2 = asRes(yield* ttm_resource_alloc(bo2, place));
      bo2.resource = res2;

      yield* ttm_bo_reserve(bo1, false, false, null);
      yield* ttm_bo_unreserve(bo1);

      const pos = lru_bulk_move.pos[mem_type]![bo_priority]!;
      expect(pos.last).toBe(res1);

      yield* ttm_resource_free(bo1, res1);
      yield* ttm_resource_free(bo2, res2);
    });
  });

  it("ttm_bo_fini_basic", () => {
    const priv = ttm_test_devices_basic();
    const mem_type = TTM_PL_SYSTEM;
    const place = ttm_place_kunit_init(mem_type, 0);
    const ttm_dev = withDevice(priv);

    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);
    bo.type = ttm_bo_type_device;

    runTask(priv.k, function* () {
      const res = asRes(yield* ttm_resource_alloc(bo, place));
      bo.resource = res;

      yield* dma_resv_lock(bo.base.resv, null, "test");
      const err = ttm_tt_create(bo, false);
      yield* dma_resv_unlock(bo.base.resv, "test");
      expect(err).toBe(0);

      yield* ttm_bo_fini(bo);
    });

    // The BO was released: memory freed, destroy called.
    expect(destroyedBos.has(bo)).toBe(true);
    expect(bo.resource).toBeNull();
    expect(bo.ttm).toBeNull();
    expect(ttm_dev.sysman.usage).toBe(0);
  });

  it("ttm_bo_fini_shared_resv", () => {
    const priv = ttm_test_devices_basic();
    withDevice(priv);
    const external_resv = dma_resv_init(priv.k, "external");
    const fence = dma_fence_init(priv.k, "kunit-ttm-bo-put", 0, 0);
    let bo: ttm_buffer_object | null = null;

    runTask(priv.k, function* () {
      yield* dma_resv_lock(external_resv, null, "test");
      dma_resv_reserve_fences(external_resv, 1, "test");
      dma_resv_add_fence(external_resv, fence, DMA_RESV_USAGE_BOOKKEEP, "test");
      yield* dma_resv_unlock(external_resv, "test");

      yield* dma_fence_signal(fence, "test");

      bo = ttm_bo_kunit_init(priv, BO_SIZE, null);
      bo.type = ttm_bo_type_device;
      bo.base.resv = external_resv;

      yield* ttm_bo_fini(bo);
    });

    expect(destroyedBos.has(bo!)).toBe(true);
    // Released through its own (individualized) resv, which got the external fences.
    expect(bo!.base.resv).toBe(bo!.base._resv);
    expect(bo!.base._resv.fences.map((f) => f.fence)).toEqual([fence]);
  });

  it("ttm_bo_pin_basic", () => {
    const priv = ttm_test_devices_basic();
    const no_pins = 3;
    withDevice(priv);

    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);

    runTask(priv.k, function* () {
      for (let i = 0; i < no_pins; i++) {
        yield* dma_resv_lock(bo.base.resv, null, "test");
        yield* ttm_bo_pin(bo);
        yield* dma_resv_unlock(bo.base.resv, "test");
      }
    });

    expect(bo.pin_count).toBe(no_pins);
  });

  it("ttm_bo_pin_unpin_resource", () => {
    const priv = ttm_test_devices_basic();
    const mem_type = TTM_PL_SYSTEM;
    const bo_priority = 0;
    const lru_bulk_move = ttm_lru_bulk_move_init();
    const place = ttm_place_kunit_init(mem_type, 0);
    withDevice(priv);

    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);

    runTask(priv.k, function* () {
      const res = asRes(yield* ttm_resource_alloc(bo, place));
      bo.resource = res;

      yield* dma_resv_lock(bo.base.resv, null, "test");
      yield* ttm_bo_set_bulk_move(bo, lru_bulk_move);
      yield* ttm_bo_pin(bo);
      yield* dma_resv_unlock(bo.base.resv, "test");

      const pos = lru_bulk_move.pos[mem_type]![bo_priority]!;

      expect(bo.pin_count).toBe(1);
      expect(pos.first).toBeNull();
      expect(pos.last).toBeNull();

      yield* dma_resv_lock(bo.base.resv, null, "test");
      yield* ttm_bo_unpin(bo);
      yield* dma_resv_unlock(bo.base.resv, "test");

      expect(pos.last).toBe(res);
      expect(bo.pin_count).toBe(0);

      yield* ttm_resource_free(bo, res);
    });
  });

  it("ttm_bo_multiple_pin_one_unpin", () => {
    const priv = ttm_test_devices_basic();
    const mem_type = TTM_PL_SYSTEM;
    const bo_priority = 0;
    const lru_bulk_move = ttm_lru_bulk_move_init();
    const place = ttm_place_kunit_init(mem_type, 0);
    withDevice(priv);

    const bo = ttm_bo_kunit_init(priv, BO_SIZE, null);

    runTask(priv.k, function* () {
      const res = asRes(yield* ttm_resource_alloc(bo, place));
      bo.resource = res;

      yield* dma_resv_lock(bo.base.resv, null, "test");
      yield* ttm_bo_set_bulk_move(bo, lru_bulk_move);

      // Multiple pins.
      yield* ttm_bo_pin(bo);
      yield* ttm_bo_pin(bo);

      yield* dma_resv_unlock(bo.base.resv, "test");

      const pos = lru_bulk_move.pos[mem_type]![bo_priority]!;

      expect(bo.pin_count).toBe(2);
      expect(pos.first).toBeNull();
      expect(pos.last).toBeNull();

      yield* dma_resv_lock(bo.base.resv, null, "test");
      yield* ttm_bo_unpin(bo);
      yield* dma_resv_unlock(bo.base.resv, "test");

      expect(bo.pin_count).toBe(1);
      expect(pos.first).toBeNull();
      expect(pos.last).toBeNull();

      yield* dma_resv_lock(bo.base.resv, null, "test");
      yield* ttm_bo_unpin(bo);
      yield* dma_resv_unlock(bo.base.resv, "test");

      yield* ttm_resource_free(bo, res);
    });
  });
});
