// Processes and fork (kernel/fork.c): creating a process with a fresh mm, starting its threads,
// and dup_mmap(), which write-locks the parent's and the child's mmap_lock (the child's nested),
// inserts each child VMA into the file's i_mmap right after the parent's, copies PFN-map PTEs
// and then calls ->open (litmus L3).
//
// Left out: exec, clone flags other than a full fork, credentials, signals, the task tree.

import type { Site } from "../trace/index.js";
import { i_mmap_lock_write, i_mmap_unlock_write, vma_interval_tree_insert_after } from "./fs.js";
import type { Kernel } from "./kernel.js";
import { copy_page_range, SINGLE_DEPTH_NESTING } from "./memory.js";
import {
  mm_struct,
  mmap_write_lock,
  mmap_write_unlock,
  VM_DONTCOPY,
  vm_area_struct,
} from "./mm_types.js";
import { insert_vm_struct } from "./mmap.js";
import type { Gen, Task } from "./sched.js";

/** A user process: a name and an address space shared by its threads. */
export class Process {
  readonly mm: mm_struct;
  /** Set when the process has exited and its mm was released. */
  exited = false;
  readonly threads: Task[] = [];

  constructor(
    readonly k: Kernel,
    readonly name: string,
  ) {
    this.mm = new mm_struct(k, name);
  }
}

/** Creates a process with an empty address space (what exec of a fresh program leaves). */
export function create_process(k: Kernel, name: string): Process {
  return new Process(k, name);
}

/** Starts a user thread of `proc` running `body`. */
export function spawn_user_thread(
  k: Kernel,
  proc: Process,
  name: string,
  body: (task: Task) => Gen,
): Task {
  const task = k.spawnTask(name, "user", false, body, proc.name);
  task.mm = proc.mm;
  proc.threads.push(task);
  return task;
}

/**
 * dup_mmap(): copies `oldmm`'s mappings into the new `mm`. Holds both mmap_locks for write for
 * the whole copy; the child's is taken with SINGLE_DEPTH_NESTING, as the kernel does.
 */
export function* dup_mmap(
  mm: mm_struct,
  oldmm: mm_struct,
  childName: string,
  site: Site = "dup_mmap",
): Gen {
  const k = mm.k;
  yield* mmap_write_lock(oldmm, site);
  yield* mmap_write_lock(mm, site, SINGLE_DEPTH_NESTING);
  for (const mpnt of [...oldmm.vmas]) {
    if (mpnt.vm_flags & VM_DONTCOPY) continue;
    const tmp = new vm_area_struct(
      k,
      mm,
      mpnt.vm_start,
      mpnt.vm_end,
      mpnt.vm_pgoff,
      mpnt.vm_file,
      mpnt.vm_flags,
      `${mpnt.label}@${childName}`,
    );
    tmp.vm_ops = mpnt.vm_ops;
    tmp.vm_private_data = mpnt.vm_private_data;
    tmp.vm_page_prot = mpnt.vm_page_prot;
    const mapping = tmp.mapping;
    if (mapping !== null) {
      yield* i_mmap_lock_write(mapping, site);
      vma_interval_tree_insert_after(mapping, tmp, mpnt, site);
      yield* i_mmap_unlock_write(mapping, site);
    }
    insert_vm_struct(mm, tmp);
    yield* copy_page_range(tmp, mpnt);
    if (tmp.vm_ops?.open !== undefined) yield* tmp.vm_ops.open(tmp);
  }
  mm.nextVpn = oldmm.nextVpn;
  yield* mmap_write_unlock(mm, site);
  yield* mmap_write_unlock(oldmm, site);
}

/** fork(): a child process whose address space is a copy of `parent`'s. */
export function* do_fork(
  k: Kernel,
  parent: Process,
  childName: string,
  site: Site = "copy_process",
): Gen<Process> {
  const child = new Process(k, childName);
  k.spanBegin("syscall", "fork", childName, site);
  yield* dup_mmap(child.mm, parent.mm, childName);
  k.spanEnd("syscall", "fork", "0", site);
  return child;
}
