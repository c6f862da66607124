// Regression tests for the two 2026 swapout bugs of ttm-modern.md §4.3, on the KUnit mock
// driver. Both live in the block of ttm_bo_swapout_cb() that runs after ttm_tt_swapout():
//
// - CVE-2026-52965 (fixed by b2ed01e7ad3d "drm/ttm: Fix ttm_bo_swapout() infinite LRU walk on
//   swapout failure"): the old code took the resource out of its bulk move before swapping and,
//   when ttm_tt_swapout() failed, put it back and moved it to the LRU tail: behind the walk
//   cursor's hitch, so the walk met the same BOs again and again and never ended.
// - The hibernate regression of that fix (drm/amd#5387): the fix ran its cleanup only when
//   ttm_tt_swapout() returned 0, but it returns the number of pages swapped out, so a swapped
//   resource stayed in its bulk range; once the BO was freed the range's first/last pointed at
//   freed memory, and the next bulk tail move corrupted the LRU.
//
// swapoutRegressions puts each old behaviour back on one device. Every test runs the same steps
// on the fixed code (it must pass) and with the regression switched on (it must show the bug).
//
// Adapted to the model: shmem running out of space is the swap limit of the TTM global state
// (ttmGlobal(k).swap_pages_limit); a freed resource is one that no live BO owns any more.

import { describe, expect, it } from "vitest";
import {
  type dma_resv,
  dma_resv_init,
  dma_resv_lock,
  dma_resv_unlock,
} from "../../src/kernel/dma_resv.js";
import type { Kernel } from "../../src/kernel/kernel.js";
import type { Gen, RunOutcome } from "../../src/kernel/sched.js";
import { NonPreemptive } from "../../src/kernel/schedulers.js";
import { spin_lock, spin_unlock } from "../../src/kernel/spinlock.js";
import {
  type SwapoutRegression,
  swapoutBo,
  swapoutRegressions,
  ttm_bo_fini,
  ttm_bo_init_reserved,
  ttm_bo_populate,
  ttm_bo_set_bulk_move,
  ttm_bo_swapout,
  ttm_bo_type_device,
  ttm_buffer_object,
  ttm_ctx,
} from "../../src/ttm/ttm_bo.js";
import {
  type ttm_device,
  type ttm_device_funcs,
  ttm_device_init,
  ttm_device_swapout,
  ttmGlobal,
} from "../../src/ttm/ttm_device.js";
import { TTM_PL_SYSTEM, ttm_place_init } from "../../src/ttm/ttm_placement.js";
import {
  PAGE_SIZE,
  type ttm_lru_bulk_move,
  ttm_lru_bulk_move_init,
  ttm_lru_bulk_move_tail,
  type ttm_resource,
} from "../../src/ttm/ttm_resource.js";
import { ttm_tt_is_populated, ttm_tt_is_swapped } from "../../src/ttm/ttm_tt.js";
import {
  newTtmDevice,
  testKernel,
  ttm_dev_funcs,
  ttm_test_devices_basic,
} from "./ttm_kunit_helpers.js";
import {
  bulkProblems,
  deviceLists,
  lruCensus,
  membershipProblems,
  usageProblems,
  walkList,
} from "./ttm_lru_checks.js";

const BO_PAGES = 2;
/** Far more steps than a walk over three BOs needs (about 60 per BO). */
const STEP_BOUND = 20_000;

/** A device with three SYSTEM BOs sharing one reservation and one bulk move, like a GPU VM's. */
interface SwapWorld {
  readonly k: Kernel;
  readonly bdev: ttm_device;
  readonly resv: dma_resv;
  readonly bulk: ttm_lru_bulk_move;
  readonly bos: ttm_buffer_object[];
  /** How often swap_notify ran for each BO: one per swapout attempt that got that far. */
  readonly attempts: Map<string, number>;
}

function swapWorld(regression: SwapoutRegression | null): SwapWorld {
  const k = testKernel();
  const devs = ttm_test_devices_basic(k);
  const bdev = newTtmDevice(devs);
  const attempts = new Map<string, number>();
  const funcs: ttm_device_funcs = {
    ...ttm_dev_funcs,
    swap_notify: (bo) => {
      attempts.set(bo.name, (attempts.get(bo.name) ?? 0) + 1);
    },
  };
  const drm = devs.drm;
  expect(ttm_device_init(bdev, funcs, drm.anon_inode_mapping, drm.vma_offset_manager, 0)).toBe(0);
  if (regression !== null) swapoutRegressions.set(bdev, new Set([regression]));
  const resv = dma_resv_init(k, "vm");
  const bulk = ttm_lru_bulk_move_init();
  const bos = ["A", "B", "C"].map(
    (name) => new ttm_buffer_object(k, bdev, `bo:${name}`, BO_PAGES * PAGE_SIZE, resv),
  );
  const outcome = run(k, function* () {
    yield* dma_resv_lock(resv, null, "test");
    for (const bo of bos) {
      const placement = { placement: [ttm_place_init(TTM_PL_SYSTEM)] };
      const ctx = ttm_ctx();
      expect(
        yield* ttm_bo_init_reserved(bdev, bo, ttm_bo_type_device, placement, 0, ctx, resv, null),
      ).toBe(0);
      yield* ttm_bo_set_bulk_move(bo, bulk);
      expect(yield* ttm_bo_populate(bo, ctx)).toBe(0);
    }
    yield* dma_resv_unlock(resv, "test");
  });
  expect(outcome.kind).toBe("done");
  return { k, bdev, resv, bulk, bos, attempts };
}

