// CPU mappings of BOs (drivers/gpu/drm/ttm/ttm_bo_vm.c): mmap, VMA open/close references,
// and the fault handler: trylock the resv (else drop mmap_lock, wait for the holder and return
// VM_FAULT_RETRY, holding a BO reference meanwhile), wait for KERNEL fences (pipelined moves)
// the same way, io-reserve, compute the page offset, populate the tt, and insert up to
// `num_prefault` PFNs with vmf_insert_pfn_prot, choosing the caching per fault from the current
// placement. After device removal every page of the VMA maps one dummy zero page.
//
// The invariant this keeps: a PFN of the BO is only inserted with its resv held and after its
// KERNEL fences signalled; every move zaps the PTEs with the same resv held.
//
// Left out: ttm_bo_vm_access (ptrace), the per-VMA lock path (TTM VMAs fault under mmap_lock).

import {
  DMA_RESV_USAGE_KERNEL,
  dma_resv_lock_interruptible,
  dma_resv_test_signaled,
  dma_resv_trylock,
  dma_resv_unlock,
  dma_resv_wait_timeout,
} from "../kernel/dma_resv.js";
import { EAGAIN, EINTR, EINVAL, ERESTARTSYS } from "../kernel/errno.js";
import { vmf_insert_pfn_prot } from "../kernel/memory.js";
import {
  FAULT_FLAG_ALLOW_RETRY,
  FAULT_FLAG_RETRY_NOWAIT,
  FAULT_FLAG_TRIED,
  is_cow_mapping,
  mmap_read_unlock,
  type pgprot_t,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_FAULT_ERROR,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_PFNMAP,
  type vm_area_struct,
  type vm_fault,
  type vm_fault_t,
  type vm_operations_struct,
} from "../kernel/mm_types.js";
import { alloc_page } from "../kernel/page_alloc.js";
import type { Gen } from "../kernel/sched.js";
import { drm_vma_node_start } from "./drm_vma_manager.js";
import {
  ttm_bo_get,
  ttm_bo_populate,
  ttm_bo_put,
  type ttm_buffer_object,
  ttm_ctx,
} from "./ttm_bo.js";
import { ttm_bo_page_pfn, ttm_io_prot, ttm_mem_io_reserve } from "./ttm_bo_util.js";
import { PFN_UP } from "./ttm_resource.js";
import { TTM_TT_FLAG_EXTERNAL, TTM_TT_FLAG_EXTERNAL_MAPPABLE } from "./ttm_tt.js";

/** TTM_BO_VM_NUM_PREFAULT. */
export const TTM_BO_VM_NUM_PREFAULT = 16;

/** fault_flag_allow_retry_first(): retry allowed and this is not already the retried attempt. */
export function fault_flag_allow_retry_first(flags: number): boolean {
  return (flags & FAULT_FLAG_ALLOW_RETRY) !== 0 && (flags & FAULT_FLAG_TRIED) === 0;
}

/**
 * ttm_bo_vm_reserve(): reserves the BO for a fault. On contention with retry allowed, takes a
 * BO reference, drops mmap_lock, waits for the holder (locking and at once unlocking the resv)
 * and returns VM_FAULT_RETRY without touching the VMA again. Returns 0 with the resv held,
 * VM_FAULT_RETRY, VM_FAULT_NOPAGE, or VM_FAULT_SIGBUS for imported pages.
 */
export function* ttm_bo_vm_reserve(bo: ttm_buffer_object, vmf: vm_fault): Gen<vm_fault_t> {
  const site = "ttm_bo_vm_reserve";
  if (!(yield* dma_resv_trylock(bo.base.resv, site))) {
    if (fault_flag_allow_retry_first(vmf.flags)) {
      if (!(vmf.flags & FAULT_FLAG_RETRY_NOWAIT)) {
        const mm = vmf.vma.vm_mm;
        ttm_bo_get(bo);
        yield* mmap_read_unlock(mm, site);
        if ((yield* dma_resv_lock_interruptible(bo.base.resv, null, site)) === 0)
          yield* dma_resv_unlock(bo.base.resv, site);
        yield* ttm_bo_put(bo);
      }
      return VM_FAULT_RETRY;
    }
    if ((yield* dma_resv_lock_interruptible(bo.base.resv, null, site)) !== 0)
      return VM_FAULT_NOPAGE;
  }
  const tt = bo.ttm;
  if (
    tt !== null &&
    tt.page_flags & TTM_TT_FLAG_EXTERNAL &&
    !(tt.page_flags & TTM_TT_FLAG_EXTERNAL_MAPPABLE)
  ) {
    yield* dma_resv_unlock(bo.base.resv, site);
    return VM_FAULT_SIGBUS;
  }
  return 0;
}

