// NOPAGE_RETRY / vm_insert_pfn (Ben's and Nick Piggin's recipe, history.md §0 and §1.4, drm
// >= 2.6.21): the handler blocks on the object lock under mmap_lock, inserts the PTE itself with
// vm_insert_pfn while still holding it ("the PTE insertion uses the same lock as whatever can
// trigger the unmapping"), treats an already present PTE as success, drops the lock and returns
// "refault" (VM_FAULT_NOPAGE). The mover takes the same lock around unmap_mapping_range.

import { dma_resv_lock, dma_resv_unlock } from "../kernel/dma_resv.js";
import type { Kernel } from "../kernel/kernel.js";
import { vm_insert_pfn } from "../kernel/memory.js";
import {
  VM_FAULT_NOPAGE,
  VM_FAULT_SIGBUS,
  VM_PFNMAP,
  type vm_area_struct,
  type vm_fault,
  type vm_fault_t,
} from "../kernel/mm_types.js";
import type { Gen } from "../kernel/sched.js";
import type { ttm_buffer_object } from "../ttm/ttm_bo.js";
import { Protocol, type ProtocolConfig } from "./protocol.js";

export class InsertPfnProtocol extends Protocol {
  constructor(k: Kernel, config: Extract<ProtocolConfig, { name: "insert-pfn" }>) {
    super(k, config, false);
  }

  *mmap(bo: ttm_buffer_object, vma: vm_area_struct): Gen<number> {
    return this.mmapBo(bo, vma, VM_PFNMAP, {
      name: "drm_bo_vm_fault",
      fault: (vmf) => this.fault(vmf),
    });
  }

  private *fault(vmf: vm_fault): Gen<vm_fault_t> {
    const site = "drm_bo_vm_fault";
    const vma = vmf.vma;
    const bo = vma.vm_private_data as ttm_buffer_object;
    yield* dma_resv_lock(bo.base.resv, null, site);
    yield* this.makeCpuReachable(bo);
    yield* this.waitKernelFences(bo, site);
    const pfn = yield* this.cpuPfnLocked(bo, this.pageIndex(bo, vma, vmf.address), "aperture");
    // -EBUSY (a sibling fault was faster) is success: the PTE is there.
    if (pfn !== null) yield* vm_insert_pfn(vma, vmf.address, pfn);
    yield* dma_resv_unlock(bo.base.resv, site);
    return pfn === null ? VM_FAULT_SIGBUS : VM_FAULT_NOPAGE;
  }
}