/** Runs `body` as the kernel thread "test" on one schedule, stopping at `maxSteps`. */
function run(k: Kernel, body: () => Gen, maxSteps = 1_000_000): RunOutcome {
  k.kthread("test", () => body());
  return k.sched.run(new NonPreemptive(), maxSteps);
}

/** The resources of the BOs that are still alive. */
function liveResources(bos: readonly ttm_buffer_object[]): Set<ttm_resource> {
  const live = new Set<ttm_resource>();
  for (const bo of bos) if (bo.kref > 0 && bo.resource !== null) live.add(bo.resource);
  return live;
}

/** The BO names on the SYSTEM LRU, head first. */
function systemLru(w: SwapWorld): string[] {
  const list = deviceLists(w.bdev).find((l) => l.memType === TTM_PL_SYSTEM && l.priority === 0)!;
  return walkList(list).resources.map((res) => res.bo?.name ?? "?");
}

/** Every consistency problem of the world's lists, ranges and accounting. */
function problems(w: SwapWorld, live: readonly ttm_buffer_object[]): string[] {
  const census = lruCensus(w.bdev);
  return [
    ...census.problems,
    ...membershipProblems(census, live),
    ...usageProblems(w.bdev, census),
    ...bulkProblems(w.bdev, w.bulk, liveResources(live)),
  ];
}

