// The address-space types (include/linux/mm_types.h, mm.h, mmap_lock.h, pgtable.h):
// mm_struct with its mmap_lock and page-table lock, vm_area_struct, PTEs and the fault
// interface (vm_fault, vm_operations_struct with the 2006 ->nopage/->nopfn and the modern
// ->fault), plus the VM_* and FAULT_FLAG_* / VM_FAULT_* constants with their Linux values.
//
// Virtual addresses are page numbers (vpn); one page table per mm, guarded by one
// page_table_lock (the kernel splits it per page-table page; nothing here depends on the split).
//
// Left out: anonymous memory and COW (the model maps device buffers MAP_SHARED only), huge
// pages, per-VMA locks, TLB state (a zap is visible to every CPU once it returns).

import type { Site } from "../trace/index.js";
import { BUG } from "./bug.js";
import type { address_space, file } from "./fs.js";
import type { Kernel } from "./kernel.js";
import { CLASS } from "./lockdep.js";
import type { StructPage } from "./physmem.js";
import {
  down_read,
  down_read_trylock,
  down_write,
  rw_semaphore,
  rwsem_assert_held,
  rwsem_assert_held_write,
  up_read,
  up_write,
} from "./rwsem.js";
import type { Gen, KObject } from "./sched.js";
import { spinlock_t } from "./spinlock.js";

export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYSHARE = 0x80;
export const VM_PFNMAP = 0x400;
export const VM_IO = 0x4000;
export const VM_DONTCOPY = 0x20000;
export const VM_DONTEXPAND = 0x40000;
export const VM_DONTDUMP = 0x4000000;
export const VM_MIXEDMAP = 0x10000000;

export const FAULT_FLAG_WRITE = 0x1;
export const FAULT_FLAG_ALLOW_RETRY = 0x4;
export const FAULT_FLAG_RETRY_NOWAIT = 0x8;
export const FAULT_FLAG_KILLABLE = 0x10;
export const FAULT_FLAG_TRIED = 0x20;
export const FAULT_FLAG_USER = 0x40;
export const FAULT_FLAG_INTERRUPTIBLE = 0x200;

/** vm_fault_t bits. 0 means the fault was handled (VM_FAULT_MINOR in 2.6). */
export type vm_fault_t = number;
export const VM_FAULT_OOM = 0x1;
export const VM_FAULT_SIGBUS = 0x2;
export const VM_FAULT_MAJOR = 0x4;
export const VM_FAULT_SIGSEGV = 0x40;
export const VM_FAULT_NOPAGE = 0x100;
export const VM_FAULT_LOCKED = 0x200;
export const VM_FAULT_RETRY = 0x400;
export const VM_FAULT_FALLBACK = 0x800;
export const VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_FALLBACK;

/** Names of the VM_FAULT_* bits set in `ret`, e.g. "VM_FAULT_NOPAGE"; "0" for none. */
export function vmFaultName(ret: vm_fault_t): string {
  const names: string[] = [];
  const bits: Array<[number, string]> = [
    [VM_FAULT_OOM, "VM_FAULT_OOM"],
    [VM_FAULT_SIGBUS, "VM_FAULT_SIGBUS"],
    [VM_FAULT_MAJOR, "VM_FAULT_MAJOR"],
    [VM_FAULT_SIGSEGV, "VM_FAULT_SIGSEGV"],
    [VM_FAULT_NOPAGE, "VM_FAULT_NOPAGE"],
    [VM_FAULT_LOCKED, "VM_FAULT_LOCKED"],
    [VM_FAULT_RETRY, "VM_FAULT_RETRY"],
    [VM_FAULT_FALLBACK, "VM_FAULT_FALLBACK"],
  ];
  for (const [bit, name] of bits) if (ret & bit) names.push(name);
  return names.length === 0 ? "0" : names.join("|");
}

