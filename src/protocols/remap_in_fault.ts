// io_remap_pfn_range from the fault handler (drm.git c58574c6 and the 2.6.15-2.6.18 compat
// code, history.md §2.2-§2.3, L9, L10): ->nopage takes the object lock and io_remap_pfn_range()s
// the whole VMA over the BO's current placement, then returns NOPAGE_REFAULT. That writes
// vm_flags (VM_PFNMAP) under mmap_lock held only for read, and remap_pte_range() BUGs on a PTE
// a sibling fault already populated; a later fault on the VMA, now VM_PFNMAP, hits do_no_page's
// BUG_ON(VM_PFNMAP).

import { dma_resv_lock, dma_resv_unlock } from "../kernel/dma_resv.js";
import type { Kernel } from "../kernel/kernel.js";
import { io_remap_pfn_range } from "../kernel/memory.js";
import type { NopageResult, vm_area_struct } from "../kernel/mm_types.js";
import type { Gen } from "../kernel/sched.js";
import type { ttm_buffer_object } from "../ttm/ttm_bo.js";
import { Protocol, type ProtocolConfig } from "./protocol.js";

export class RemapInFaultProtocol extends Protocol {
  constructor(k: Kernel, config: Extract<ProtocolConfig, { name: "remap-in-fault" }>) {
    super(k, config, false);
  }

  *mmap(bo: ttm_buffer_object, vma: vm_area_struct): Gen<number> {
    return this.mmapBo(bo, vma, 0, {
      name: "drm_bo_vm_nopage",
      nopage: (v, address) => this.nopage(v, address),
    });
  }

  private *nopage(vma: vm_area_struct, _address: number): Gen<NopageResult> {
    const site = "drm_bo_vm_nopage";
    const bo = vma.vm_private_data as ttm_buffer_object;
    yield* dma_resv_lock(bo.base.resv, null, site);
    yield* this.makeCpuReachable(bo);
    yield* this.waitKernelFences(bo, site);
    let ok = true;
    for (let address = vma.vm_start; address < vma.vm_end && ok; address++) {
      const pfn = yield* this.cpuPfnLocked(bo, this.pageIndex(bo, vma, address), "aperture");
      if (pfn === null) ok = false;
      else yield* io_remap_pfn_range(vma, address, pfn, 1, "uncached", "drm_bo_remap_bound");
    }
    yield* dma_resv_unlock(bo.base.resv, site);
    return ok ? { kind: "refault" } : { kind: "sigbus" };
  }
}
