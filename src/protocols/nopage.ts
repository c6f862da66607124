// Ben Herrenschmidt's 2006 design with struct pages everywhere (history.md §0, §1.2, L7):
// VRAM has struct pages (sparsemem, as spufs did), the VMA is an ordinary file mapping, and
// ->nopage takes the object lock, finds the page of the BO's current placement, takes a
// reference, drops the lock and returns the page. do_no_page() installs it, protected against a
// racing unmap_mapping_range() by the truncate_count recheck (the `truncateCheck` option turns
// the check off in the simulated kernel). The mover takes the object lock, and the TTM core's
// move unmaps (unmap_mapping_range) before copying.

import { dma_resv_lock, dma_resv_unlock } from "../kernel/dma_resv.js";
import type { Kernel } from "../kernel/kernel.js";
import type { NopageResult, vm_area_struct } from "../kernel/mm_types.js";
import { get_page } from "../kernel/page_alloc.js";
import type { Gen } from "../kernel/sched.js";
import type { ttm_buffer_object } from "../ttm/ttm_bo.js";
import { Protocol, type ProtocolConfig } from "./protocol.js";

export class NopageProtocol extends Protocol {
  constructor(k: Kernel, config: Extract<ProtocolConfig, { name: "nopage" }>) {
    super(k, config, false);
  }

  *mmap(bo: ttm_buffer_object, vma: vm_area_struct): Gen<number> {
    return this.mmapBo(bo, vma, 0, {
      name: "drm_bo_vm_nopage",
      nopage: (v, address) => this.nopage(v, address),
    });
  }

  /** ->nopage: the object lock is only a synchronisation point around finding the page. */
  private *nopage(vma: vm_area_struct, address: number): Gen<NopageResult> {
    const site = "drm_bo_vm_nopage";
    const bo = vma.vm_private_data as ttm_buffer_object;
    yield* dma_resv_lock(bo.base.resv, null, site);
    yield* this.makeCpuReachable(bo);
    yield* this.waitKernelFences(bo, site);
    const pfn = yield* this.cpuPfnLocked(bo, this.pageIndex(bo, vma, address), "pages");
    const page = pfn === null ? null : this.k.mem.pfnToPage(pfn);
    if (page !== null) get_page(page, site);
    yield* dma_resv_unlock(bo.base.resv, site);
    return page === null ? { kind: "sigbus" } : { kind: "page", page };
  }
}
