// Page-table manipulation and the generic fault path (mm/memory.c), in the shapes that matter
// for device mappings across kernel versions:
//
// - do_no_page() (2.6.18-2.6.22): calls ->nopage, then installs the returned struct page under
//   the PTL if the PTE is still none ("a sibling was faster" otherwise), with the truncate_count
//   recheck against a racing unmap_mapping_range as an option (litmus L7).
// - do_no_pfn() (2.6.19-2.6.26): calls ->nopfn and installs the PFN if the PTE is still none,
//   with no truncate_count recheck (L8).
// - __do_fault() + finish_fault() (2.6.23+): ->fault either installs PTEs itself and returns
//   VM_FAULT_NOPAGE, or returns a page for the core to install.
// - vm_insert_pfn[_prot]() (2.6.21, 4.6) and vmf_insert_pfn_prot() (4.20): compare-with-none
//   under the PTL; "already present" is -EBUSY / VM_FAULT_NOPAGE, never a second install (L9).
// - remap_pfn_range() / io_remap_pfn_range(): BUG on a populated PTE (L9, L10). As in 2006 it
//   does not assert that mmap_lock is held for write.
// - unmap_mapping_range(): zaps every PTE of every VMA in the range under that mm's PTL, and never
//   takes any mmap_lock. In 2.6 it holds the exclusive i_mmap_lock and bumps truncate_count
//   first; in 6.x (unmap_mapping_pages()) it holds i_mmap_rwsem for read, so unmaps of one file
//   run side by side (MmConfig.truncateCount chooses).
// - copy_page_range() for fork: copies PFN-map PTEs; shared struct-page mappings are refaulted.
//
// Every PTE change happens under the mm's page_table_lock; user accesses read PTEs without it
// (hardware walks), so each PTE install or clear is its own scheduling step on the PTE slot.
//
// Left out: anonymous memory and COW, page_mkwrite, the fault-around of file pages, dirty
// tracking, TLB flushing (a cleared PTE is invisible to every CPU at once).

import type { Site } from "../trace/index.js";
import { BUG, BUG_ON } from "./bug.js";
import { EBUSY, EFAULT } from "./errno.js";
import {
  type address_space,
  i_mmap_lock_read,
  i_mmap_lock_write,
  i_mmap_unlock_read,
  i_mmap_unlock_write,
} from "./fs.js";
import {
  FAULT_FLAG_TRIED,
  is_cow_mapping,
  type mm_struct,
  mmap_assert_locked,
  type PteSlot,
  type pgprot_t,
  type pte_t,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_FAULT_ERROR,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_MIXEDMAP,
  VM_PFNMAP,
  type vm_area_struct,
  type vm_fault,
  type vm_fault_t,
  vmFaultName,
} from "./mm_types.js";
import { get_page, page_add_file_rmap, page_remove_rmap, put_page } from "./page_alloc.js";
import { pfnName } from "./physmem.js";
import type { Gen } from "./sched.js";
import { assert_spin_locked, spin_lock, spin_unlock } from "./spinlock.js";
import { cond_resched } from "./wait.js";

/** SINGLE_DEPTH_NESTING: the lockdep subclass of a second lock of the same class. */
export const SINGLE_DEPTH_NESTING = 1;

/** set_pte_at(): installs `pte` in a none slot. Caller holds the mm's PTL. */
function set_pte_at(mm: mm_struct, slot: PteSlot, pte: pte_t, site: Site): void {
  assert_spin_locked(mm.page_table_lock, site);
  BUG_ON(slot.pte !== null, site, `set_pte_at over a present PTE at ${slot.name}`);
  slot.pte = pte;
  tracePte(mm, "pte-install", slot, pte, site);
}

/** Records a PTE being installed or zapped, when the trace is on. */
function tracePte(
  mm: mm_struct,
  type: "pte-install" | "pte-zap",
  slot: PteSlot,
  pte: pte_t,
  site: Site,
): void {
  const k = mm.k;
  const trace = k.sched.trace;
  if (trace) {
    const task = k.current.id;
    trace.push({
      type,
      step: k.sched.stepIndex,
      task,
      site,
      mm: mm.name,
      vpn: slot.vpn,
      pfn: pte.pfn,
    });
  }
}

