// The fixtures and the mock driver of the upstream TTM KUnit tests
// (drivers/gpu/drm/ttm/tests/ttm_kunit_helpers.c), on the simulated kernel.
//
// Adapted to the model:
// - A "KUnit DRM device" is what the TTM code uses of it: a struct device stand-in (with
//   coherent_dma_mask = -1, as upstream sets it to enable coherent DMA pool testing), the DRM
//   anon inode's address_space (the dev_mapping) and the vma offset manager.
// - Every suite runs on a fresh Kernel; everything that can block runs inside a kernel thread
//   (runTask). System RAM is sized so that the TTM global page limit (half of RAM) is not hit
//   unless a test wants it.
// - Our ttm_device_init() takes no struct device: the device's pool records the ttm_device as its
//   `dev`. Suites that build pools themselves pass the struct device stand-in, as upstream.

import { expect } from "vitest";
import type { dma_resv } from "../../src/kernel/dma_resv.js";
import { EMULTIHOP } from "../../src/kernel/errno.js";
import { address_space } from "../../src/kernel/fs.js";
import { Kernel } from "../../src/kernel/kernel.js";
import type { Gen, RunOutcome } from "../../src/kernel/sched.js";
import { NonPreemptive } from "../../src/kernel/schedulers.js";
import {
  type drm_vma_offset_manager,
  drm_vma_offset_manager_init,
} from "../../src/ttm/drm_vma_manager.js";
import type { list_head } from "../../src/ttm/list.js";
import {
  ttm_bo_eviction_valuable,
  ttm_bo_type_device,
  ttm_buffer_object,
  type ttm_operation_ctx,
} from "../../src/ttm/ttm_bo.js";
import { ttm_bo_move_memcpy, ttm_bo_move_null } from "../../src/ttm/ttm_bo_util.js";
import {
  ttm_device,
  ttm_device_fini,
  type ttm_device_funcs,
  ttm_device_init,
  type ttm_hop,
} from "../../src/ttm/ttm_device.js";
import {
  TTM_PL_FLAG_FALLBACK,
  TTM_PL_FLAG_TEMPORARY,
  TTM_PL_PRIV,
  TTM_PL_SYSTEM,
  TTM_PL_TT,
  TTM_PL_VRAM,
  type ttm_place,
  type ttm_placement,
} from "../../src/ttm/ttm_placement.js";
import type { ttm_resource } from "../../src/ttm/ttm_resource.js";
import { ttm_tt, ttm_tt_init } from "../../src/ttm/ttm_tt.js";

/** Memory types of the mock drivers (ttm_kunit_helpers.h). */
export const TTM_PL_MOCK1 = TTM_PL_PRIV + 1;
export const TTM_PL_MOCK2 = TTM_PL_PRIV + 2;

/** Upstream's SZ_* constants. */
export const SZ_4K = 4096;
export const SZ_8K = 8192;
export const SZ_16K = 16384;
export const SZ_512K = 512 * 1024;
export const SZ_1M = 1024 * 1024;

/**
 * Default system RAM of a test kernel, in pages (32 MiB). The TTM page limit is half of it, far
 * above what any case populates (two 1 MiB managers hold 512 pages), and the pool's "above the
 * allocation limit" case (2048 pages) fits with room to spare.
 */
export const TEST_SYSTEM_PAGES = 8192;

/** The struct device stand-in of a KUnit DRM device. */
export interface kunit_device {
  readonly name: string;
  coherent_dma_mask: number;
}

/** The parts of struct drm_device that TTM uses. */
export interface kunit_drm_device {
  readonly dev: kunit_device;
  /** drm->anon_inode->i_mapping. */
  readonly anon_inode_mapping: address_space;
  vma_offset_manager: drm_vma_offset_manager | null;
}

/** struct ttm_test_devices. */
export interface ttm_test_devices {
  readonly k: Kernel;
  readonly dev: kunit_device;
  readonly drm: kunit_drm_device;
  ttm_dev: ttm_device | null;
}

let deviceSerial = 0;
let boSerial = 0;

/** A fresh kernel for one test case. */
export function testKernel(systemPages = TEST_SYSTEM_PAGES): Kernel {
  return new Kernel({ trace: false, memory: { system: systemPages } });
}

/** ttm_test_devices_basic(): a KUnit DRM device with coherent_dma_mask = -1, no ttm_device. */
export function ttm_test_devices_basic(k: Kernel = testKernel()): ttm_test_devices {
  const dev: kunit_device = { name: "kunit-device", coherent_dma_mask: -1 };
  const drm: kunit_drm_device = {
    dev,
    anon_inode_mapping: new address_space(k, "drm.anon_inode"),
    vma_offset_manager: drm_vma_offset_manager_init(),
  };
  return { k, dev, drm, ttm_dev: null };
}

/** ttm_test_devices_all(): basic devices plus a ttm_device with the mock funcs, no DMA alloc. */
export function ttm_test_devices_all(k: Kernel = testKernel()): ttm_test_devices {
  const devs = ttm_test_devices_basic(k);
  const ttm_dev = newTtmDevice(devs);
  expect(ttm_device_kunit_init(devs, ttm_dev, 0)).toBe(0);
  devs.ttm_dev = ttm_dev;
  return devs;
}

