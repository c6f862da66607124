// Simulated physical memory: three pools of page frames in one PFN space, each frame with an
// owner and content words. This is the hardware under the model, so it is our own machinery
// (camelCase); the Linux-named APIs over it are page_alloc.ts (struct page), agp.ts (the GART
// aperture) and the TTM managers that hand out VRAM.
//
// PFN layout (hex, so a PFN in a report says which pool it is in):
//   system RAM   0x01000 .. 0x01000 + system       every frame has a struct page
//   AGP/GART     0xd0000 .. 0xd0000 + tt           aperture slots; a bound slot aliases a
//                                                  system frame, an unbound one reaches nothing
//   VRAM         0xe0000 .. 0xe0000 + vram         struct page only with sparsemem; the CPU
//                                                  reaches only the first visibleVram frames
//
// Left out: NUMA, highmem, DMA zones, caching attributes of the frames themselves (PTEs carry the
// caching mode; the frame keeps no attribute).

import type { Site } from "../trace/index.js";
import { BUG } from "./bug.js";
import type { Kernel } from "./kernel.js";
import type { KObject, StepAccess } from "./sched.js";

/** Page counts per pool and content layout. */
export interface MemoryConfig {
  /** System RAM frames (each with a struct page). */
  readonly system: number;
  /** Slots of the AGP/GART aperture. */
  readonly tt: number;
  /** VRAM frames. */
  readonly vram: number;
  /** The CPU-visible part of VRAM (the PCI BAR), counted from its start. */
  readonly visibleVram: number;
  /** Content words per page. */
  readonly wordsPerPage: number;
  /** CONFIG_SPARSEMEM with struct pages for VRAM (spufs-style device memory pages). */
  readonly sparsemem: boolean;
}

export const DEFAULT_MEMORY: MemoryConfig = {
  system: 64,
  tt: 32,
  vram: 32,
  visibleVram: 32,
  wordsPerPage: 1,
  sparsemem: false,
};

export const SYSTEM_PFN_BASE = 0x1000;
export const TT_PFN_BASE = 0xd0000;
export const VRAM_PFN_BASE = 0xe0000;

export type Pool = "system" | "tt" | "vram";

/** Who a frame belongs to: a buffer page, or a kernel use such as a page table. */
export interface FrameOwner {
  /** The owning object, e.g. "bo:A" or "dummy". */
  readonly name: string;
  /** Page index within the owner. */
  readonly index: number;
}

/** struct page: the refcounted descriptor of a frame (system RAM, or VRAM under sparsemem). */
export interface StructPage {
  readonly frame: Frame;
  /** page_ref_count(); 0 means free. */
  refcount: number;
  /** page_mapcount(): PTEs that map this page through the rmap. */
  mapcount: number;
  /** page->private: owner-defined (ttm_pool keeps the block order or DMA bookkeeping here). */
  private: number;
}

/** A physical page frame. */
export class Frame implements KObject {
  readonly name: string;
  owner: FrameOwner | null = null;
  readonly words: number[];
  page: StructPage | null = null;

  constructor(
    readonly id: number,
    readonly pfn: number,
    readonly pool: "system" | "vram",
    wordsPerPage: number,
  ) {
    this.name = `pfn:0x${pfn.toString(16)}`;
    this.words = new Array<number>(wordsPerPage).fill(0);
  }
}

/** For a user or copy_from_user access: where in which address space it was made. */
export interface UserContext {
  readonly mm: string;
  readonly vpn: number;
  /** The VMA the address lies in (a vm_area_struct; typed loosely to keep this file below mm). */
  readonly vma: unknown;
}

/** Describes one access to a frame word, for observers. */
export interface FrameAccess {
  readonly via: "user" | "kernel" | "gpu";
  readonly kind: "load" | "store";
  /** The PFN used: for the aperture, the aperture PFN; the frame is what it reached. */
  readonly pfn: number;
  readonly frame: Frame | null;
  readonly word: number;
  readonly value: number;
  readonly site: Site;
  readonly user?: UserContext;
  /**
   * For a GPU access: the owner of the frame when the job was queued (null if it was free
   * then). The ring runs jobs in submission order, and TTM hands freed memory to the next
   * buffer only behind the fences of the jobs queued before (a pipelined eviction's fence, a
   * ghost object), so the job still acts on that owner's data even when the allocator has
   * already given the frame to someone else.
   */
  readonly queuedOwner?: FrameOwner | null;
}

