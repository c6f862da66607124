// Accesses to user memory: the user-mode loads and stores of a simulated thread (each one step
// through the page tables, faulting when no PTE is present, then executed again) and the
// kernel's copy_from_user/copy_to_user (include/linux/uaccess.h, lib/usercopy.c), which may
// fault too and therefore may take mmap_lock: __might_fault() tells lockdep so on every call,
// fault or not, which is how lockdep finds litmus L13 without the deadlock happening.
//
// A load or store is one step: the page-table walk and the access together, as on hardware
// whose TLB shootdown completes before unmap_mapping_range returns.

import type { Site } from "../trace/index.js";
import { EFAULT } from "./errno.js";
import { do_user_addr_fault } from "./fault.js";
import type { Kernel } from "./kernel.js";
import { mm_check_alive, type mm_struct } from "./mm_types.js";
import type { FrameAccess } from "./physmem.js";
import type { Gen } from "./sched.js";
import { might_sleep } from "./wait.js";

/** The result of a user access: the value loaded (or stored), or the signal it raised. */
export type UserAccessResult =
  | { readonly ok: true; readonly value: number }
  | { readonly ok: false; readonly signal: "SIGSEGV" | "SIGBUS" | "OOM" };

/**
 * Executes one user-mode load or store at word `word` of virtual page `vpn`, faulting and
 * re-executing until it completes or a signal ends it.
 */
export function* userAccess(
  k: Kernel,
  mm: mm_struct,
  vpn: number,
  word: number,
  access: { readonly kind: "load" } | { readonly kind: "store"; readonly value: number },
  via: FrameAccess["via"],
  site: Site,
): Gen<UserAccessResult> {
  for (;;) {
    const slot = mm.slot(vpn);
    // The walk reads the slot; the access touches the frame behind it, which others may copy.
    // The walk reads the slot; the access goes on through the GART entry to the frame.
    const op = access.kind === "load" ? "read" : "write";
    const path = slot.pte === null ? [] : k.mem.accessPath(slot.pte.pfn, via, op === "write");
    yield path.length === 0 ? { op, obj: slot, site } : { op, obj: slot, site, also: path };
    mm_check_alive(mm, site);
    const pte = slot.pte;
    if (pte !== null) {
      const user = { mm: mm.name, vpn, vma: mm.findVma(vpn) };
      if (access.kind === "load")
        return { ok: true, value: k.mem.load(pte.pfn, word, via, site, user) };
      k.mem.store(pte.pfn, word, access.value, via, site, user);
      return { ok: true, value: access.value };
    }
    const outcome = yield* do_user_addr_fault(mm, vpn, access.kind === "store");
    if (outcome !== "retry-access") return { ok: false, signal: outcome };
  }
}

/** __might_fault(): an access to user memory may sleep and may take mmap_lock for read. */
export function __might_fault(k: Kernel, mm: mm_struct, site: Site): void {
  might_sleep(k, site);
  k.lockdep.mightLock(k.current, mm.mmap_lock, 1, site);
}

/**
 * copy_from_user() of one word: returns the value, or -EFAULT when the address cannot be
 * read (no VMA, or the fault failed).
 */
export function* copy_from_user(
  k: Kernel,
  mm: mm_struct,
  vpn: number,
  word: number,
  site: Site = "copy_from_user",
): Gen<{ ret: number; value: number }> {
  __might_fault(k, mm, site);
  const r = yield* userAccess(k, mm, vpn, word, { kind: "load" }, "kernel", site);
  return r.ok ? { ret: 0, value: r.value } : { ret: -EFAULT, value: 0 };
}

/** copy_to_user() of one word: returns 0 or -EFAULT. */
export function* copy_to_user(
  k: Kernel,
  mm: mm_struct,
  vpn: number,
  word: number,
  value: number,
  site: Site = "copy_to_user",
): Gen<number> {
  __might_fault(k, mm, site);
  const r = yield* userAccess(k, mm, vpn, word, { kind: "store", value }, "kernel", site);
  return r.ok ? 0 : -EFAULT;
}
