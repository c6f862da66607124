// The page vector of tt-backed placements (drivers/gpu/drm/ttm/ttm_tt.c,
// include/drm/ttm/ttm_tt.h): creation, population from the page pool with global page
// accounting (which may swap out other BOs first), unpopulation, and swapout to / swapin from a
// simulated shmem file.
//
// Left out: the 6.15 backup/restore helpers and partial backups, DMA32 accounting, decrypted
// pages. The shmem file is modelled as a copy of each page's words; a device-wide swap limit
// lets tests make shmem allocation fail.

import { BUG } from "../kernel/bug.js";
import { dma_resv_assert_held } from "../kernel/dma_resv.js";
import { EINVAL, ENOMEM } from "../kernel/errno.js";
import type { StructPage } from "../kernel/physmem.js";
import type { Gen } from "../kernel/sched.js";
import {
  ttm_bo_type_device,
  ttm_bo_type_kernel,
  ttm_bo_type_sg,
  type ttm_buffer_object,
  type ttm_operation_ctx,
} from "./ttm_bo.js";
import { type TtmGlobal, type ttm_device, ttm_global_swapout, ttmGlobal } from "./ttm_device.js";
import type { ttm_caching } from "./ttm_placement.js";
import { ttm_pool_alloc, ttm_pool_free } from "./ttm_pool.js";
import { PAGE_SIZE } from "./ttm_resource.js";

export const TTM_TT_FLAG_SWAPPED = 1 << 0;
export const TTM_TT_FLAG_ZERO_ALLOC = 1 << 1;
export const TTM_TT_FLAG_EXTERNAL = 1 << 2;
export const TTM_TT_FLAG_EXTERNAL_MAPPABLE = 1 << 3;
export const TTM_TT_FLAG_DECRYPTED = 1 << 4;
export const TTM_TT_FLAG_BACKED_UP = 1 << 5;
export const TTM_TT_FLAG_PRIV_POPULATED = 1 << 31;

/** struct ttm_tt. Its id is what a change of its page vector touches. */
export class ttm_tt {
  id = 0;
  name = "tt";
  /** The pages, or null after ttm_tt_fini. Entries are null until populated. */
  pages: (StructPage | null)[] | null = null;
  num_pages = 0;
  page_flags = 0;
  caching: ttm_caching = "cached";
  /** DMA addresses (sg tts only), or null. */
  dma_address: number[] | null = null;
  /** The shmem copy of the pages while swapped out: one word array per page. */
  swap_storage: number[][] | null = null;
  /** Name of the owning BO, used as the frame owner of its pages. */
  ownerName = "";
  /** Orders of the pool blocks that make up `pages`, in order (ttm_pool's bookkeeping). */
  poolBlocks: number[] = [];
}

/** ttm_tt_is_populated(). */
export function ttm_tt_is_populated(tt: ttm_tt): boolean {
  return (tt.page_flags & TTM_TT_FLAG_PRIV_POPULATED) !== 0;
}

/** ttm_tt_is_swapped(). */
export function ttm_tt_is_swapped(tt: ttm_tt): boolean {
  return (tt.page_flags & TTM_TT_FLAG_SWAPPED) !== 0;
}

/**
 * ttm_tt_init(): sizes the page vector for `bo` (PAGE_ALIGN(size) / PAGE_SIZE + extra_pages).
 * Returns 0.
 */
export function ttm_tt_init(
  tt: ttm_tt,
  bo: ttm_buffer_object,
  page_flags: number,
  caching: ttm_caching,
  extra_pages: number,
): number {
  tt.num_pages = Math.ceil(bo.base.size / PAGE_SIZE) + extra_pages;
  tt.page_flags = page_flags;
  tt.caching = caching;
  tt.dma_address = null;
  tt.swap_storage = null;
  tt.ownerName = bo.name;
  tt.id = bo.k.newId();
  tt.name = `${bo.name}.tt`;
  tt.pages = new Array<StructPage | null>(tt.num_pages).fill(null);
  return 0;
}

/** ttm_sg_tt_init(): as ttm_tt_init, with a DMA address vector. */
export function ttm_sg_tt_init(
  tt: ttm_tt,
  bo: ttm_buffer_object,
  page_flags: number,
  caching: ttm_caching,
): number {
  ttm_tt_init(tt, bo, page_flags, caching, 0);
  tt.dma_address = new Array<number>(tt.num_pages).fill(0);
  return 0;
}

/**
 * The simulated shmem files of swapped-out tts, with the global state whose swap space they
 * take: fput() of the last reference gives that space back.
 */
const shmemFiles = new WeakMap<number[][], { glob: TtmGlobal; pages: number }>();

/** ttm_tt_fini(): releases the vectors and the swap storage (fput of the shmem file). */
export function ttm_tt_fini(tt: ttm_tt): void {
  const storage = tt.swap_storage;
  const file = storage === null ? undefined : shmemFiles.get(storage);
  if (storage !== null && file !== undefined) {
    file.glob.swap_pages_used -= file.pages;
    shmemFiles.delete(storage);
  }
  tt.pages = null;
  tt.dma_address = null;
  tt.swap_storage = null;
}

/**
 * ttm_tt_create(): gives `bo` a tt if it has none. Caller holds the BO's resv.
 * Returns 0, -EINVAL for an unknown BO type, -ENOMEM when the driver cannot create one.
 */