/**
 * ttm_bo_vm_fault_idle(): waits for the KERNEL fences (pipelined moves), never for rendering.
 * With retry allowed it drops mmap_lock and the resv to wait and returns VM_FAULT_RETRY (the
 * resv is then already unlocked).
 */
function* ttm_bo_vm_fault_idle(bo: ttm_buffer_object, vmf: vm_fault): Gen<vm_fault_t> {
  const site = "ttm_bo_vm_fault_idle";
  if (yield* dma_resv_test_signaled(bo.base.resv, DMA_RESV_USAGE_KERNEL, site)) return 0;
  if (fault_flag_allow_retry_first(vmf.flags)) {
    if (vmf.flags & FAULT_FLAG_RETRY_NOWAIT) return VM_FAULT_RETRY;
    ttm_bo_get(bo);
    yield* mmap_read_unlock(vmf.vma.vm_mm, site);
    yield* dma_resv_wait_timeout(
      bo.base.resv,
      DMA_RESV_USAGE_KERNEL,
      true,
      Number.POSITIVE_INFINITY,
      site,
    );
    yield* dma_resv_unlock(bo.base.resv, site);
    yield* ttm_bo_put(bo);
    return VM_FAULT_RETRY;
  }
  const err = yield* dma_resv_wait_timeout(
    bo.base.resv,
    DMA_RESV_USAGE_KERNEL,
    true,
    Number.POSITIVE_INFINITY,
    site,
  );
  if (err < 0) return err !== -ERESTARTSYS ? VM_FAULT_SIGBUS : VM_FAULT_NOPAGE;
  return 0;
}

/**
 * ttm_bo_vm_fault_reserved(): the fault with the resv held: wait for moves, io-reserve,
 * populate, then insert up to `num_prefault` PFNs from the faulting page on (only an error on
 * the first page counts). Returns VM_FAULT_NOPAGE, or an error / RETRY code.
 */
export function* ttm_bo_vm_fault_reserved(
  vmf: vm_fault,
  prot: pgprot_t,
  num_prefault: number,
): Gen<vm_fault_t> {
  const _site = "ttm_bo_vm_fault_reserved";
  const vma = vmf.vma;
  const bo = vma.vm_private_data as ttm_buffer_object;
  const bdev = bo.bdev;
  let ret = yield* ttm_bo_vm_fault_idle(bo, vmf);
  if (ret !== 0) return ret;
  const res = bo.resource;
  if (res === null) return VM_FAULT_SIGBUS;
  if (ttm_mem_io_reserve(bdev, res) !== 0) return VM_FAULT_SIGBUS;
  const nodeStart = drm_vma_node_start(bo.base.vma_node);
  let page_offset = vmf.address - vma.vm_start + vma.vm_pgoff - nodeStart;
  const page_last = vma.pageCount + vma.vm_pgoff - nodeStart;
  if (page_offset >= PFN_UP(bo.base.size)) return VM_FAULT_SIGBUS;
  prot = ttm_io_prot(bo, res);
  if (!res.bus.is_iomem) {
    const err = yield* ttm_bo_populate(bo, ttm_ctx({ interruptible: true }));
    if (err !== 0)
      return err === -EINTR || err === -ERESTARTSYS || err === -EAGAIN
        ? VM_FAULT_NOPAGE
        : VM_FAULT_SIGBUS;
  }
  let address = vmf.address;
  ret = VM_FAULT_NOPAGE;
  for (let i = 0; i < num_prefault; i++) {
    const pfn = ttm_bo_page_pfn(bo, res, page_offset);
    if (pfn === null) {
      if (i === 0) return VM_FAULT_OOM;
      break;
    }
    ret = yield* vmf_insert_pfn_prot(vma, address, pfn, prot);
    if (ret & VM_FAULT_ERROR) {
      if (i === 0) return VM_FAULT_NOPAGE;
      break;
    }
    address++;
    if (++page_offset >= page_last) break;
  }
  return ret;
}

