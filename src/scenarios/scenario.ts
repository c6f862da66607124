// The scenario format v1 as typed data (../shared/SCENARIO-FORMAT.md is the contract): what the
// loader produces after validating a `faultline/scenario@1` document, with every default filled
// in and every name checked. Field and op names are the contract's; do not rename them.

import type { ProtocolConfig } from "../protocols/protocol.js";

export const SCENARIO_FORMAT = "faultline/scenario@1";

/** The finding kinds of the contract, in the order reports list them. */
export const FINDING_KINDS = [
  "deadlock",
  "lock-order",
  "stale-mapping",
  "isolation-breach",
  "lost-write",
  "kernel-bug",
  "livelock",
  "leak",
  "assertion",
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

export type Placement = "system" | "tt" | "vram";
export const PLACEMENTS: readonly Placement[] = ["system", "tt", "vram"];

/**
 * The protocol under test, with its options filled in (defaults first in the contract). The
 * protocols layer defines the options; the format reuses its type so the two cannot drift.
 */
export type ProtocolSpec = ProtocolConfig;
export type ProtocolName = ProtocolSpec["name"];
export const PROTOCOL_NAMES: readonly ProtocolName[] = [
  "lock-all-mmap",
  "nopage",
  "nopfn",
  "insert-pfn",
  "remap-in-fault",
  "ttm",
];

export interface MemorySpec {
  readonly system: number;
  readonly tt: number;
  readonly vram: number;
  readonly visibleVram: number;
}

export interface BufferSpec {
  readonly name: string;
  readonly pages: number;
  readonly placement: Placement;
  readonly pinned: boolean;
}

/** User-process ops: the thread needs a process (in `setup`, the op names it). */
export type UserOp =
  | { readonly op: "mmap"; readonly buffer: string; readonly as: string }
  | { readonly op: "munmap"; readonly map: string }
  | {
      readonly op: "store";
      readonly map: string;
      readonly page: number;
      readonly value: number;
      readonly word: number;
    }
  | {
      readonly op: "load";
      readonly map: string;
      readonly page: number;
      readonly word: number;
      /** The value the scenario asserts the load returns; absent when not asserted. */
      readonly expect?: number;
    }
  | { readonly op: "fork"; readonly child: string }
  | { readonly op: "exit" }
  | {
      readonly op: "read-into";
      readonly map: string;
      readonly page: number;
      readonly buffer: string;
      readonly bufferPage: number;
    };

/** Driver ops (any thread). */
export type DriverOp =
  | {
      readonly op: "create";
      readonly buffer: string;
      readonly pages: number;
      readonly placement: Placement;
    }
  | { readonly op: "move"; readonly buffer: string; readonly to: Placement }
  | { readonly op: "evict"; readonly buffer: string }
  | { readonly op: "swapout"; readonly buffer: string }
  | { readonly op: "destroy"; readonly buffer: string }
  | {
      readonly op: "gpu-write";
      readonly buffer: string;
      readonly page: number;
      readonly value: number;
      readonly word: number;
    }
  | {
      readonly op: "gpu-read";
      readonly buffer: string;
      readonly page: number;
      readonly word: number;
    }
  | { readonly op: "wait-idle"; readonly buffer: string }
  | {
      readonly op: "kernel-write";
      readonly buffer: string;
      readonly page: number;
      readonly value: number;
      readonly word: number;
    }
  | {
      readonly op: "kernel-read";
      readonly buffer: string;
      readonly page: number;
      readonly word: number;
    }
  | { readonly op: "reserve"; readonly buffers: readonly string[]; readonly ticket: boolean }
  | { readonly op: "unreserve"; readonly buffers: readonly string[] };

export type Op = UserOp | DriverOp;
export type OpName = Op["op"];

/** A setup op; user ops there name their process. */
export type SetupOp = Op & { readonly process?: string };

export interface ThreadSpec {
  readonly name: string;
  /** The process the thread belongs to; undefined for a kernel thread. */
  readonly process?: string;
  readonly ops: readonly Op[];
}

export type Strategy = "exhaustive" | "bounded" | "random" | "pct" | "portfolio";
export const STRATEGIES: readonly Strategy[] = [
  "exhaustive",
  "bounded",
  "random",
  "pct",
  "portfolio",
];

/** Strategies that sample schedules: they can find bugs, never prove their absence. */
export function isSampling(strategy: Strategy): boolean {
  return strategy === "random" || strategy === "pct" || strategy === "portfolio";
}

export interface ExploreSpec {
  readonly strategy: Strategy;
  readonly preemptionBound?: number;
  readonly executions?: number;
  readonly seed?: number;
  readonly depth?: number;
}

/** A validated scenario. */
export interface Scenario {
  readonly name: string;
  readonly description?: string;
  readonly protocol: ProtocolSpec;
  readonly memory: MemorySpec;
  readonly wordsPerPage: number;
  readonly buffers: readonly BufferSpec[];
  readonly processes: readonly string[];
  readonly setup: readonly SetupOp[];
  readonly threads: readonly ThreadSpec[];
  /** `expect` as given: "ok", or finding kinds; null when the scenario has none. */
  readonly expected: "ok" | readonly FindingKind[] | null;
  readonly explore: ExploreSpec;
  /** Where it came from, and a hash of its text (replay tokens name it). */
  readonly source: { readonly file: string; readonly hash: string };
}
