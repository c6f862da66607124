// ->nopfn (2.6.19, history.md §1.4, L8): the handler takes the object lock, computes the PFN of
// the BO's current placement, drops the lock and returns it; do_no_pfn() installs it if the PTE
// is still none, with no truncate_count recheck, so a move that runs between the two leaves a
// PTE to memory the BO no longer owns. Bound TT pages are mapped through the AGP aperture, as
// the 2006 DRM code did.

import { dma_resv_lock, dma_resv_unlock } from "../kernel/dma_resv.js";
import type { Kernel } from "../kernel/kernel.js";
import { type NopfnResult, VM_PFNMAP, type vm_area_struct } from "../kernel/mm_types.js";
import type { Gen } from "../kernel/sched.js";
import type { ttm_buffer_object } from "../ttm/ttm_bo.js";
import { Protocol, type ProtocolConfig } from "./protocol.js";

export class NopfnProtocol extends Protocol {
  constructor(k: Kernel, config: Extract<ProtocolConfig, { name: "nopfn" }>) {
    super(k, config, false);
  }

  *mmap(bo: ttm_buffer_object, vma: vm_area_struct): Gen<number> {
    return this.mmapBo(bo, vma, VM_PFNMAP, {
      name: "drm_bo_vm_nopfn",
      nopfn: (v, address) => this.nopfn(v, address),
    });
  }

  private *nopfn(vma: vm_area_struct, address: number): Gen<NopfnResult> {
    const site = "drm_bo_vm_nopfn";
    const bo = vma.vm_private_data as ttm_buffer_object;
    yield* dma_resv_lock(bo.base.resv, null, site);
    yield* this.makeCpuReachable(bo);
    yield* this.waitKernelFences(bo, site);
    const pfn = yield* this.cpuPfnLocked(bo, this.pageIndex(bo, vma, address), "aperture");
    yield* dma_resv_unlock(bo.base.resv, site);
    return pfn === null ? { kind: "sigbus" } : { kind: "pfn", pfn };
  }
}
