// Modern TTM (ttm-modern.md §2.2-§2.5): mmap takes a BO reference and sets up a PFN map with no
// PTEs; the fault trylocks the reservation (on contention: drop mmap_lock, wait, VM_FAULT_RETRY),
// waits for KERNEL fences the same way, and inserts up to `prefault` PFNs with
// vmf_insert_pfn_prot; moves are GPU copies completed through ghost objects when `pipelined`.
// Like amdgpu_bo_fault_reserve_notify, a fault on a BO in VRAM beyond the CPU-visible window
// first moves it into the window (a move from inside a fault, litmus L6).

import { dma_resv_unlock } from "../kernel/dma_resv.js";
import type { Kernel } from "../kernel/kernel.js";
import {
  FAULT_FLAG_RETRY_NOWAIT,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  type vm_area_struct,
  type vm_fault,
  type vm_fault_t,
} from "../kernel/mm_types.js";
import type { Gen } from "../kernel/sched.js";
import type { ttm_buffer_object } from "../ttm/ttm_bo.js";
import {
  ttm_bo_mmap_obj,
  ttm_bo_vm_close,
  ttm_bo_vm_fault_reserved,
  ttm_bo_vm_open,
  ttm_bo_vm_reserve,
} from "../ttm/ttm_bo_vm.js";
import { Protocol, type ProtocolConfig } from "./protocol.js";

export class TtmProtocol extends Protocol {
  private readonly prefault: number;

  constructor(k: Kernel, config: Extract<ProtocolConfig, { name: "ttm" }>) {
    super(k, config, config.pipelined);
    this.prefault = config.prefault;
  }

  *mmap(bo: ttm_buffer_object, vma: vm_area_struct): Gen<number> {
    vma.vm_ops = {
      name: "simdrm_gem_fault",
      fault: (vmf) => this.fault(vmf),
      open: ttm_bo_vm_open,
      close: ttm_bo_vm_close,
    };
    return ttm_bo_mmap_obj(vma, bo);
  }

  /** The driver's ->fault: ttm_bo_vm_fault plus the move into visible VRAM. */
  private *fault(vmf: vm_fault): Gen<vm_fault_t> {
    const site = "simdrm_gem_fault";
    const bo = vmf.vma.vm_private_data as ttm_buffer_object;
    let ret = yield* ttm_bo_vm_reserve(bo, vmf);
    if (ret !== 0) return ret;
    if ((yield* this.makeCpuReachable(bo)) !== 0) {
      yield* dma_resv_unlock(bo.base.resv, site);
      return VM_FAULT_SIGBUS;
    }
    ret = yield* ttm_bo_vm_fault_reserved(vmf, vmf.vma.vm_page_prot, this.prefault);
    if (ret === VM_FAULT_RETRY && !(vmf.flags & FAULT_FLAG_RETRY_NOWAIT)) return ret;
    yield* dma_resv_unlock(bo.base.resv, site);
    return ret;
  }
}
