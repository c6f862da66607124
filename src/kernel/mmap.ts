// Creating and removing mappings (mm/mmap.c, mm/vma.c): mmap of a device file, munmap, and
// exit_mmap. The order of the steps follows the kernel because the litmus tests depend on it:
// mmap calls the driver's ->mmap before the VMA is linked into the file's i_mmap tree (L2);
// munmap zaps the PTEs before unlinking the VMA and calls ->close last; exit_mmap, as in
// 2.6.18-2.6.20, holds no mmap_lock at all (the mm has no other users), so a mover that
// snapshotted the mm can race with it (L4).
//
// Left out: MAP_PRIVATE/anonymous mappings, mremap/mprotect, VMA merging and splitting, and the
// mmap_lock downgrade of modern munmap.

import type { Site } from "../trace/index.js";
import { EINVAL } from "./errno.js";
import {
  type file,
  i_mmap_lock_write,
  i_mmap_unlock_write,
  vma_interval_tree_insert,
  vma_interval_tree_remove,
} from "./fs.js";
import { zap_page_range } from "./memory.js";
import {
  mm_check_alive,
  type mm_struct,
  mmap_write_lock,
  mmap_write_unlock,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  vm_area_struct,
} from "./mm_types.js";
import type { Gen } from "./sched.js";

/** Links a VMA into the mm's sorted list. Caller holds mmap_lock for write. */
export function insert_vm_struct(mm: mm_struct, vma: vm_area_struct): void {
  let i = mm.vmas.length;
  while (i > 0 && mm.vmas[i - 1]!.vm_start > vma.vm_start) i--;
  mm.vmas.splice(i, 0, vma);
}

/**
 * do_mmap() of a shared, read-write mapping of `pageCount` pages of `filp` from page `pgoff`.
 * Returns the new VMA, or a negative errno from the driver's ->mmap.
 */
export function* do_mmap(
  mm: mm_struct,
  filp: file,
  pgoff: number,
  pageCount: number,
  label: string,
  site: Site = "do_mmap",
): Gen<vm_area_struct | number> {
  if (!(pageCount > 0)) return -EINVAL;
  mm.k.spanBegin("syscall", "mmap", `${label}: ${filp.name} pgoff ${pgoff} x${pageCount}`, site);
  yield* mmap_write_lock(mm, site);
  const start = mm.nextVpn;
  mm.nextVpn += pageCount + 1;
  const flags = VM_READ | VM_WRITE | VM_SHARED | VM_MAYREAD | VM_MAYWRITE | VM_MAYSHARE;
  const vma = new vm_area_struct(mm.k, mm, start, start + pageCount, pgoff, filp, flags, label);
  const ret = filp.f_op.mmap === undefined ? 0 : yield* filp.f_op.mmap(filp, vma);
  if (ret < 0) {
    yield* mmap_write_unlock(mm, site);
    mm.k.spanEnd("syscall", "mmap", String(ret), site);
    return ret;
  }
  insert_vm_struct(mm, vma);
  const mapping = filp.f_mapping;
  yield* i_mmap_lock_write(mapping, "vma_link");
  vma_interval_tree_insert(mapping, vma);
  yield* i_mmap_unlock_write(mapping, "vma_link");
  yield* mmap_write_unlock(mm, site);
  mm.k.spanEnd("syscall", "mmap", "0", site);
  return vma;
}

/** unmap_region() + remove_vma() for one VMA already detached from its mm. */
function* tearDownVma(vma: vm_area_struct, site: Site): Gen {
  yield* zap_page_range(vma, vma.vm_start, vma.vm_end, "unmap_vmas");
  const mapping = vma.mapping;
  if (mapping !== null) {
    yield* i_mmap_lock_write(mapping, "unlink_file_vma");
    vma_interval_tree_remove(mapping, vma, "unlink_file_vma");
    yield* i_mmap_unlock_write(mapping, "unlink_file_vma");
  }
  if (vma.vm_ops?.close !== undefined) yield* vma.vm_ops.close(vma);
  void site;
}

/** do_munmap() of one whole VMA. Returns 0, or -EINVAL if the VMA is not in `mm`. */
export function* do_munmap(
  mm: mm_struct,
  vma: vm_area_struct,
  site: Site = "do_munmap",
): Gen<number> {
  mm.k.spanBegin("syscall", "munmap", vma.label, site);
  yield* mmap_write_lock(mm, site);
  const i = mm.vmas.indexOf(vma);
  if (i < 0) {
    yield* mmap_write_unlock(mm, site);
    mm.k.spanEnd("syscall", "munmap", String(-EINVAL), site);
    return -EINVAL;
  }
  mm.vmas.splice(i, 1);
  yield* tearDownVma(vma, site);
  yield* mmap_write_unlock(mm, site);
  mm.k.spanEnd("syscall", "munmap", "0", site);
  return 0;
}

/**
 * exit_mmap(): tears down every mapping of a dying mm. Like 2.6.18-2.6.20 it takes no mmap_lock:
 * nobody else may use the mm any more. Zaps all PTEs, unlinks every VMA, then closes them.
 */
export function* exit_mmap(mm: mm_struct, site: Site = "exit_mmap"): Gen {
  mm_check_alive(mm, site);
  const vmas = mm.vmas.splice(0);
  for (const vma of vmas) yield* zap_page_range(vma, vma.vm_start, vma.vm_end, "unmap_vmas");
  for (const vma of vmas) {
    const mapping = vma.mapping;
    if (mapping === null) continue;
    yield* i_mmap_lock_write(mapping, "free_pgtables");
    vma_interval_tree_remove(mapping, vma, "free_pgtables");
    yield* i_mmap_unlock_write(mapping, "free_pgtables");
  }
  for (const vma of vmas) if (vma.vm_ops?.close !== undefined) yield* vma.vm_ops.close(vma);
}