/** Watches frame accesses; checkers implement it and never change memory. */
export interface AccessObserver {
  onAccess(k: Kernel, access: FrameAccess): void;
}

/** One access record, with the user context or the queued owner where there is one. */
function frameAccess(
  via: FrameAccess["via"],
  kind: FrameAccess["kind"],
  pfn: number,
  frame: Frame | null,
  word: number,
  value: number,
  site: Site,
  user: UserContext | undefined,
  queuedOwner: FrameOwner | null | undefined,
): FrameAccess {
  if (user !== undefined) return { via, kind, pfn, frame, word, value, site, user };
  if (queuedOwner !== undefined) return { via, kind, pfn, frame, word, value, site, queuedOwner };
  return { via, kind, pfn, frame, word, value, site };
}

/** Formats a PFN as the reports print it. */
export function pfnName(pfn: number): string {
  return `0x${pfn.toString(16)}`;
}

export class PhysMem {
  readonly config: MemoryConfig;
  readonly system: Frame[];
  readonly vram: Frame[];
  /** GART entries: the system frame bound into each aperture slot, or null. */
  readonly gart: (Frame | null)[];
  /** What binding, unbinding or walking through each GART entry touches. */
  readonly gartSlots: KObject[];
  readonly accessObservers: AccessObserver[] = [];
  /** Free system pages; the last entry is handed out next (page_alloc.ts). */
  readonly freePages: StructPage[];
  /** What a step that allocates or frees pages touches (the free list and its accounting). */
  readonly allocator: KObject;

  constructor(
    private readonly k: Kernel,
    config: Partial<MemoryConfig>,
  ) {
    const c = { ...DEFAULT_MEMORY, ...config };
    if (config.visibleVram === undefined) (c as { visibleVram: number }).visibleVram = c.vram;
    this.config = c;
    this.system = [];
    for (let i = 0; i < c.system; i++) {
      const frame = new Frame(k.newId(), SYSTEM_PFN_BASE + i, "system", c.wordsPerPage);
      frame.page = { frame, refcount: 0, mapcount: 0, private: 0 };
      this.system.push(frame);
    }
    this.vram = [];
    for (let i = 0; i < c.vram; i++) {
      const frame = new Frame(k.newId(), VRAM_PFN_BASE + i, "vram", c.wordsPerPage);
      if (c.sparsemem) frame.page = { frame, refcount: 1, mapcount: 0, private: 0 };
      this.vram.push(frame);
    }
    this.gart = new Array<Frame | null>(c.tt).fill(null);
    this.gartSlots = this.gart.map((_, i) => ({ id: k.newId(), name: `gart:${i}` }));
    // Lowest PFN on top, so the first allocations are predictable in traces.
    this.freePages = this.system.map((f) => f.page!).reverse();
    this.allocator = { id: k.newId(), name: "page_allocator" };
  }

  /** Which pool a PFN lies in, or null when it is outside every pool. */
  poolOf(pfn: number): Pool | null {
    const c = this.config;
    if (pfn >= SYSTEM_PFN_BASE && pfn < SYSTEM_PFN_BASE + c.system) return "system";
    if (pfn >= TT_PFN_BASE && pfn < TT_PFN_BASE + c.tt) return "tt";
    if (pfn >= VRAM_PFN_BASE && pfn < VRAM_PFN_BASE + c.vram) return "vram";
    return null;
  }

  /** The frame a PFN reaches now (through the GART for aperture PFNs), or null. */
  resolve(pfn: number): Frame | null {
    const c = this.config;
    if (pfn >= SYSTEM_PFN_BASE && pfn < SYSTEM_PFN_BASE + c.system)
      return this.system[pfn - SYSTEM_PFN_BASE]!;
    if (pfn >= VRAM_PFN_BASE && pfn < VRAM_PFN_BASE + c.vram)
      return this.vram[pfn - VRAM_PFN_BASE]!;
    if (pfn >= TT_PFN_BASE && pfn < TT_PFN_BASE + c.tt) return this.gart[pfn - TT_PFN_BASE]!;
    return null;
  }

  /** Whether the CPU can reach `pfn` (system RAM, the aperture, or visible VRAM). */
  cpuVisible(pfn: number): boolean {
    const pool = this.poolOf(pfn);
    if (pool === "vram") return pfn < VRAM_PFN_BASE + this.config.visibleVram;
    return pool !== null;
  }