/** pte_clear(): clears a present PTE and drops what it held. Caller holds the mm's PTL. */
function pte_clear(mm: mm_struct, slot: PteSlot, site: Site): void {
  assert_spin_locked(mm.page_table_lock, site);
  const pte = slot.pte;
  if (pte === null) return;
  slot.pte = null;
  tracePte(mm, "pte-zap", slot, pte, site);
  const k = mm.k;
  if (pte.page !== null) {
    page_remove_rmap(pte.page, site);
    put_page(k, pte.page, site);
  }
}

/**
 * zap_page_range(): clears the PTEs of [start, end) in `vma`, one scheduling step per present
 * PTE, under the mm's PTL.
 */
export function* zap_page_range(vma: vm_area_struct, start: number, end: number, site: Site): Gen {
  const mm = vma.vm_mm;
  yield* spin_lock(mm.page_table_lock, site);
  for (let vpn = Math.max(start, vma.vm_start); vpn < Math.min(end, vma.vm_end); vpn++) {
    const slot = mm.slot(vpn);
    if (slot.pte === null) continue;
    yield { op: "write", obj: slot, site };
    pte_clear(mm, slot, site);
  }
  yield* spin_unlock(mm.page_table_lock, site);
}

/**
 * unmap_mapping_range(): zaps every PTE that maps file pages [holebegin, holebegin + holelen)
 * (holelen 0 means "to the end") in every VMA of `mapping`, in i_mmap walk order, taking each
 * mm's PTL and never an mmap_lock. With MmConfig.truncateCount (2.6) it holds i_mmap_rwsem for
 * write, standing for the exclusive i_mmap_lock, and bumps truncate_count first; without (6.x)
 * it holds i_mmap_rwsem for read. `even_cows` is accepted for fidelity; the model has no
 * private COW copies.
 */
export function* unmap_mapping_range(
  mapping: address_space,
  holebegin: number,
  holelen: number,
  even_cows: boolean,
  site: Site = "unmap_mapping_range",
): Gen {
  void even_cows;
  const holeend = holelen === 0 ? Number.POSITIVE_INFINITY : holebegin + holelen;
  const exclusive = mapping.k.mmConfig.truncateCount;
  if (exclusive) {
    yield* i_mmap_lock_write(mapping, site);
    // Bumped under i_mmap_rwsem in the same step; faults read it without the lock.
    mapping.k.sched.touch(mapping.truncateObj, true);
    mapping.truncate_count++;
  } else {
    yield* i_mmap_lock_read(mapping, site);
  }
  for (const vma of [...mapping.i_mmap]) {
    const first = Math.max(vma.vm_pgoff, holebegin);
    const last = Math.min(vma.vm_pgoff + vma.pageCount, holeend);
    if (first >= last) continue;
    const start = vma.vm_start + (first - vma.vm_pgoff);
    yield* zap_page_range(vma, start, start + (last - first), site);
  }
  if (exclusive) yield* i_mmap_unlock_write(mapping, site);
  else yield* i_mmap_unlock_read(mapping, site);
}

/**
 * handle_mm_fault(): resolves a fault at `address` in `vma`. Caller holds mmap_lock for read.
 * When the result has VM_FAULT_RETRY and FAULT_FLAG_RETRY_NOWAIT is clear, the handler has
 * already dropped mmap_lock and the caller must look the VMA up again.
 */
