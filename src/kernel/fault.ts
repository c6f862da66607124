// The architecture's page-fault entry (arch/x86/mm/fault.c do_user_addr_fault): take mmap_lock
// for read, find the VMA, call handle_mm_fault, and on VM_FAULT_RETRY (the handler has dropped
// mmap_lock) take it again, look the VMA up again, and retry with FAULT_FLAG_TRIED. Since 5.7
// a fault may retry more than once; the step bound catches a fault that retries forever.
//
// Left out: kernel-mode exception fixups other than copy_from_user's, signals, per-VMA locks.

import type { Site } from "../trace/index.js";
import { handle_mm_fault } from "./memory.js";
import {
  FAULT_FLAG_ALLOW_RETRY,
  FAULT_FLAG_KILLABLE,
  FAULT_FLAG_RETRY_NOWAIT,
  FAULT_FLAG_TRIED,
  FAULT_FLAG_USER,
  FAULT_FLAG_WRITE,
  type mm_struct,
  mmap_read_lock,
  mmap_read_unlock,
  VM_FAULT_OOM,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV,
} from "./mm_types.js";
import type { Gen } from "./sched.js";

/** How a fault ended for the faulting instruction. */
export type FaultOutcome = "retry-access" | "SIGSEGV" | "SIGBUS" | "OOM";

/**
 * do_user_addr_fault(): handles a fault at virtual page `address` of `mm`. "retry-access" means
 * the access should be executed again (a PTE may or may not be present now).
 */
export function* do_user_addr_fault(
  mm: mm_struct,
  address: number,
  write: boolean,
  site: Site = "do_user_addr_fault",
): Gen<FaultOutcome> {
  let flags =
    FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE | FAULT_FLAG_USER | (write ? FAULT_FLAG_WRITE : 0);
  for (;;) {
    yield* mmap_read_lock(mm, site);
    const vma = mm.findVma(address);
    if (vma === null || address < vma.vm_start) {
      yield* mmap_read_unlock(mm, site);
      return "SIGSEGV";
    }
    const fault = yield* handle_mm_fault(vma, address, flags, "handle_mm_fault");
    if (fault & VM_FAULT_RETRY && !(flags & FAULT_FLAG_RETRY_NOWAIT)) {
      // The handler dropped mmap_lock; the VMA may be gone. Start over.
      flags |= FAULT_FLAG_TRIED;
      continue;
    }
    yield* mmap_read_unlock(mm, site);
    if (fault & VM_FAULT_OOM) return "OOM";
    if (fault & VM_FAULT_SIGBUS) return "SIGBUS";
    if (fault & VM_FAULT_SIGSEGV) return "SIGSEGV";
    return "retry-access";
  }
}