/** Caching of a mapping (enum ttm_caching; pgprot_writecombine / pgprot_noncached). */
export type pgprot_t = "cached" | "write-combined" | "uncached";

/** A present page-table entry. */
export interface pte_t {
  readonly pfn: number;
  readonly prot: pgprot_t;
  /** The struct page the PTE holds a reference and a mapcount on; null for a special PFN PTE. */
  readonly page: StructPage | null;
}

/** One PTE slot of one mm: the object a user access or a PTE install/zap touches. */
export class PteSlot implements KObject {
  pte: pte_t | null = null;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly vpn: number,
  ) {}
}

/** struct vm_fault. */
export interface vm_fault {
  readonly vma: vm_area_struct;
  /** The faulting virtual page. */
  readonly address: number;
  /** Page offset in the file (vma->vm_pgoff + page index in the VMA). */
  readonly pgoff: number;
  readonly flags: number;
  /** Out: the page a ->fault handler returns for the core to install. */
  page: StructPage | null;
}

/** What a 2006 ->nopage handler returns. */
export type NopageResult =
  | { readonly kind: "page"; readonly page: StructPage }
  | { readonly kind: "sigbus" }
  | { readonly kind: "oom" }
  /** NOPAGE_REFAULT (2.6.19): go back to user space and take the fault again. */
  | { readonly kind: "refault" };

/** What a 2006 ->nopfn handler returns. */
export type NopfnResult =
  | { readonly kind: "pfn"; readonly pfn: number }
  | { readonly kind: "sigbus" }
  | { readonly kind: "oom" }
  /** NOPFN_REFAULT (2.6.21). */
  | { readonly kind: "refault" };

/** struct vm_operations_struct. A VMA uses ->fault, or one of the 2006 ->nopage / ->nopfn. */
export interface vm_operations_struct {
  readonly name: string;
  /** Called when a VMA is copied (fork) or split; takes the driver's references. */
  open?(vma: vm_area_struct): Gen;
  /** Called when a VMA is removed; drops them. */
  close?(vma: vm_area_struct): Gen;
  fault?(vmf: vm_fault): Gen<vm_fault_t>;
  nopage?(vma: vm_area_struct, address: number): Gen<NopageResult>;
  nopfn?(vma: vm_area_struct, address: number): Gen<NopfnResult>;
}

/** struct vm_area_struct. */
export class vm_area_struct implements KObject {
  readonly id: number;
  vm_flags: number;
  vm_page_prot: pgprot_t = "cached";
  vm_ops: vm_operations_struct | null = null;
  /** The driver's object (a buffer object for a DRM mapping). */
  vm_private_data: unknown = null;
  /** A name the scenario gave the mapping, for reports. */
  label: string;

  constructor(
    k: Kernel,
    readonly vm_mm: mm_struct,
    /** First virtual page. */
    readonly vm_start: number,
    /** One past the last virtual page. */
    readonly vm_end: number,
    /** Offset of vm_start in the file, in pages. */
    readonly vm_pgoff: number,
    readonly vm_file: file | null,
    flags: number,
    label: string,
  ) {
    this.id = k.newId();
    this.vm_flags = flags;
    this.label = label;
  }

  get name(): string {
    return `vma:${this.label}`;
  }

  /** vma_pages(). */
  get pageCount(): number {
    return this.vm_end - this.vm_start;
  }

  /** The address_space the VMA maps, if it maps a file. */
  get mapping(): address_space | null {
    return this.vm_file === null ? null : this.vm_file.f_mapping;
  }
}