describe("ttm_bo_swapout regressions (ttm-modern.md §4.3)", () => {
  describe("CVE-2026-52965: endless LRU walk when ttm_tt_swapout fails", () => {
    /** A swapout walk over the SYSTEM LRU while shmem is full. */
    function failingWalk(regression: SwapoutRegression | null) {
      const w = swapWorld(regression);
      ttmGlobal(w.k).swap_pages_limit = 0;
      let swapped: number | null = null;
      const outcome = run(
        w.k,
        function* () {
          swapped = yield* ttm_bo_swapout(w.bdev, ttm_ctx(), w.bdev.sysman, 1);
        },
        STEP_BOUND,
      );
      return { w, outcome, swapped };
    }

    it("the walk visits each BO once, leaves it in place and ends with nothing swapped", () => {
      const { w, outcome, swapped } = failingWalk(null);
      expect(outcome).toEqual({ kind: "done" });
      expect(swapped).toBe(0);
      expect([...w.attempts.values()]).toEqual([1, 1, 1]);
      expect(systemLru(w)).toEqual(["bo:A", "bo:B", "bo:C"]);
      const pos = w.bulk.pos[TTM_PL_SYSTEM]![0]!;
      expect(pos.first).toBe(w.bos[0]!.resource);
      expect(pos.last).toBe(w.bos[2]!.resource);
      for (const bo of w.bos) {
        expect(ttm_tt_is_populated(bo.ttm!)).toBe(true);
        expect(ttm_tt_is_swapped(bo.ttm!)).toBe(false);
      }
      expect(problems(w, w.bos)).toEqual([]);
      expect(w.k.reports.map((r) => r.headline)).toEqual([]);
    });

    it("with the regression on, the walk never ends (it hits the step bound)", () => {
      const { w, outcome } = failingWalk("endless-lru-walk");
      expect(outcome.kind).toBe("step-bound");
      // The same BOs come back behind the cursor's hitch again and again.
      for (const n of w.attempts.values()) expect(n).toBeGreaterThan(10);
    });

    /** The realistic trigger: populating another BO over the page limit swaps out first. */
    function populateUnderPressure(regression: SwapoutRegression | null) {
      const w = swapWorld(regression);
      const glob = ttmGlobal(w.k);
      glob.swap_pages_limit = 0;
      glob.pages_limit = glob.pages_allocated;
      const other = new ttm_buffer_object(w.k, w.bdev, "bo:D", PAGE_SIZE, null);
      let ret: number | null = null;
      const outcome = run(
        w.k,
        function* () {
          const placement = { placement: [ttm_place_init(TTM_PL_SYSTEM)] };
          const ctx = ttm_ctx();
          expect(
            yield* ttm_bo_init_reserved(
              w.bdev,
              other,
              ttm_bo_type_device,
              placement,
              0,
              ctx,
              null,
              null,
            ),
          ).toBe(0);
          ret = yield* ttm_bo_populate(other, ctx);
          yield* dma_resv_unlock(other.base.resv, "test");
        },
        STEP_BOUND,
      );
      return { w, outcome, ret, other };
    }

    it("populate over the page limit tries the global swapout once and goes on", () => {
      const { w, outcome, ret, other } = populateUnderPressure(null);
      expect(outcome).toEqual({ kind: "done" });
      expect(ret).toBe(0);
      expect(ttm_tt_is_populated(other.ttm!)).toBe(true);
      expect([...w.attempts.values()]).toEqual([1, 1, 1]);
      expect(problems(w, [...w.bos, other])).toEqual([]);
    });

    it("with the regression on, populate over the page limit never returns", () => {
      const { outcome } = populateUnderPressure("endless-lru-walk");
      expect(outcome.kind).toBe("step-bound");
    });
  });

  describe("hibernate regression: a positive page count treated as an error", () => {
    /**
     * Swaps out the last BO of the bulk range (as the hibernation preparation does with every
     * BO), then the driver takes that BO out of the bulk move and frees it, and a later command
     * submission moves the bulk range to the LRU tail (amdgpu_vm_move_to_lru_tail).
     */
    function swapFreeAndBulkTail(regression: SwapoutRegression | null) {
      const w = swapWorld(regression);
      const [a, b, c] = w.bos as [ttm_buffer_object, ttm_buffer_object, ttm_buffer_object];
      const stages: Record<"swapped" | "freed" | "tail", string[]> = {
        swapped: [],
        freed: [],
        tail: [],
      };
      let swappedPages: number | null = null;
      const outcome = run(w.k, function* () {
        yield* dma_resv_lock(w.resv, null, "test");
        swappedPages = yield* swapoutBo(c, ttm_ctx());
        yield* dma_resv_unlock(w.resv, "test");
        stages.swapped = problems(w, w.bos);

        yield* dma_resv_lock(w.resv, null, "test");
        yield* ttm_bo_set_bulk_move(c, null);
        yield* dma_resv_unlock(w.resv, "test");
        yield* ttm_bo_fini(c);
        stages.freed = problems(w, [a, b]);

        yield* spin_lock(w.bdev.lru_lock, "test");
        ttm_lru_bulk_move_tail(w.bulk, w.bdev, "test");
        yield* spin_unlock(w.bdev.lru_lock, "test");
        stages.tail = problems(w, [a, b]);
      });
      return { w, outcome, stages, swappedPages, c };
    }

    it("a swapped resource leaves its bulk range, so freeing its BO leaves nothing dangling", () => {
      const { w, outcome, stages, swappedPages, c } = swapFreeAndBulkTail(null);
      expect(outcome).toEqual({ kind: "done" });
      expect(swappedPages).toBe(BO_PAGES);
      expect(c.kref).toBe(0);
      expect(stages).toEqual({ swapped: [], freed: [], tail: [] });
      expect(systemLru(w)).toEqual(["bo:A", "bo:B"]);
      expect(w.k.reports.map((r) => r.headline)).toEqual([]);
    });

    it("with the regression on, the bulk range keeps pointing at the swapped, then freed, resource", () => {
      const { w, outcome, stages, swappedPages } = swapFreeAndBulkTail("page-count-as-error");
      expect(outcome.kind).toBe("done");
      expect(swappedPages).toBe(BO_PAGES);
      expect(stages.swapped).toContain(
        "bulk system[0]: last points at bo:C, which is swapped or pinned",
      );
      expect(stages.freed).toContain("bulk system[0]: last points at a freed resource (was bo:C)");
      // The tail move splices from the freed resource: A and B fall off the LRU.
      expect(stages.tail.length).toBeGreaterThan(0);
      expect(systemLru(w)).not.toEqual(["bo:A", "bo:B"]);
    });

    /** Hibernation preparation: swap out everything the device has, one BO at a time. */
    function swapEverything(regression: SwapoutRegression | null) {
      const w = swapWorld(regression);
      const rounds: number[] = [];
      const outcome = run(
        w.k,
        function* () {
          for (;;) {
            const ret = yield* ttm_device_swapout(w.bdev, ttm_ctx());
            rounds.push(ret);
            if (ret <= 0 || rounds.length > 10) return;
          }
        },
        STEP_BOUND,
      );
      return { w, outcome, rounds };
    }

    it("swapping out a whole VM empties its bulk range", () => {
      const { w, outcome, rounds } = swapEverything(null);
      expect(outcome).toEqual({ kind: "done" });
      expect(rounds).toEqual([BO_PAGES, BO_PAGES, BO_PAGES, 0]);
      const pos = w.bulk.pos[TTM_PL_SYSTEM]![0]!;
      expect(pos.first).toBeNull();
      expect(pos.last).toBeNull();
      expect(systemLru(w)).toEqual([]);
      expect(problems(w, w.bos)).toEqual([]);
    });

    it("with the regression on, the swapped BOs stay in the bulk range", () => {
      const { w, outcome } = swapEverything("page-count-as-error");
      expect(outcome.kind).toBe("done");
      const pos = w.bulk.pos[TTM_PL_SYSTEM]![0]!;
      expect(pos.first).not.toBeNull();
      expect(problems(w, w.bos).filter((p) => p.startsWith("bulk"))).not.toEqual([]);
    });
  });
});
