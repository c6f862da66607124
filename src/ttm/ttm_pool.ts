// The page pool (drivers/gpu/drm/ttm/ttm_pool.c): pages for tts, kept per caching type and
// order so that pages whose caching was changed can be reused without changing it back.
//
// As upstream: allocation tries orders from the highest that fits downwards, pool first, then
// the page allocator; the first page of each block records its order in page->private (or, with
// coherent DMA allocation, a DMA handle). Freed blocks go back to the pool type of their caching
// and order when the pool keeps that type (every type with DMA allocation; otherwise only
// write-combined and uncached pages on x86 devices with a NUMA node, which the model does not
// have), else straight back to the page allocator; pages are cleared when pooled.
//
// Adapted: page "orders" are runs of order-0 system pages (the model's page allocator has no
// higher orders), and the DMA handle is a fake bus address derived from the PFN. Left out: the
// global UC/WC pools, DMA32, the shrinker and page_pool_size.

import { ENOMEM } from "../kernel/errno.js";
import type { Kernel } from "../kernel/kernel.js";
import { alloc_page, put_page } from "../kernel/page_alloc.js";
import type { StructPage } from "../kernel/physmem.js";
import type { Gen } from "../kernel/sched.js";
import type { ttm_operation_ctx } from "./ttm_bo.js";
import { TTM_CACHINGS, type ttm_caching } from "./ttm_placement.js";
import type { ttm_tt } from "./ttm_tt.js";

/** MAX_PAGE_ORDER of the kernel the KUnit tests ran on. */
export const MAX_PAGE_ORDER = 10;
export const NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1;
export const NUMA_NO_NODE = -1;

/** Allocation flags (include/drm/ttm/ttm_allocation.h). */
export const TTM_ALLOCATION_POOL_USE_DMA_ALLOC = 1 << 0;
export const TTM_ALLOCATION_POOL_USE_DMA32 = 1 << 1;
/** Don't turn a final -ENOSPC of ttm_bo_validate into -ENOMEM. */
export const TTM_ALLOCATION_PROPAGATE_ENOSPC = 1 << 2;

/** A block of 2^order pages as the pool keeps it. */
export interface PoolBlock {
  readonly order: number;
  readonly pages: StructPage[];
}

/** struct ttm_pool_type: free blocks of one caching and order. */
export class ttm_pool_type {
  /** The pooled blocks, most recently given last. */
  readonly blocks: PoolBlock[] = [];

  /** The first pages of the pooled blocks (the kernel's `pages` list). */
  get pages(): readonly StructPage[] {
    return this.blocks.map((b) => b.pages[0]!);
  }

  constructor(
    readonly pool: ttm_pool,
    readonly caching: ttm_caching,
    readonly order: number,
  ) {}
}

/** struct ttm_pool. */
export class ttm_pool {
  /** caching[c].orders[o], indexed like TTM_CACHINGS. */
  readonly caching: Array<{ orders: ttm_pool_type[] }>;

  constructor(
    readonly k: Kernel,
    readonly dev: unknown,
    readonly nid: number,
    readonly alloc_flags: number,
  ) {
    this.caching = TTM_CACHINGS.map((c) => ({
      orders: Array.from({ length: NR_PAGE_ORDERS }, (_, o) => new ttm_pool_type(this, c, o)),
    }));
  }

  get use_dma_alloc(): boolean {
    return (this.alloc_flags & TTM_ALLOCATION_POOL_USE_DMA_ALLOC) !== 0;
  }
}

/** ttm_pool_init(). */
export function ttm_pool_init(k: Kernel, dev: unknown, nid: number, alloc_flags: number): ttm_pool {
  return new ttm_pool(k, dev, nid, alloc_flags);
}

/**
 * ttm_pool_select_type(): the pool type that keeps blocks of `caching` and `order`, or null
 * when such blocks go straight back to the page allocator.
 */
export function ttm_pool_select_type(
  pool: ttm_pool,
  caching: ttm_caching,
  order: number,
): ttm_pool_type | null {
  if (!pool.use_dma_alloc) return null;
  return pool.caching[TTM_CACHINGS.indexOf(caching)]!.orders[order]!;
}

/** A fake but unique, non-zero DMA handle for a page. */
function dmaHandle(page: StructPage): number {
  return page.frame.pfn * 4096;
}

/** Marks the first page of a block as upstream does (order, or a DMA handle). */
function markBlock(pool: ttm_pool, block: PoolBlock): void {
  block.pages[0]!.private = pool.use_dma_alloc ? dmaHandle(block.pages[0]!) : block.order;
}

