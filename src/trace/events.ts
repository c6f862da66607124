// The trace event union: a closed, versioned vocabulary shared by the producer (the simulated
// kernel), the checker's reports and the viewer. Every event carries the step at which it
// happened, the task that caused it and a source site (the kernel function, in Linux spelling).
//
// Adding an event kind is a format change: bump TRACE_FORMAT and teach every consumer.

/** Version tag written at the head of every encoded trace. */
export const TRACE_FORMAT = "faultline/trace@1";

/** Index of a scheduling step within one execution, counted from 0. */
export type StepIndex = number;

/** Id of a simulated task (kernel thread, user thread or the GPU engine). */
export type TaskId = number;

/** A kernel function name such as "ttm_bo_vm_fault"; where in the model the event came from. */
export type Site = string;

/**
 * What a scheduling point does, as the scheduler sees it before running it.
 * - lock/trylock/unlock: acquisition or release of a simulated lock (mode read or write).
 * - read/write: an access to shared state that is not protected by a simulated lock.
 * - wait/signal: blocking on, or completing, a fence, completion or wait queue.
 * - yield: a voluntary reschedule (cond_resched); touches nothing shared.
 * - resume: continuing after a wake-up; the object is what the task waited for.
 */
export type StepOp =
  | "lock"
  | "trylock"
  | "unlock"
  | "read"
  | "write"
  | "wait"
  | "signal"
  | "yield"
  | "resume";

interface Base {
  readonly step: StepIndex;
  readonly task: TaskId;
  readonly site: Site;
}

/** A task came into existence. `kind` says what it models. */
export interface TaskSpawnEvent extends Base {
  readonly type: "task-spawn";
  readonly name: string;
  readonly kind: "user" | "kernel" | "gpu";
  /** Name of the process for a user thread. */
  readonly process?: string;
}

export interface TaskExitEvent extends Base {
  readonly type: "task-exit";
}

/** One scheduling step: the task was chosen and performed `op` on `obj`. */
export interface StepEvent extends Base {
  readonly type: "step";
  readonly op: StepOp;
  readonly obj: string;
}

export type LockMode = "read" | "write";

/** A lock was taken (or a trylock failed, with ok false). */
export interface LockAcquireEvent extends Base {
  readonly type: "lock-acquire";
  readonly lock: string;
  readonly lockClass: string;
  readonly mode: LockMode;
  readonly trylock: boolean;
  readonly ok: boolean;
}

/** The task found the lock taken and went to sleep (or to spin) waiting for it. */
export interface LockWaitEvent extends Base {
  readonly type: "lock-wait";
  readonly lock: string;
  readonly mode: LockMode;
  /** Tasks holding the lock when the wait began. */
  readonly holders: readonly TaskId[];
}

export interface LockReleaseEvent extends Base {
  readonly type: "lock-release";
  readonly lock: string;
  readonly mode: LockMode;
}

/** The task blocked on something other than a lock: a fence, a wait queue, a timer. */
export interface BlockEvent extends Base {
  readonly type: "block";
  readonly on: string;
}

/** A blocked task was made runnable by `task`. */
export interface WakeEvent extends Base {
  readonly type: "wake";
  readonly woken: TaskId;
  readonly on: string;
}

/** Kinds of interval that the viewer and the Perfetto export draw as slices. */
export type SpanKind = "syscall" | "fault" | "move" | "evict" | "swapout" | "gpu-job" | "ioctl";

export interface SpanBeginEvent extends Base {
  readonly type: "span-begin";
  readonly span: SpanKind;
  readonly name: string;
  readonly detail?: string;
}

export interface SpanEndEvent extends Base {
  readonly type: "span-end";
  readonly span: SpanKind;
  readonly name: string;
  /** How it ended: an errno name, a VM_FAULT_* code, or "0". */
  readonly result: string;
}

/** A page-table entry was set. */
export interface PteInstallEvent extends Base {
  readonly type: "pte-install";
  readonly mm: string;
  readonly vpn: number;
  readonly pfn: number;
}

/** A page-table entry was cleared. */
export interface PteZapEvent extends Base {
  readonly type: "pte-zap";
  readonly mm: string;
  readonly vpn: number;
  readonly pfn: number;
}

/** A CPU or GPU access to a frame word. `via` says through what it went. */
export interface AccessEvent extends Base {
  readonly type: "access";
  readonly via: "user" | "kernel" | "gpu";
  readonly access: "load" | "store";
  readonly pfn: number;
  readonly word: number;
  readonly value: number;
  /** For user accesses: the mm and virtual page number. */
  readonly mm?: string;
  readonly vpn?: number;
}

/** Ownership of a physical frame changed (allocated to an owner, or freed). */
export interface FrameEvent extends Base {
  readonly type: "frame";
  readonly pfn: number;
  readonly pool: string;
  /** New owner, "" when the frame was freed. */
  readonly owner: string;
}

export interface FenceSignalEvent extends Base {
  readonly type: "fence-signal";
  readonly fence: string;
}

/**
 * Where a buffer's data lives now: its placement and the PFN through which the CPU reaches each
 * page (-1 for a page with no backing, e.g. unpopulated or swapped out).
 */
export interface PlacementEvent extends Base {
  readonly type: "placement";
  readonly buffer: string;
  readonly place: "system" | "tt" | "vram" | "none" | "swapped";
  readonly pfns: readonly number[];
  /** For a TT placement: the AGP/GART aperture PFN of each page. */
  readonly aperture?: readonly number[];
}

/** A process mapped (or unmapped, with pages 0) a buffer: which virtual pages show which buffer. */
export interface MappingEvent extends Base {
  readonly type: "mapping";
  readonly map: string;
  readonly mm: string;
  readonly buffer: string;
  /** First virtual page and number of pages; 0 pages when the mapping went away. */
  readonly vpn: number;
  readonly pages: number;
}

/** A kernel message, like a printk line. */
export interface NoteEvent extends Base {
  readonly type: "note";
  readonly text: string;
}

/** A finding raised during the execution (its kind is one of the checker's finding kinds). */
export interface FindingEvent extends Base {
  readonly type: "finding";
  readonly kind: string;
  readonly message: string;
}

export type TraceEvent =
  | TaskSpawnEvent
  | TaskExitEvent
  | StepEvent
  | LockAcquireEvent
  | LockWaitEvent
  | LockReleaseEvent
  | BlockEvent
  | WakeEvent
  | SpanBeginEvent
  | SpanEndEvent
  | PteInstallEvent
  | PteZapEvent
  | AccessEvent
  | FrameEvent
  | FenceSignalEvent
  | PlacementEvent
  | MappingEvent
  | NoteEvent
  | FindingEvent;

export type TraceEventType = TraceEvent["type"];

/** Every event type, for validation and exhaustive consumers. */
export const TRACE_EVENT_TYPES: readonly TraceEventType[] = [
  "task-spawn",
  "task-exit",
  "step",
  "lock-acquire",
  "lock-wait",
  "lock-release",
  "block",
  "wake",
  "span-begin",
  "span-end",
  "pte-install",
  "pte-zap",
  "access",
  "frame",
  "fence-signal",
  "placement",
  "mapping",
  "note",
  "finding",
];
