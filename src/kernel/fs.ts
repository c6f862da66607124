// struct address_space and struct file as far as mappings need them (include/linux/fs.h,
// mm/interval_tree.c, the i_mmap_lock helpers). One address_space per DRM device holds every
// VMA that maps any of its buffers (litmus L15): the reverse map that unmap_mapping_range walks.
//
// The i_mmap "tree" is kept as a list in walk order: mmap appends a VMA, fork inserts the child's
// VMA right after its parent's (vma_interval_tree_insert_after), so a walk that has passed the
// parent still reaches the child (L3). truncate_count is the 2.6 sequence that
// unmap_mapping_range bumps and do_no_page compares (L7).
//
// Left out: the interval tree's pgoff index (the walk filters by range), the nonlinear list,
// i_mmap_lock lock-breaking and its restart state (L14), page cache pages.

import type { Site } from "../trace/index.js";
import { BUG } from "./bug.js";
import type { Kernel } from "./kernel.js";
import { CLASS } from "./lockdep.js";
import type { vm_area_struct } from "./mm_types.js";
import { down_read, down_write, rw_semaphore, up_read, up_write } from "./rwsem.js";
import type { Gen, KObject } from "./sched.js";

/** The object a read or write of truncate_count touches. */
class TruncateCount implements KObject {
  constructor(
    readonly id: number,
    readonly name: string,
  ) {}
}

export class address_space implements KObject {
  readonly id: number;
  readonly i_mmap_rwsem: rw_semaphore;
  /** Every VMA mapping this file, in walk order. Protected by i_mmap_rwsem. */
  readonly i_mmap: vm_area_struct[] = [];
  /** mapping->truncate_count; written under i_mmap_rwsem, read locklessly by faults. */
  truncate_count = 0;
  /** What a truncate_count access step touches. */
  readonly truncateObj: KObject;

  constructor(
    readonly k: Kernel,
    readonly name: string,
  ) {
    this.id = k.newId();
    this.i_mmap_rwsem = new rw_semaphore(k, `${name}.i_mmap_rwsem`, CLASS.i_mmap_rwsem);
    this.truncateObj = new TruncateCount(k.newId(), `${name}.truncate_count`);
  }
}

/** struct file_operations: only ->mmap matters here. Returns 0 or a negative errno. */
export interface file_operations {
  mmap?(filp: file, vma: vm_area_struct): Gen<number>;
}

/** struct file: an open of a device node. Every open of one device shares its f_mapping. */
export interface file {
  readonly name: string;
  readonly f_mapping: address_space;
  readonly f_op: file_operations;
  /** The driver's per-open data. */
  private_data: unknown;
}

export function i_mmap_lock_write(mapping: address_space, site: Site): Gen {
  return down_write(mapping.i_mmap_rwsem, site);
}

export function i_mmap_unlock_write(mapping: address_space, site: Site): Gen {
  return up_write(mapping.i_mmap_rwsem, site);
}

export function i_mmap_lock_read(mapping: address_space, site: Site): Gen {
  return down_read(mapping.i_mmap_rwsem, site);
}

export function i_mmap_unlock_read(mapping: address_space, site: Site): Gen {
  return up_read(mapping.i_mmap_rwsem, site);
}

/** vma_interval_tree_insert(): appends a VMA. Caller holds i_mmap_rwsem for write. */
export function vma_interval_tree_insert(mapping: address_space, vma: vm_area_struct): void {
  mapping.i_mmap.push(vma);
}

/** vma_interval_tree_insert_after(): puts `vma` right after `prev` (fork). */
export function vma_interval_tree_insert_after(
  mapping: address_space,
  vma: vm_area_struct,
  prev: vm_area_struct,
  site: Site,
): void {
  const i = mapping.i_mmap.indexOf(prev);
  if (i < 0)
    BUG(site, `vma_interval_tree_insert_after: parent ${prev.name} is not in ${mapping.name}`);
  mapping.i_mmap.splice(i + 1, 0, vma);
}

/** vma_interval_tree_remove(). */
export function vma_interval_tree_remove(
  mapping: address_space,
  vma: vm_area_struct,
  site: Site,
): void {
  const i = mapping.i_mmap.indexOf(vma);
  if (i < 0) BUG(site, `vma_interval_tree_remove: ${vma.name} is not in ${mapping.name}`);
  mapping.i_mmap.splice(i, 1);
}
