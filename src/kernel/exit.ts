// Address-space lifetime at exit (kernel/exit.c exit_mm, kernel/fork.c mmput/mmgrab/mmdrop):
// mm_users counts users of the address space, mm_count references to the struct. The last
// mmput() tears the mappings down (exit_mmap) and drops the users' mm_count reference; the last
// mmdrop() frees the struct, after which any use is a use-after-free (litmus L4).

import type { Site } from "../trace/index.js";
import { BUG } from "./bug.js";
import type { Process } from "./fork.js";
import type { mm_struct } from "./mm_types.js";
import { exit_mmap } from "./mmap.js";
import type { Gen } from "./sched.js";

/** mmgrab(): pins the struct (not the mappings) of `mm`. */
export function mmgrab(mm: mm_struct, site: Site): void {
  if (mm.freed || mm.mm_count <= 0) BUG(site, `mmgrab of freed ${mm.name}`);
  mm.mm_count++;
}

/** mmdrop(): drops a struct reference; the last one frees it (__mmdrop). */
export function mmdrop(mm: mm_struct, site: Site): void {
  if (mm.freed || mm.mm_count <= 0) BUG(site, `BUG: KASAN: use-after-free in mmdrop: ${mm.name}`);
  mm.mm_count--;
  if (mm.mm_count === 0) {
    mm.freed = true;
    mm.k.printk(site, `__mmdrop: ${mm.name} freed`);
  }
}

/** mmget(): takes a user reference on a live address space. */
export function mmget(mm: mm_struct, site: Site): void {
  if (mm.freed || mm.mm_users <= 0) BUG(site, `mmget of dead ${mm.name}`);
  mm.mm_users++;
}

/** mmput(): drops a user reference; the last one runs exit_mmap and drops the struct ref. */
export function* mmput(mm: mm_struct, site: Site = "mmput"): Gen {
  if (mm.freed || mm.mm_users <= 0) BUG(site, `mmput of dead ${mm.name}`);
  mm.mm_users--;
  if (mm.mm_users > 0) return;
  yield* exit_mmap(mm);
  // Freeing the mm races with anyone about to lock it (litmus L4).
  yield { op: "write", obj: mm.mmap_lock, site };
  mmdrop(mm, site);
}

/** exit_mm() for the whole process: its threads stop using the mm and it is released. */
export function* do_exit_mm(proc: Process, site: Site = "exit_mm"): Gen {
  if (proc.exited) BUG(site, `${proc.name} exits twice`);
  proc.exited = true;
  const k = proc.k;
  k.spanBegin("syscall", "exit", proc.name, site);
  yield* mmput(proc.mm, site);
  k.spanEnd("syscall", "exit", "0", site);
}
