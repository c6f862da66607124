// The AGP/GART aperture (drivers/char/agp/generic.c agp_bind_memory/agp_unbind_memory, and the
// GART of today's GPUs that TTM's TT placement stands for): system pages are bound into
// aperture slots, after which the aperture PFN of a slot reaches the bound page. Binding takes
// no page reference; whoever binds must unbind before the page is freed.
//
// Left out: the AGP bridge, chipset flushes and cache attributes of the aperture.

import type { Site } from "../trace/index.js";
import { BUG } from "./bug.js";
import type { Kernel } from "./kernel.js";
import { type Frame, pfnName, TT_PFN_BASE } from "./physmem.js";

/** The aperture PFN of slot `slot`. */
export function agp_slot_pfn(slot: number): number {
  return TT_PFN_BASE + slot;
}

/** Binds `frame` (a system frame) into aperture slot `slot`; the slot must be free. */
export function agp_bind_page(k: Kernel, slot: number, frame: Frame, site: Site): void {
  const gart = k.mem.gart;
  if (!(slot >= 0 && slot < gart.length))
    BUG(site, `agp_bind_page: slot ${slot} outside an aperture of ${gart.length}`);
  if (frame.pool !== "system") BUG(site, `agp_bind_page: ${frame.name} is not system memory`);
  if (gart[slot] !== null)
    BUG(site, `agp_bind_page: slot ${slot} (${pfnName(agp_slot_pfn(slot))}) already bound`);
  gart[slot] = frame;
  k.sched.touch(k.mem.gartSlots[slot]!, true);
  k.printk(site, `gart: bind ${pfnName(agp_slot_pfn(slot))} -> ${frame.name}`);
}

/** Unbinds aperture slot `slot`; it must be bound. */
export function agp_unbind_page(k: Kernel, slot: number, site: Site): void {
  const gart = k.mem.gart;
  if (gart[slot] === null || gart[slot] === undefined) {
    BUG(site, `agp_unbind_page: slot ${slot} (${pfnName(agp_slot_pfn(slot))}) is not bound`);
  }
  gart[slot] = null;
  k.sched.touch(k.mem.gartSlots[slot]!, true);
  k.printk(site, `gart: unbind ${pfnName(agp_slot_pfn(slot))}`);
}
