// Thomas Hellström's 2006 design (drm-ttm-0-2-branch, history.md §2.1, L1-L6): mmap pre-maps
// the buffer's current location when it is bound (TT or VRAM; unbound system pages are served
// by the fault handler, as the 2006 nopage did); a mover takes the mmap_lock of every process
// that maps the buffer, clears those processes' PTEs itself (the "ugly PTE hacks" walk of its
// own VMA list), moves, io_remap_pfn_range()s every VMA over a bound new location, and unlocks.
//
// As in drm_ttm_lock_mmap_sem(): the list of mappers is snapshotted under dev->struct_mutex, the
// mutex is dropped, every mmap_lock is taken for write in list order (`registration`, what the
// 2006 code really did: its sorted insert was a no-op) or sorted by process with a nesting
// annotation (`sorted`, like mm_take_all_locks), and the mutex is taken again. With `recheck`
// the mover compares the list's sequence number and starts over when a new mapper registered
// meanwhile (L2). The snapshot holds raw mm pointers, so a process that exits meanwhile leaves
// the mover locking a freed mm (L4). With `objectFirst` the mover takes the object lock before
// the mmap locks (the 2.6.15-2.6.18 drm_bo_lock_kmm order, with down_write instead of its
// trylock), against a fault that holds mmap_lock and wants the object lock (L5). A fault on a
// buffer in CPU-invisible VRAM calls the mover, which wants the faulting process's mmap_lock
// for write (L6). The TTM core's own unmap on move is off (bdev.unmapOnMove): the 2006 code did
// not use unmap_mapping_range.
//
// Lock order: mmap_lock -> object lock (the BO's resv) -> struct_mutex.

import { dma_resv_lock, dma_resv_unlock } from "../kernel/dma_resv.js";
import type { Kernel } from "../kernel/kernel.js";
import { lockClass } from "../kernel/lockdep.js";
import { remap_pfn_range, vm_insert_pfn, zap_page_range } from "../kernel/memory.js";
import {
  mm_check_alive,
  type mm_struct,
  mmap_write_lock,
  mmap_write_unlock,
  VM_FAULT_NOPAGE,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_PFNMAP,
  type vm_area_struct,
  type vm_fault,
  type vm_fault_t,
} from "../kernel/mm_types.js";
import { mutex, mutex_lock, mutex_unlock } from "../kernel/mutex.js";
import { down_write_nest_lock } from "../kernel/rwsem.js";
import type { Gen } from "../kernel/sched.js";
import type { SimPlacement } from "../ttm/sim_drv.js";
import {
  swapoutBo,
  ttm_bo_evict,
  ttm_bo_get,
  ttm_bo_put,
  ttm_bo_validate,
  type ttm_buffer_object,
  ttm_ctx,
} from "../ttm/ttm_bo.js";
import { TTM_PL_SYSTEM } from "../ttm/ttm_placement.js";
import { Protocol, type ProtocolConfig } from "./protocol.js";

/** The mappers of one buffer (the TTM's vma list and p_mm_list with mm_list_seq). */
interface Mappers {
  readonly vmas: vm_area_struct[];
  /** Registered mms in registration order, each with the number of its VMAs. */
  readonly mms: Array<{ mm: mm_struct; count: number }>;
  seq: number;
}

type LockAllConfig = Extract<ProtocolConfig, { name: "lock-all-mmap" }>;

export class LockAllMmapProtocol extends Protocol {
  /** dev->struct_mutex: protects the mapper lists (innermost lock). */
  private readonly structMutex: mutex;
  /** What `sorted` holds while nesting mmap_locks, like mm_all_locks_mutex. */
  private readonly allMmsMutex: mutex;
  private readonly mappers = new Map<ttm_buffer_object, Mappers>();

  constructor(
    k: Kernel,
    readonly lockAll: LockAllConfig,
  ) {
    super(k, lockAll, false);
    this.drm.bdev.unmapOnMove = false;
    this.structMutex = new mutex(k, "drm.struct_mutex", lockClass("&dev->struct_mutex"));
    this.allMmsMutex = new mutex(k, "drm.all_mms_mutex", lockClass("drm_all_mms_mutex"));
  }