/** ttm_test_devices_put(): tears the ttm_device down (the suite exit). */
export function ttm_test_devices_put(devs: ttm_test_devices): void {
  const bdev = devs.ttm_dev;
  if (bdev !== null && bdev.man_drv[TTM_PL_SYSTEM] !== null)
    runTask(devs.k, () => ttm_device_fini(bdev));
}

/** kzalloc(sizeof(struct ttm_device)): an uninitialised device. */
export function newTtmDevice(devs: ttm_test_devices): ttm_device {
  return new ttm_device(devs.k, `ttm${deviceSerial++}`);
}

/** The device of a suite that has one. */
export function ttmDev(devs: ttm_test_devices): ttm_device {
  const bdev = devs.ttm_dev;
  if (bdev === null) throw new Error("this suite has no ttm_device");
  return bdev;
}

// --- the mock driver --------------------------------------------------------------------------

const sys_place: ttm_place = {
  fpfn: 0,
  lpfn: 0,
  mem_type: TTM_PL_SYSTEM,
  flags: TTM_PL_FLAG_FALLBACK,
};
const mock1_place: ttm_place = {
  fpfn: 0,
  lpfn: 0,
  mem_type: TTM_PL_MOCK1,
  flags: TTM_PL_FLAG_FALLBACK,
};
const mock2_place: ttm_place = {
  fpfn: 0,
  lpfn: 0,
  mem_type: TTM_PL_MOCK2,
  flags: TTM_PL_FLAG_FALLBACK,
};
const sys_placement: ttm_placement = { placement: [sys_place] };
const bad_placement: ttm_placement = { placement: [mock1_place] };
const mock_placement: ttm_placement = { placement: [mock2_place] };
const empty_placement: ttm_placement = { placement: [] };

/** ttm_tt_simple_create(): a cached tt with no extra pages. */
function ttm_tt_simple_create(bo: ttm_buffer_object, page_flags: number): ttm_tt | null {
  const tt = new ttm_tt();
  ttm_tt_init(tt, bo, page_flags, "cached", 0);
  return tt;
}

/** ttm_tt_simple_destroy(): kfree. */
function ttm_tt_simple_destroy(_bdev: ttm_device, _tt: ttm_tt): void {}

/**
 * mock_move(): null moves when there is nothing to copy and between SYSTEM and TT, a multihop
 * through TT for VRAM -> SYSTEM, a CPU copy otherwise.
 */
function* mock_move(
  bo: ttm_buffer_object,
  _evict: boolean,
  ctx: ttm_operation_ctx,
  new_mem: ttm_resource,
  hop: ttm_hop,
): Gen<number> {
  const old_mem = bo.resource;
  if (old_mem === null || (old_mem.mem_type === TTM_PL_SYSTEM && bo.ttm === null)) {
    yield* ttm_bo_move_null(bo, new_mem);
    return 0;
  }
  if (old_mem.mem_type === TTM_PL_VRAM && new_mem.mem_type === TTM_PL_SYSTEM) {
    hop.place = { fpfn: 0, lpfn: 0, mem_type: TTM_PL_TT, flags: TTM_PL_FLAG_TEMPORARY };
    return -EMULTIHOP;
  }
  if (
    (old_mem.mem_type === TTM_PL_SYSTEM && new_mem.mem_type === TTM_PL_TT) ||
    (old_mem.mem_type === TTM_PL_TT && new_mem.mem_type === TTM_PL_SYSTEM)
  ) {
    yield* ttm_bo_move_null(bo, new_mem);
    return 0;
  }
  return yield* ttm_bo_move_memcpy(bo, ctx, new_mem);
}

/** mock_evict_flags(): VRAM and SYSTEM evict to SYSTEM, TT to MOCK2, MOCK1 is purged. */
function mock_evict_flags(bo: ttm_buffer_object): ttm_placement {
  switch (bo.resource?.mem_type) {
    case TTM_PL_VRAM:
    case TTM_PL_SYSTEM:
      return sys_placement;
    case TTM_PL_TT:
      return mock_placement;
    default:
      // TTM_PL_MOCK1: "Purge objects coming from this domain"; others: left empty too.
      return empty_placement;
  }
}

/** bad_evict_flags(): everything evicts to MOCK1. */
function bad_evict_flags(_bo: ttm_buffer_object): ttm_placement {
  return bad_placement;
}

/** ttm_dev_funcs: the mock driver. */
export const ttm_dev_funcs: ttm_device_funcs = {
  ttm_tt_create: ttm_tt_simple_create,
  ttm_tt_destroy: ttm_tt_simple_destroy,
  move: mock_move,
  eviction_valuable: ttm_bo_eviction_valuable,
  evict_flags: mock_evict_flags,
};