export function ttm_tt_create(bo: ttm_buffer_object, zero_alloc: boolean): number {
  dma_resv_assert_held(bo.base.resv, "ttm_tt_create");
  if (bo.ttm !== null) return 0;
  let page_flags = 0;
  switch (bo.type) {
    case ttm_bo_type_device:
      if (zero_alloc) page_flags |= TTM_TT_FLAG_ZERO_ALLOC;
      break;
    case ttm_bo_type_kernel:
      break;
    case ttm_bo_type_sg:
      page_flags = TTM_TT_FLAG_EXTERNAL;
      break;
    default:
      return -EINVAL;
  }
  const tt = bo.bdev.funcs.ttm_tt_create(bo, page_flags);
  if (tt === null) return -ENOMEM;
  bo.ttm = tt;
  return 0;
}

/** ttm_tt_destroy(): hands the tt back to the driver. */
export function ttm_tt_destroy(bdev: ttm_device, tt: ttm_tt): void {
  bdev.funcs.ttm_tt_destroy(bdev, tt);
}

/**
 * ttm_tt_populate(): allocates the pages (accounting them first and swapping other BOs out
 * while over the global limit), then swaps this tt back in if it was swapped out.
 * Returns 0, -EINVAL for a null tt, or -ENOMEM.
 */
export function* ttm_tt_populate(
  bdev: ttm_device,
  tt: ttm_tt | null,
  ctx: ttm_operation_ctx,
): Gen<number> {
  if (tt === null) return -EINVAL;
  if (ttm_tt_is_populated(tt)) return 0;
  const glob = ttmGlobal(bdev.k);
  const external = (tt.page_flags & TTM_TT_FLAG_EXTERNAL) !== 0;
  yield { op: "write", obj: bdev.k.mem.allocator, site: "ttm_tt_populate" };
  if (!external) {
    glob.pages_allocated += tt.num_pages;
    while (glob.pages_allocated > glob.pages_limit) {
      const swapped = yield* ttm_global_swapout(bdev.k, ctx);
      if (swapped <= 0) break;
    }
  }
  const ret =
    bdev.funcs.ttm_tt_populate !== undefined
      ? yield* bdev.funcs.ttm_tt_populate(bdev, tt, ctx)
      : yield* ttm_pool_alloc(bdev.pool, tt, ctx);
  if (ret !== 0) {
    if (!external) glob.pages_allocated -= tt.num_pages;
    return ret;
  }
  tt.page_flags |= TTM_TT_FLAG_PRIV_POPULATED;
  tt.page_flags &= ~TTM_TT_FLAG_BACKED_UP;
  if (ttm_tt_is_swapped(tt)) {
    const swapin = ttm_tt_swapin(bdev, tt);
    if (swapin !== 0) {
      yield* ttm_tt_unpopulate(bdev, tt);
      return swapin;
    }
  }
  return 0;
}

/** ttm_tt_unpopulate(): gives the pages back. A tt that was never populated is a no-op. */
export function* ttm_tt_unpopulate(bdev: ttm_device, tt: ttm_tt): Gen {
  if (!ttm_tt_is_populated(tt)) return;
  yield { op: "write", obj: bdev.k.mem.allocator, site: "ttm_tt_unpopulate" };
  if (bdev.funcs.ttm_tt_unpopulate !== undefined) yield* bdev.funcs.ttm_tt_unpopulate(bdev, tt);
  else ttm_pool_free(bdev.pool, tt);
  tt.page_flags &= ~TTM_TT_FLAG_PRIV_POPULATED;
  if ((tt.page_flags & TTM_TT_FLAG_EXTERNAL) === 0)
    ttmGlobal(bdev.k).pages_allocated -= tt.num_pages;
}

/** ttm_tt_mark_for_clear(): the next population must hand out zeroed pages. */
export function ttm_tt_mark_for_clear(tt: ttm_tt): void {
  tt.page_flags |= TTM_TT_FLAG_ZERO_ALLOC;
}

/**
 * ttm_tt_swapout(): copies the pages to shmem, unpopulates and marks the tt SWAPPED.
 * Returns the number of pages swapped out (positive), or -ENOMEM when shmem has no room.
 */
export function* ttm_tt_swapout(bdev: ttm_device, tt: ttm_tt): Gen<number> {
  const glob = ttmGlobal(bdev.k);
  if (glob.swap_pages_used + tt.num_pages > glob.swap_pages_limit) return -ENOMEM;
  const pages = tt.pages;
  if (pages === null) BUG("ttm_tt_swapout", "swapout of a finalised tt");
  for (const p of pages) if (p !== null) bdev.k.sched.touch(p.frame, false);
  tt.swap_storage = pages.map((p) => (p === null ? [] : [...p.frame.words]));
  glob.swap_pages_used += tt.num_pages;
  shmemFiles.set(tt.swap_storage, { glob, pages: tt.num_pages });
  yield* ttm_tt_unpopulate(bdev, tt);
  tt.page_flags |= TTM_TT_FLAG_SWAPPED;
  return tt.num_pages;
}

/** ttm_tt_swapin(): copies shmem back into freshly populated pages. Returns 0. */
export function ttm_tt_swapin(bdev: ttm_device, tt: ttm_tt): number {
  const storage = tt.swap_storage;
  if (storage === null || tt.pages === null) return -EINVAL;
  bdev.k.sched.touch(tt, true);
  tt.pages.forEach((p, i) => {
    if (p !== null) bdev.k.sched.touch(p.frame, true);
    const words = storage[i];
    if (p !== null && words !== undefined)
      for (let w = 0; w < words.length; w++) p.frame.words[w] = words[w]!;
  });
  ttmGlobal(bdev.k).swap_pages_used -= tt.num_pages;
  shmemFiles.delete(storage);
  tt.swap_storage = null;
  tt.page_flags &= ~TTM_TT_FLAG_SWAPPED;
  return 0;
}
