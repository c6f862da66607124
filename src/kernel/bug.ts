// BUG() and WARN(): the simulated kernel's always-on assertions (include/asm-generic/bug.h).
//
// Two kinds of failure are never mixed. Expected errors are errnos returned to the caller.
// Broken invariants are assertions: BUG_ON throws a KernelBug, which ends the execution with a
// `kernel-bug` finding, exactly as an oops ends the offending task. WARN_ON reports the same kind
// of finding through the kernel but lets the execution go on, as the kernel does.

/** Thrown by BUG_ON and by any kernel API misuse that the real kernel would crash on. */
export class KernelBug extends Error {
  override readonly name = "KernelBug";
  /** The kernel function that detected the bug. */
  readonly site: string;

  constructor(message: string, site: string) {
    super(message);
    this.site = site;
  }
}

/** Raises a KernelBug when `condition` holds: "kernel BUG at <site>: <message>". */
export function BUG_ON(condition: boolean, site: string, message: string): void {
  if (condition) throw new KernelBug(message, site);
}

/** Raises a KernelBug unconditionally. */
export function BUG(site: string, message: string): never {
  throw new KernelBug(message, site);
}