/**
 * ttm_bo_vm_dummy_page(): after device removal, maps one zeroed page over the whole VMA so
 * that user space neither crashes nor reaches freed device memory.
 */
function* ttm_bo_vm_dummy_page(vmf: vm_fault, prot: pgprot_t): Gen<vm_fault_t> {
  const vma = vmf.vma;
  const bo = vma.vm_private_data as ttm_buffer_object;
  const page = alloc_page(bo.k, { name: "dummy", index: 0 }, "ttm_bo_vm_dummy_page");
  if (page === null) return VM_FAULT_OOM;
  let ret: vm_fault_t = VM_FAULT_NOPAGE;
  for (let address = vma.vm_start; address < vma.vm_end; address++) {
    ret = yield* vmf_insert_pfn_prot(vma, address, page.frame.pfn, prot);
  }
  return ret;
}

/** ttm_bo_vm_fault(): the default ->fault of TTM mappings. */
export function* ttm_bo_vm_fault(vmf: vm_fault): Gen<vm_fault_t> {
  const site = "ttm_bo_vm_fault";
  const vma = vmf.vma;
  const bo = vma.vm_private_data as ttm_buffer_object;
  let ret = yield* ttm_bo_vm_reserve(bo, vmf);
  if (ret !== 0) return ret;
  const prot = vma.vm_page_prot;
  if (bo.bdev.unplugged) ret = yield* ttm_bo_vm_dummy_page(vmf, prot);
  else ret = yield* ttm_bo_vm_fault_reserved(vmf, prot, bo.bdev.numPrefault);
  if (ret === VM_FAULT_RETRY && !(vmf.flags & FAULT_FLAG_RETRY_NOWAIT)) return ret;
  yield* dma_resv_unlock(bo.base.resv, site);
  return ret;
}

/** ttm_bo_vm_open(): a copied VMA (fork) takes its own BO reference. */
export function* ttm_bo_vm_open(vma: vm_area_struct): Gen {
  const bo = vma.vm_private_data as ttm_buffer_object;
  if (bo.bdev.dev_mapping !== vma.mapping)
    bo.k.warn("ttm_bo_vm_open", "WARN_ON(bo->bdev->dev_mapping != vma->vm_file->f_mapping)");
  ttm_bo_get(bo);
}

/** ttm_bo_vm_close(): a removed VMA drops its BO reference. */
export function* ttm_bo_vm_close(vma: vm_area_struct): Gen {
  yield* ttm_bo_put(vma.vm_private_data as ttm_buffer_object);
}

/** ttm_bo_vm_ops. */
export const ttm_bo_vm_ops: vm_operations_struct = {
  name: "ttm_bo_vm_fault",
  fault: ttm_bo_vm_fault,
  open: ttm_bo_vm_open,
  close: ttm_bo_vm_close,
};

/**
 * ttm_bo_mmap_obj(): sets up a VMA over `bo`: refuses COW mappings, takes a BO reference that
 * the VMA keeps, installs the default vm_ops when the driver has none, and marks it a PFN map.
 * No PTE is created here. Returns 0 or -EINVAL.
 */
export function ttm_bo_mmap_obj(vma: vm_area_struct, bo: ttm_buffer_object): number {
  if (is_cow_mapping(vma.vm_flags)) return -EINVAL;
  ttm_bo_get(bo);
  if (vma.vm_ops === null) vma.vm_ops = ttm_bo_vm_ops;
  vma.vm_private_data = bo;
  vma.vm_flags |= VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP;
  return 0;
}
