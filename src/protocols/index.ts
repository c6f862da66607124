// The protocol registry: builds the protocol a scenario names on a fresh kernel.
import type { Kernel, KernelOptions } from "../kernel/kernel.js";
import { InsertPfnProtocol } from "./insert_pfn.js";
import { LockAllMmapProtocol } from "./lock_all_mmap.js";
import { NopageProtocol } from "./nopage.js";
import { NopfnProtocol } from "./nopfn.js";
import type { Protocol, ProtocolConfig } from "./protocol.js";
import { RemapInFaultProtocol } from "./remap_in_fault.js";
import { TtmProtocol } from "./ttm.js";

export type { ProtocolConfig, Reservation } from "./protocol.js";
export { Protocol } from "./protocol.js";

/**
 * Kernel build options a protocol needs: VRAM struct pages and the truncate check for nopage,
 * the 6.x mm for TTM.
 */
export function protocolKernelOptions(
  config: ProtocolConfig,
): Pick<KernelOptions, "mm"> & { sparsemem: boolean } {
  if (config.name === "nopage")
    return { mm: { truncateCheck: config.truncateCheck }, sparsemem: true };
  if (config.name === "ttm") return { mm: { truncateCount: false }, sparsemem: false };
  return { sparsemem: false };
}

/** The protocol `config` names, with its driver, on kernel `k`. */
export function createProtocol(k: Kernel, config: ProtocolConfig): Protocol {
  switch (config.name) {
    case "lock-all-mmap":
      return new LockAllMmapProtocol(k, config);
    case "nopage":
      return new NopageProtocol(k, config);
    case "nopfn":
      return new NopfnProtocol(k, config);
    case "insert-pfn":
      return new InsertPfnProtocol(k, config);
    case "remap-in-fault":
      return new RemapInFaultProtocol(k, config);
    case "ttm":
      return new TtmProtocol(k, config);
  }
}