export function* handle_mm_fault(
  vma: vm_area_struct,
  address: number,
  flags: number,
  site: Site,
): Gen<vm_fault_t> {
  const mm = vma.vm_mm;
  const k = mm.k;
  mmap_assert_locked(mm, site);
  const slot = mm.slot(address);
  // handle_pte_fault() reads the PTE without the PTL; a present one means someone was faster.
  yield { op: "read", obj: slot, site: "handle_pte_fault" };
  if (slot.pte !== null) return 0;
  const vmf: vm_fault = {
    vma,
    address,
    pgoff: vma.vm_pgoff + (address - vma.vm_start),
    flags,
    page: null,
  };
  const name = vma.vm_ops?.name ?? "fault";
  if (k.tracing) {
    const tried = flags & FAULT_FLAG_TRIED ? " (TRIED)" : "";
    k.spanBegin("fault", name, `${vma.label} page ${address - vma.vm_start}${tried}`, site);
  }
  const ret = yield* do_fault(vmf);
  if (k.tracing) k.spanEnd("fault", name, vmFaultName(ret), site);
  return ret;
}

function* do_fault(vmf: vm_fault): Gen<vm_fault_t> {
  const ops = vmf.vma.vm_ops;
  if (ops === null) return VM_FAULT_SIGBUS;
  if (ops.nopage !== undefined) return yield* do_no_page(vmf);
  if (ops.nopfn !== undefined) return yield* do_no_pfn(vmf);
  if (ops.fault !== undefined) return yield* __do_fault(vmf);
  return VM_FAULT_SIGBUS;
}

/**
 * do_no_page() of 2.6.18-2.6.22. With the truncate check (the kernel's behaviour, on unless
 * the kernel was built with it off to show litmus L7), a racing unmap_mapping_range that bumped
 * truncate_count makes the fault drop its page and call ->nopage again.
 */
export function* do_no_page(vmf: vm_fault): Gen<vm_fault_t> {
  const site = "do_no_page";
  const { vma, address } = vmf;
  const mm = vma.vm_mm;
  const k = mm.k;
  // vm_flags may be changed by a racing io_remap_pfn_range under the same read lock (L10).
  yield { op: "read", obj: vma, site };
  BUG_ON(
    (vma.vm_flags & VM_PFNMAP) !== 0,
    site,
    "kernel BUG at mm/memory.c: do_no_page on a VM_PFNMAP vma",
  );
  const mapping = vma.mapping;
  const check = mapping !== null && k.mmConfig.truncateCheck;
  let sequence = 0;
  if (check) {
    yield { op: "read", obj: mapping.truncateObj, site };
    sequence = mapping.truncate_count;
  }
  for (;;) {
    const result = yield* vma.vm_ops!.nopage!(vma, address);
    switch (result.kind) {
      case "sigbus":
        return VM_FAULT_SIGBUS;
      case "oom":
        return VM_FAULT_OOM;
      case "refault":
        return 0;
      case "page":
        break;
    }
    const page = result.page;
    yield* spin_lock(mm.page_table_lock, site);
    if (check) {
      yield { op: "read", obj: mapping.truncateObj, site };
      if (sequence !== mapping.truncate_count) {
        // The mapping was invalidated while ->nopage ran: the page may be stale. Retry.
        k.printk(
          site,
          `truncate_count changed (${sequence} -> ${mapping.truncate_count}): retry nopage`,
        );
        yield* spin_unlock(mm.page_table_lock, site);
        put_page(k, page, site);
        yield* cond_resched(k, site);
        yield { op: "read", obj: mapping.truncateObj, site };
        sequence = mapping.truncate_count;
        continue;
      }
    }
    const slot = mm.slot(address);
    yield { op: "write", obj: slot, site };
    if (slot.pte === null) {
      page_add_file_rmap(page);
      set_pte_at(mm, slot, { pfn: page.frame.pfn, prot: vma.vm_page_prot, page }, site);
    } else {
      // One of our sibling threads was faster, back out.
      put_page(k, page, site);
    }
    yield* spin_unlock(mm.page_table_lock, site);
    return 0;
  }
}