  private mappersOf(bo: ttm_buffer_object): Mappers {
    let m = this.mappers.get(bo);
    if (m === undefined) {
      m = { vmas: [], mms: [], seq: 0 };
      this.mappers.set(bo, m);
    }
    return m;
  }

  /** drm_ttm_add_mm_to_list(). Caller holds struct_mutex. */
  private register(bo: ttm_buffer_object, vma: vm_area_struct): void {
    const m = this.mappersOf(bo);
    m.vmas.push(vma);
    const entry = m.mms.find((e) => e.mm === vma.vm_mm);
    if (entry !== undefined) entry.count++;
    else m.mms.push({ mm: vma.vm_mm, count: 1 });
    m.seq++;
  }

  /** drm_ttm_delete_mm(). Caller holds struct_mutex. */
  private unregister(bo: ttm_buffer_object, vma: vm_area_struct): void {
    const m = this.mappersOf(bo);
    const i = m.vmas.indexOf(vma);
    if (i >= 0) m.vmas.splice(i, 1);
    const e = m.mms.findIndex((x) => x.mm === vma.vm_mm);
    if (e >= 0 && --m.mms[e]!.count === 0) m.mms.splice(e, 1);
    m.seq++;
  }

  /** Maps every page of `vma` over the BO's current location. Caller holds the BO's resv. */
  private *remapVma(bo: ttm_buffer_object, vma: vm_area_struct, site: string): Gen<boolean> {
    for (let address = vma.vm_start; address < vma.vm_end; address++) {
      const pfn = yield* this.cpuPfnLocked(bo, this.pageIndex(bo, vma, address), "aperture");
      if (pfn === null) return false;
      yield* remap_pfn_range(vma, address, pfn, 1, "uncached", site);
    }
    return true;
  }

  *mmap(bo: ttm_buffer_object, vma: vm_area_struct): Gen<number> {
    const site = "drm_ttm_mmap";
    const self = this;
    ttm_bo_get(bo);
    vma.vm_private_data = bo;
    vma.vm_flags |= VM_PFNMAP | VM_IO;
    vma.vm_ops = {
      name: "drm_ttm_nopage",
      fault: (vmf) => self.fault(vmf),
      *open(v) {
        ttm_bo_get(bo);
        yield* mutex_lock(self.structMutex, "drm_ttm_vm_open");
        self.register(bo, v);
        yield* mutex_unlock(self.structMutex, "drm_ttm_vm_open");
      },
      *close(v) {
        yield* mutex_lock(self.structMutex, "drm_ttm_vm_close");
        self.unregister(bo, v);
        yield* mutex_unlock(self.structMutex, "drm_ttm_vm_close");
        yield* ttm_bo_put(bo);
      },
    };
    yield* dma_resv_lock(bo.base.resv, null, site);
    yield* this.waitKernelFences(bo, site);
    if (this.bound(bo)) yield* this.remapVma(bo, vma, site);
    yield* mutex_lock(this.structMutex, site);
    this.register(bo, vma);
    yield* mutex_unlock(this.structMutex, site);
    yield* dma_resv_unlock(bo.base.resv, site);
    return 0;
  }

  /** Whether the BO lives in a bound place (TT or VRAM) that mmap and moves pre-map. */
  private bound(bo: ttm_buffer_object): boolean {
    const res = bo.resource;
    return res !== null && res.mem_type !== TTM_PL_SYSTEM;
  }

  /**
   * A fault on a PTE that is not pre-mapped (a system page, or after a swapout): insert the
   * current location under the object lock. A buffer in invisible VRAM must move first, and the
   * mover wants this process's mmap_lock for write while the fault holds it for read (L6).
   */
  private *fault(vmf: vm_fault): Gen<vm_fault_t> {
    const site = "drm_ttm_nopage";
    const bo = vmf.vma.vm_private_data as ttm_buffer_object;
    if (this.inInvisibleVram(bo)) {
      const ret = yield* this.move(bo, "tt");
      if (ret !== 0) return VM_FAULT_SIGBUS;
    }
    yield* dma_resv_lock(bo.base.resv, null, site);
    const pfn = yield* this.cpuPfnLocked(bo, this.pageIndex(bo, vmf.vma, vmf.address), "aperture");
    if (pfn !== null) yield* vm_insert_pfn(vmf.vma, vmf.address, pfn, site);
    yield* dma_resv_unlock(bo.base.resv, site);
    return pfn === null ? VM_FAULT_SIGBUS : VM_FAULT_NOPAGE;
  }