/** Allocates 2^order pages from the page allocator; null (and nothing kept) on failure. */
function allocBlock(pool: ttm_pool, order: number): PoolBlock | null {
  const pages: StructPage[] = [];
  for (let i = 0; i < 1 << order; i++) {
    const page = alloc_page(pool.k, null, "ttm_pool_alloc_page");
    if (page === null) {
      for (const p of pages) put_page(pool.k, p, "ttm_pool_alloc_page");
      return null;
    }
    pages.push(page);
  }
  const block = { order, pages };
  markBlock(pool, block);
  return block;
}

/** ttm_pool_type_take(): a pooled block of this type, or null. */
function takeBlock(type: ttm_pool_type): PoolBlock | null {
  const block = type.blocks.pop();
  if (block === undefined) return null;
  for (const page of block.pages) page.refcount = 1;
  return block;
}

/** ttm_pool_type_give(): clears a block and keeps it in its pool type. */
function giveBlock(pool: ttm_pool, type: ttm_pool_type, block: PoolBlock): void {
  for (const page of block.pages) {
    pool.k.mem.clearPage(page.frame);
    pool.k.mem.setOwner(page.frame, null, "ttm_pool_type_give");
    page.refcount = 0;
  }
  markBlock(pool, block);
  type.blocks.push(block);
}

/** Frees a block to its pool type when the pool keeps that type, else to the page allocator. */
function freeBlock(pool: ttm_pool, caching: ttm_caching, block: PoolBlock): void {
  const type = ttm_pool_select_type(pool, caching, block.order);
  if (type !== null) {
    giveBlock(pool, type, block);
    return;
  }
  for (const page of block.pages) {
    page.private = 0;
    put_page(pool.k, page, "ttm_pool_free_page");
  }
}

/**
 * ttm_pool_alloc(): fills `tt.pages`, highest order first, pool before page allocator.
 * Returns 0 or -ENOMEM (everything allocated so far is freed again).
 */
export function* ttm_pool_alloc(pool: ttm_pool, tt: ttm_tt, ctx: ttm_operation_ctx): Gen<number> {
  pool.k.sched.touch(tt, true);
  void ctx;
  const pages = tt.pages!;
  const blocks: PoolBlock[] = [];
  let i = 0;
  while (i < tt.num_pages) {
    let block: PoolBlock | null = null;
    for (
      let order = Math.min(MAX_PAGE_ORDER, Math.floor(Math.log2(tt.num_pages - i)));
      order >= 0;
      order--
    ) {
      const type = ttm_pool_select_type(pool, tt.caching, order);
      block = (type === null ? null : takeBlock(type)) ?? allocBlock(pool, order);
      if (block !== null) break;
    }
    if (block === null) {
      for (const b of blocks) freeBlock(pool, tt.caching, b);
      pages.fill(null);
      tt.poolBlocks = [];
      return -ENOMEM;
    }
    blocks.push(block);
    for (const page of block.pages) {
      pool.k.mem.setOwner(page.frame, { name: tt.ownerName, index: i }, "ttm_pool_alloc");
      if (tt.dma_address !== null) tt.dma_address[i] = dmaHandle(page);
      pages[i++] = page;
    }
  }
  tt.poolBlocks = blocks.map((b) => b.order);
  return 0;
}

/** ttm_pool_free(): gives every block of `tt` back, to its pool type or to the page allocator. */
export function ttm_pool_free(pool: ttm_pool, tt: ttm_tt): void {
  pool.k.sched.touch(tt, true);
  const pages = tt.pages;
  if (pages === null) return;
  let i = 0;
  for (const order of tt.poolBlocks) {
    const blockPages = pages.slice(i, i + (1 << order)).filter((p): p is StructPage => p !== null);
    freeBlock(pool, tt.caching, { order, pages: blockPages });
    i += 1 << order;
  }
  pages.fill(null);
  tt.poolBlocks = [];
}

/** ttm_pool_fini(): frees every pooled page. */
export function ttm_pool_fini(pool: ttm_pool): void {
  for (const c of pool.caching) {
    for (const type of c.orders) {
      for (const block of type.blocks.splice(0)) {
        for (const page of block.pages) {
          page.refcount = 1;
          page.private = 0;
          put_page(pool.k, page, "ttm_pool_fini");
        }
      }
    }
  }
}