/** do_no_pfn() of 2.6.19-2.6.26: installs the returned PFN if the PTE is none; no truncate check. */
export function* do_no_pfn(vmf: vm_fault): Gen<vm_fault_t> {
  const site = "do_no_pfn";
  const { vma, address } = vmf;
  const mm = vma.vm_mm;
  BUG_ON(
    (vma.vm_flags & VM_PFNMAP) === 0,
    site,
    "kernel BUG at mm/memory.c: do_no_pfn on a vma without VM_PFNMAP",
  );
  BUG_ON(
    is_cow_mapping(vma.vm_flags),
    site,
    "kernel BUG at mm/memory.c: do_no_pfn on a COW mapping",
  );
  const result = yield* vma.vm_ops!.nopfn!(vma, address);
  switch (result.kind) {
    case "sigbus":
      return VM_FAULT_SIGBUS;
    case "oom":
      return VM_FAULT_OOM;
    case "refault":
      return 0;
    case "pfn":
      break;
  }
  yield* spin_lock(mm.page_table_lock, site);
  const slot = mm.slot(address);
  yield { op: "write", obj: slot, site };
  if (slot.pte === null)
    set_pte_at(mm, slot, { pfn: result.pfn, prot: vma.vm_page_prot, page: null }, site);
  yield* spin_unlock(mm.page_table_lock, site);
  return 0;
}

/** __do_fault() + finish_fault() (2.6.23+): ->fault, then install a returned page if any. */
export function* __do_fault(vmf: vm_fault): Gen<vm_fault_t> {
  const site = "__do_fault";
  const ret = yield* vmf.vma.vm_ops!.fault!(vmf);
  if (ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY)) return ret;
  const page = vmf.page;
  if (page === null)
    BUG(site, `->fault (${vmf.vma.vm_ops!.name}) returned ${vmFaultName(ret)} without a page`);
  const mm = vmf.vma.vm_mm;
  yield* spin_lock(mm.page_table_lock, "finish_fault");
  const slot = mm.slot(vmf.address);
  yield { op: "write", obj: slot, site: "finish_fault" };
  if (slot.pte === null) {
    page_add_file_rmap(page);
    set_pte_at(mm, slot, { pfn: page.frame.pfn, prot: vmf.vma.vm_page_prot, page }, "finish_fault");
  } else {
    put_page(mm.k, page, "finish_fault");
  }
  yield* spin_unlock(mm.page_table_lock, "finish_fault");
  return ret;
}

/** insert_pfn(): the compare-with-none core of the PFN insertion helpers. */
function* insert_pfn(
  vma: vm_area_struct,
  address: number,
  pfn: number,
  prot: pgprot_t,
  site: Site,
): Gen<boolean> {
  const mm = vma.vm_mm;
  yield* spin_lock(mm.page_table_lock, site);
  const slot = mm.slot(address);
  yield { op: "write", obj: slot, site };
  const inserted = slot.pte === null;
  if (inserted) set_pte_at(mm, slot, { pfn, prot, page: null }, site);
  yield* spin_unlock(mm.page_table_lock, site);
  return inserted;
}

function checkPfnVma(vma: vm_area_struct, site: Site): void {
  BUG_ON(
    (vma.vm_flags & (VM_PFNMAP | VM_MIXEDMAP)) === 0,
    site,
    `kernel BUG at mm/memory.c: ${site} on a vma without VM_PFNMAP`,
  );
  BUG_ON(is_cow_mapping(vma.vm_flags), site, `kernel BUG at mm/memory.c: ${site} on a COW mapping`);
}

/**
 * vm_insert_pfn_prot() (2.6.21 vm_insert_pfn with 4.6's prot): installs a special PTE.
 * Returns 0, -EBUSY when the PTE is already present, -EFAULT when `address` is outside the VMA.
 */
export function* vm_insert_pfn_prot(
  vma: vm_area_struct,
  address: number,
  pfn: number,
  prot: pgprot_t,
  site: Site = "vm_insert_pfn",
): Gen<number> {
  checkPfnVma(vma, site);
  if (address < vma.vm_start || address >= vma.vm_end) return -EFAULT;
  return (yield* insert_pfn(vma, address, pfn, prot, site)) ? 0 : -EBUSY;
}

/** vm_insert_pfn(): vm_insert_pfn_prot with the VMA's own protection. */
export function vm_insert_pfn(
  vma: vm_area_struct,
  address: number,
  pfn: number,
  site: Site = "vm_insert_pfn",
): Gen<number> {
  return vm_insert_pfn_prot(vma, address, pfn, vma.vm_page_prot, site);
}