  /** pfn_to_page(): the struct page of a PFN, or null for device memory without one. */
  pfnToPage(pfn: number): StructPage | null {
    const pool = this.poolOf(pfn);
    if (pool === "tt") return null;
    return this.resolve(pfn)?.page ?? null;
  }

  /** Sets the owner of the frame at `pfn` (a VRAM or system frame), tracing the change. */
  setOwner(frame: Frame, owner: FrameOwner | null, site: Site): void {
    frame.owner = owner;
    this.k.sched.touch(frame, true);
    const trace = this.k.sched.trace;
    if (trace) {
      const task = this.k.sched.current;
      trace.push({
        type: "frame",
        step: this.k.sched.stepIndex,
        task: task ? task.id : 0,
        site,
        pfn: frame.pfn,
        pool: frame.pool,
        owner: owner === null ? "" : `${owner.name}[${owner.index}]`,
      });
    }
  }

  /**
   * What an access through `pfn` touches, for scheduling: the GART entry it walks (for an
   * aperture PFN) and the frame it reaches, if any. `write` is the access to the frame.
   */
  accessPath(pfn: number, via: FrameAccess["via"], write: boolean): StepAccess[] {
    const out: StepAccess[] = [];
    const c = this.config;
    if (pfn >= TT_PFN_BASE && pfn < TT_PFN_BASE + c.tt)
      out.push({ obj: this.gartSlots[pfn - TT_PFN_BASE]!, write: false });
    const frame = this.reach(pfn, via);
    if (frame !== null) out.push({ obj: frame, write });
    return out;
  }

  /**
   * The frame an access by `via` reaches through `pfn`: the CPU cannot reach VRAM beyond the
   * visible window, and an unbound aperture slot reaches nothing.
   */
  reach(pfn: number, via: FrameAccess["via"]): Frame | null {
    if (via !== "gpu" && !this.cpuVisible(pfn)) return null;
    return this.resolve(pfn);
  }

  /**
   * Reads a word through `pfn` on behalf of `via`. Reaching no frame reads 0, as the GART's
   * scratch page or an unclaimed bus address would. The caller has taken a scheduling step.
   */
  load(
    pfn: number,
    word: number,
    via: FrameAccess["via"],
    site: Site,
    user?: UserContext,
    queuedOwner?: FrameOwner | null,
  ): number {
    const frame = this.reach(pfn, via);
    this.checkWord(word, site);
    const value = frame === null ? 0 : frame.words[word]!;
    this.notify(frameAccess(via, "load", pfn, frame, word, value, site, user, queuedOwner));
    return value;
  }

  /** Writes a word through `pfn`; a write that reaches no frame is dropped. */
  store(
    pfn: number,
    word: number,
    value: number,
    via: FrameAccess["via"],
    site: Site,
    user?: UserContext,
    queuedOwner?: FrameOwner | null,
  ): void {
    const frame = this.reach(pfn, via);
    this.checkWord(word, site);
    if (frame !== null) frame.words[word] = value;
    this.notify(frameAccess(via, "store", pfn, frame, word, value, site, user, queuedOwner));
  }

  /** Copies every word of one frame to another (memcpy of a page). */
  copyPage(from: Frame, to: Frame): void {
    this.k.sched.touch(from, false);
    this.k.sched.touch(to, true);
    for (let w = 0; w < to.words.length; w++) to.words[w] = from.words[w]!;
  }

  /** Fills a frame with zeroes (clear_page). */
  clearPage(frame: Frame): void {
    this.k.sched.touch(frame, true);
    frame.words.fill(0);
  }

  private checkWord(word: number, site: Site): void {
    if (!(word >= 0 && word < this.config.wordsPerPage && Number.isInteger(word))) {
      BUG(site, `word ${word} outside a page of ${this.config.wordsPerPage} words`);
    }
  }

  private notify(access: FrameAccess): void {
    const trace = this.k.sched.trace;
    if (trace) {
      const task = this.k.sched.current;
      const base = {
        type: "access",
        step: this.k.sched.stepIndex,
        task: task ? task.id : 0,
        site: access.site,
        via: access.via,
        access: access.kind,
        pfn: access.pfn,
        word: access.word,
        value: access.value,
      } as const;
      trace.push(
        access.user === undefined ? base : { ...base, mm: access.user.mm, vpn: access.user.vpn },
      );
    }
    for (const observer of this.accessObservers) observer.onAccess(this.k, access);
  }
}
