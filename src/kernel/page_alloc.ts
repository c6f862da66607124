// The page allocator and struct page reference counting (mm/page_alloc.c, include/linux/mm.h
// get_page/put_page, mm/rmap.c page_add_file_rmap/page_remove_rmap). System RAM frames come
// from one free list; a freed page goes to the head, so the next allocation reuses it at once,
// which is the reuse that turns a stale PTE into a visible isolation breach.
//
// Misuse is a kernel bug, as with CONFIG_DEBUG_VM: freeing a free page ("Bad page state"),
// dropping a reference to a free page, freeing a page that is still mapped.
//
// Left out: orders above 0 (pools hand out order-0 pages; ttm_pool keeps its own orders),
// zones, watermarks and reclaim (allocation fails with null when the free list is empty).

import type { Site } from "../trace/index.js";
import { BUG } from "./bug.js";
import type { Kernel } from "./kernel.js";
import { type FrameOwner, pfnName, type StructPage } from "./physmem.js";

/** Number of free system pages. */
export function nr_free_pages(k: Kernel): number {
  return k.mem.freePages.length;
}

/**
 * alloc_page(): takes a free system page, sets its refcount to 1 and its owner. Returns null
 * when memory is exhausted (the model has no reclaim). `zero` clears it (__GFP_ZERO).
 */
export function alloc_page(
  k: Kernel,
  owner: FrameOwner | null,
  site: Site,
  zero = true,
): StructPage | null {
  const page = k.mem.freePages.pop();
  if (page === undefined) return null;
  page.refcount = 1;
  page.mapcount = 0;
  page.private = 0;
  if (zero) k.mem.clearPage(page.frame);
  k.mem.setOwner(page.frame, owner, site);
  return page;
}

/** get_page(): takes a reference on a page that is in use. */
export function get_page(page: StructPage, site: Site): void {
  if (page.refcount <= 0) {
    BUG(
      site,
      `VM_BUG_ON_PAGE(page_ref_count(page) <= 0): get_page on free page ${pfnName(page.frame.pfn)}`,
    );
  }
  page.refcount++;
}

/** put_page(): drops a reference; the last one frees the page. */
export function put_page(k: Kernel, page: StructPage, site: Site): void {
  if (page.refcount <= 0) {
    BUG(
      site,
      `BUG: Bad page state: put_page on free page ${pfnName(page.frame.pfn)} (refcount ${page.refcount})`,
    );
  }
  page.refcount--;
  if (page.refcount === 0) freePage(k, page, site);
}

/** __free_page(): frees a page the caller holds the only reference to. */
export function __free_page(k: Kernel, page: StructPage, site: Site): void {
  if (page.refcount !== 1) {
    BUG(
      site,
      page.refcount <= 0
        ? `BUG: Bad page state: double free of page ${pfnName(page.frame.pfn)}`
        : `BUG: Bad page state: freeing page ${pfnName(page.frame.pfn)} with refcount ${page.refcount}`,
    );
  }
  page.refcount = 0;
  freePage(k, page, site);
}

function freePage(k: Kernel, page: StructPage, site: Site): void {
  if (page.frame.pool !== "system") {
    BUG(
      site,
      `BUG: Bad page state: freeing device page ${pfnName(page.frame.pfn)} to the page allocator`,
    );
  }
  if (page.mapcount !== 0) {
    BUG(
      site,
      `BUG: Bad page state: page ${pfnName(page.frame.pfn)} freed while mapped (mapcount ${page.mapcount})`,
    );
  }
  k.mem.setOwner(page.frame, null, site);
  k.mem.freePages.push(page);
}

/** page_add_file_rmap(): a PTE now maps the page. */
export function page_add_file_rmap(page: StructPage): void {
  page.mapcount++;
}

/** page_remove_rmap(): a PTE that mapped the page was cleared. */
export function page_remove_rmap(page: StructPage, site: Site): void {
  if (page.mapcount <= 0)
    BUG(site, `BUG: Bad page map count for ${pfnName(page.frame.pfn)}: ${page.mapcount}`);
  page.mapcount--;
}