  /**
   * drm_ttm_lock_mmap_sem() around `body`: snapshot the mappers, take every mmap_lock for
   * write, retake struct_mutex (restarting on a changed list when `recheck`), reserve the BO,
   * clear the PTEs of every mapping in a locked mm, run `body`, remap them, unlock everything.
   */
  private *withAllMappingsLocked(bo: ttm_buffer_object, body: () => Gen<number>): Gen<number> {
    const site = "drm_ttm_lock_mmap_sem";
    const m = this.mappersOf(bo);
    const objectFirst = this.lockAll.objectFirst;
    const sorted = this.lockAll.order === "sorted";
    if (objectFirst) yield* dma_resv_lock(bo.base.resv, null, "drm_bo_lock_kmm");
    for (;;) {
      yield* mutex_lock(this.structMutex, site);
      const snapshot = m.mms.map((e) => e.mm);
      if (sorted) snapshot.sort((a, b) => (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
      const seq = m.seq;
      yield* mutex_unlock(this.structMutex, site);
      if (sorted) yield* mutex_lock(this.allMmsMutex, site);
      for (const mm of snapshot) {
        if (sorted) {
          yield* down_write_nest_lock(mm.mmap_lock, this.allMmsMutex, site);
          mm_check_alive(mm, site);
        } else {
          yield* mmap_write_lock(mm, site);
        }
      }
      if (!objectFirst) yield* dma_resv_lock(bo.base.resv, null, site);
      yield* mutex_lock(this.structMutex, site);
      if (this.lockAll.recheck && m.seq !== seq) {
        yield* mutex_unlock(this.structMutex, site);
        if (!objectFirst) yield* dma_resv_unlock(bo.base.resv, site);
        yield* this.unlockMms(snapshot, sorted, site);
        continue;
      }
      const locked = m.vmas.filter((v) => snapshot.includes(v.vm_mm));
      yield* mutex_unlock(this.structMutex, site);
      for (const vma of locked)
        yield* zap_page_range(vma, vma.vm_start, vma.vm_end, "drm_ttm_unmap_vma_pages");
      const ret = yield* body();
      if (ret === 0 && this.bound(bo)) {
        // The 2006 moves were synchronous: the data was in place before ioremap_vmas. Here the
        // driver may still be clearing fresh VRAM on the GPU, so wait as mmap does.
        yield* this.waitKernelFences(bo, site);
        for (const vma of locked) yield* this.remapVma(bo, vma, "drm_ttm_ioremap_vmas");
      }
      yield* dma_resv_unlock(bo.base.resv, site);
      yield* this.unlockMms(snapshot, sorted, site);
      return ret;
    }
  }

  private *unlockMms(snapshot: readonly mm_struct[], sorted: boolean, site: string): Gen {
    for (const mm of [...snapshot].reverse()) yield* mmap_write_unlock(mm, site);
    if (sorted) yield* mutex_unlock(this.allMmsMutex, site);
  }

  override move(bo: ttm_buffer_object, to: SimPlacement): Gen<number> {
    return this.withAllMappingsLocked(bo, () =>
      ttm_bo_validate(bo, this.drm.placement(to), ttm_ctx({ interruptible: true })),
    );
  }

  override evict(bo: ttm_buffer_object): Gen<number> {
    return this.withAllMappingsLocked(bo, function* () {
      const res = bo.resource;
      return res === null || res.mem_type === TTM_PL_SYSTEM
        ? 0
        : yield* ttm_bo_evict(bo, ttm_ctx({ interruptible: true }));
    });
  }

  override swapout(bo: ttm_buffer_object): Gen<number> {
    return this.withAllMappingsLocked(bo, function* () {
      const ret = yield* swapoutBo(bo, ttm_ctx());
      return Math.min(ret, 0);
    });
  }
}