/** is_cow_mapping(): private and writable. */
export function is_cow_mapping(flags: number): boolean {
  return (flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
}

/** Where the mmap allocator starts in every mm (pages). */
export const MMAP_BASE_VPN = 0x7f000;

/** struct mm_struct. */
export class mm_struct implements KObject {
  readonly id: number;
  readonly name: string;
  readonly mmap_lock: rw_semaphore;
  readonly page_table_lock: spinlock_t;
  /** VMAs sorted by vm_start. */
  readonly vmas: vm_area_struct[] = [];
  /** mm_users: tasks and temporary users of the address space. */
  mm_users = 1;
  /** mm_count: references to the struct itself; the last mmdrop() frees it. */
  mm_count = 1;
  /** Set by __mmdrop(): any later use is a use-after-free. */
  freed = false;
  /** Next free virtual page for mmap (grows upwards, one guard page between mappings). */
  nextVpn = MMAP_BASE_VPN;
  private readonly slots = new Map<number, PteSlot>();

  constructor(
    readonly k: Kernel,
    /** The owning process's name. */
    readonly owner: string,
  ) {
    this.id = k.newId();
    this.name = `mm:${owner}`;
    this.mmap_lock = new rw_semaphore(k, `${owner}.mmap_lock`, CLASS.mmap_lock);
    this.page_table_lock = new spinlock_t(k, `${owner}.page_table_lock`, CLASS.page_table_lock);
  }

  /** The PTE slot of `vpn`, created on first use. */
  slot(vpn: number): PteSlot {
    let slot = this.slots.get(vpn);
    if (slot === undefined) {
      slot = new PteSlot(this.k.newId(), `pte:${this.owner}@0x${vpn.toString(16)}`, vpn);
      this.slots.set(vpn, slot);
    }
    return slot;
  }

  /** The PTE at `vpn`, or null when none is present. */
  pteAt(vpn: number): pte_t | null {
    return this.slots.get(vpn)?.pte ?? null;
  }

  /** Every present PTE, in address order. */
  presentPtes(): Array<{ vpn: number; pte: pte_t }> {
    const out: Array<{ vpn: number; pte: pte_t }> = [];
    for (const [vpn, slot] of this.slots) if (slot.pte !== null) out.push({ vpn, pte: slot.pte });
    return out.sort((a, b) => a.vpn - b.vpn);
  }

  /** find_vma(): the first VMA that ends above `vpn`. */
  findVma(vpn: number): vm_area_struct | null {
    for (const vma of this.vmas) if (vpn < vma.vm_end) return vma;
    return null;
  }
}

/** A freed mm_struct used again is a use-after-free: the kernel would crash or corrupt. */
export function mm_check_alive(mm: mm_struct, site: Site): void {
  if (mm.freed)
    BUG(site, `BUG: KASAN: use-after-free in ${site}: ${mm.name} was freed by __mmdrop`);
}

/** mmap_read_lock(). */
export function* mmap_read_lock(mm: mm_struct, site: Site): Gen {
  yield* down_read(mm.mmap_lock, site);
  mm_check_alive(mm, site);
}

/** mmap_read_trylock(). */
export function* mmap_read_trylock(mm: mm_struct, site: Site): Gen<boolean> {
  const locked = yield* down_read_trylock(mm.mmap_lock, site);
  mm_check_alive(mm, site);
  return locked;
}

export function mmap_read_unlock(mm: mm_struct, site: Site): Gen {
  return up_read(mm.mmap_lock, site);
}

/** mmap_write_lock(); `subclass` gives mmap_write_lock_nested(). */
export function* mmap_write_lock(mm: mm_struct, site: Site, subclass = 0): Gen {
  yield* down_write(mm.mmap_lock, site, subclass);
  mm_check_alive(mm, site);
}

export function mmap_write_unlock(mm: mm_struct, site: Site): Gen {
  return up_write(mm.mmap_lock, site);
}

/** mmap_assert_locked(). */
export function mmap_assert_locked(mm: mm_struct, site: Site): void {
  rwsem_assert_held(mm.mmap_lock, site);
}

/** mmap_assert_write_locked(). */
export function mmap_assert_write_locked(mm: mm_struct, site: Site): void {
  rwsem_assert_held_write(mm.mmap_lock, site);
}