/**
 * vmf_insert_pfn_prot() (4.20): as vm_insert_pfn_prot, but returns a vm_fault_t: NOPAGE when
 * inserted or already present, SIGBUS when `address` is outside the VMA.
 */
export function* vmf_insert_pfn_prot(
  vma: vm_area_struct,
  address: number,
  pfn: number,
  prot: pgprot_t,
  site: Site = "vmf_insert_pfn_prot",
): Gen<vm_fault_t> {
  checkPfnVma(vma, site);
  if (address < vma.vm_start || address >= vma.vm_end) return VM_FAULT_SIGBUS;
  yield* insert_pfn(vma, address, pfn, prot, site);
  return VM_FAULT_NOPAGE;
}

/**
 * remap_pfn_range(): maps `count` PFNs from `pfn` at `address`, setting VM_IO|VM_PFNMAP on the
 * VMA. Remapping over a present PTE is a kernel bug (BUG_ON(!pte_none(*pte)) in
 * remap_pte_range). Returns 0, or -EINVAL for a range outside the VMA.
 */
export function* remap_pfn_range(
  vma: vm_area_struct,
  address: number,
  pfn: number,
  count: number,
  prot: pgprot_t,
  site: Site = "remap_pfn_range",
): Gen<number> {
  if (address < vma.vm_start || address + count > vma.vm_end) return -22;
  yield { op: "write", obj: vma, site };
  vma.vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
  const mm = vma.vm_mm;
  yield* spin_lock(mm.page_table_lock, site);
  for (let i = 0; i < count; i++) {
    const slot = mm.slot(address + i);
    yield { op: "write", obj: slot, site };
    if (slot.pte !== null) {
      BUG(
        "remap_pte_range",
        `kernel BUG at mm/memory.c: remap_pte_range: BUG_ON(!pte_none(*pte)) at ${slot.name} ` +
          `(present PTE to ${pfnName(slot.pte.pfn)}, remapping ${pfnName(pfn + i)})`,
      );
    }
    set_pte_at(mm, slot, { pfn: pfn + i, prot, page: null }, site);
  }
  yield* spin_unlock(mm.page_table_lock, site);
  return 0;
}

/** io_remap_pfn_range(): remap_pfn_range on every architecture the model has. */
export function io_remap_pfn_range(
  vma: vm_area_struct,
  address: number,
  pfn: number,
  count: number,
  prot: pgprot_t,
  site: Site = "io_remap_pfn_range",
): Gen<number> {
  return remap_pfn_range(vma, address, pfn, count, prot, site);
}

/**
 * copy_page_range(): at fork, copies the parent's PTEs into the child's VMA if the parent's
 * VMA is a PFN or mixed map. Shared struct-page mappings are skipped; the child refaults them.
 * Both mm's PTLs are held (the source nested), as in copy_pte_range.
 */
export function* copy_page_range(
  dst: vm_area_struct,
  src: vm_area_struct,
  site: Site = "copy_page_range",
): Gen {
  if ((src.vm_flags & (VM_PFNMAP | VM_MIXEDMAP)) === 0) return;
  const dstMm = dst.vm_mm;
  const srcMm = src.vm_mm;
  yield* spin_lock(dstMm.page_table_lock, site);
  yield* spin_lock(srcMm.page_table_lock, site, SINGLE_DEPTH_NESTING);
  for (let vpn = src.vm_start; vpn < src.vm_end; vpn++) {
    const from = srcMm.slot(vpn);
    if (from.pte === null) continue;
    const to = dstMm.slot(dst.vm_start + (vpn - src.vm_start));
    yield { op: "read", obj: from, site, also: [{ obj: to, write: true }] };
    const pte = from.pte;
    if (pte.page !== null) {
      get_page(pte.page, site);
      page_add_file_rmap(pte.page);
    }
    set_pte_at(dstMm, to, pte, site);
  }
  yield* spin_unlock(srcMm.page_table_lock, site);
  yield* spin_unlock(dstMm.page_table_lock, site);
}