/** ttm_dev_funcs_bad_evict: the mock driver whose evictions always go to MOCK1. */
export const ttm_dev_funcs_bad_evict: ttm_device_funcs = {
  ttm_tt_create: ttm_tt_simple_create,
  ttm_tt_destroy: ttm_tt_simple_destroy,
  move: mock_move,
  eviction_valuable: ttm_bo_eviction_valuable,
  evict_flags: bad_evict_flags,
};

function ttm_device_kunit_init_with_funcs(
  priv: ttm_test_devices,
  ttm: ttm_device,
  alloc_flags: number,
  funcs: ttm_device_funcs,
): number {
  const drm = priv.drm;
  return ttm_device_init(ttm, funcs, drm.anon_inode_mapping, drm.vma_offset_manager, alloc_flags);
}

/** ttm_device_kunit_init(): a ttm_device with the mock driver. */
export function ttm_device_kunit_init(
  priv: ttm_test_devices,
  ttm: ttm_device,
  alloc_flags: number,
): number {
  return ttm_device_kunit_init_with_funcs(priv, ttm, alloc_flags, ttm_dev_funcs);
}

/** ttm_device_kunit_init_bad_evict(): a ttm_device with the bad-evict mock driver. */
export function ttm_device_kunit_init_bad_evict(
  priv: ttm_test_devices,
  ttm: ttm_device,
  alloc_flags = 0,
): number {
  return ttm_device_kunit_init_with_funcs(priv, ttm, alloc_flags, ttm_dev_funcs_bad_evict);
}

/** BOs whose dummy destroy ran (drm_gem_object_release). */
export const destroyedBos = new WeakSet<ttm_buffer_object>();

/** dummy_ttm_bo_destroy(): releases the GEM object. */
export function dummy_ttm_bo_destroy(bo: ttm_buffer_object): void {
  destroyedBos.add(bo);
}

/**
 * drm_gem_private_object_init() of a zeroed BO: the GEM part only. The caller goes on with
 * ttm_bo_init_reserved(), which fills in the rest.
 */
export function gem_private_bo(devs: ttm_test_devices, size: number): ttm_buffer_object {
  const bdev = devs.ttm_dev ?? newTtmDevice(devs);
  return new ttm_buffer_object(devs.k, bdev, `bo:${boSerial++}`, size);
}

/**
 * ttm_bo_kunit_init(): a GEM-initialised BO (its own resv unless `resv` is given), bdev set,
 * destroy = dummy, kref 1, no resource, no tt, type device, not reserved.
 *
 * Upstream leaves bo->bdev NULL in suites with basic devices only (their reserve tests never
 * touch it); our BO needs a device object, so it gets an uninitialised one there.
 */
export function ttm_bo_kunit_init(
  devs: ttm_test_devices,
  size: number,
  resv: dma_resv | null,
): ttm_buffer_object {
  const bdev = devs.ttm_dev ?? newTtmDevice(devs);
  const bo = new ttm_buffer_object(devs.k, bdev, `bo:${boSerial++}`, size, resv);
  bo.destroy = dummy_ttm_bo_destroy;
  bo.kref = 1;
  bo.type = ttm_bo_type_device;
  return bo;
}

/** ttm_place_kunit_init(). */
export function ttm_place_kunit_init(mem_type: number, flags: number): ttm_place {
  return { fpfn: 0, lpfn: 0, mem_type, flags };
}

/** ttm_placement_kunit_init() of ttm_bo_validate_test.c. */
export function ttm_placement_kunit_init(...places: ttm_place[]): ttm_placement {
  return { placement: places };
}

// --- running kernel code ----------------------------------------------------------------------

/** Options of runTask. */
export interface RunTaskOptions {
  /** Accept WARN reports (for cases where upstream WARNs on purpose). */
  readonly allowWarnings?: boolean;
  /** Extra kernel threads to start after the test thread (e.g. a fence signaller). */
  readonly threads?: ReadonlyArray<{ readonly name: string; readonly body: () => Gen }>;
}

/**
 * Runs `body` as the kernel thread "test" (plus any extra threads) under the non-preemptive
 * scheduler until every thread is done, and checks that it ended cleanly: no oops, no deadlock,
 * no lockdep report and (unless allowed) no WARN.
 */
export function runTask(k: Kernel, body: () => Gen, options: RunTaskOptions = {}): RunOutcome {
  k.kthread("test", () => body());
  for (const t of options.threads ?? []) k.kthread(t.name, () => t.body());
  const outcome = k.sched.run(new NonPreemptive(), 1_000_000);
  if (outcome.kind === "bug") throw outcome.bug;
  expect(outcome).toEqual({ kind: "done" });
  const reports = k.reports.filter((r) => r.kind === "lockdep" || !options.allowWarnings);
  expect(reports.map((r) => r.headline)).toEqual([]);
  return outcome;
}

/** list_is_last(entry, head). */
export function list_is_last(entry: list_head<unknown>, head: list_head<unknown>): boolean {
  return entry.next === head;
}

/** The headlines of the WARNs the kernel reported. */
export function warnings(k: Kernel): string[] {
  return k.reports.filter((r) => r.kind === "warn").map((r) => r.headline);
}
