// drm_mm: the DRM range allocator. Models drivers/gpu/drm/drm_mm.c and include/drm/drm_mm.h as
// of Linux 6.x (the augmented hole-address tree of v5.8 onwards), plus drm_mm_replace_node(),
// which upstream removed in 2024 but which its old test suite exercises.
//
// The allocator manages one range [start, start + size). Callers own the `drm_mm_node` objects;
// the allocator never allocates memory per operation. A hole is the gap after a node and is
// recorded with that node (`hole_size`); the sentinel `head_node` owns the hole at the start of
// the range. Holes are indexed three ways: by size (`holes_size`, largest first, for
// DRM_MM_INSERT_BEST and the O(1) "nothing big enough" reject), by address (`holes_addr`,
// with the largest hole of each subtree, for LOW, HIGH and reserve), and in
// most-recently-used order (`hole_stack`, for EVICT). Allocated nodes also sit on an
// address-ordered list.
//
// Not thread-safe, as upstream: the caller serialises every call (TTM's range manager holds a
// spinlock). While an eviction scan has nodes in its roster, only drm_mm_scan_* calls are
// allowed on the allocator.
//
// How the port stores things, and why (measured with bench/drm_mm.ts; one BEST insert plus one
// remove among 100k nodes went from about 4 µs to the figure in the commit log by these):
// - The private fields of each node (list links, hole_size, its place in each index) live in a
//   slot of a Float64Array owned by the allocator, not in the node object: eight numbers, one
//   64-byte line, so touching a node costs one cache line. Pointer-chasing through objects cost
//   about twice as much per access.
// - holes_addr (addr_tree.ts) is a B+tree of every node, the head first, keyed by address,
//   whose leaf entries carry hole sizes and whose inner entries carry the largest hole below
//   them. It is upstream's holes_addr and interval_tree in one: a node without a hole counts
//   as a hole of size 0, which no search can use, so a hole that appears, grows, shrinks or
//   vanishes changes a number in place, and an insertion puts one entry next to its
//   predecessor. A red-black tree of a million nodes is ~25 levels deep, and keeping its
//   subtree maxima right cost ~20 dependent cache misses per insert and remove; the B+tree is
//   five levels deep there and usually misses only in the leaf. LOW, HIGH, reserve and the
//   range lookups return what upstream's return (they depend only on address order and hole
//   sizes). DRM_MM_INSERT_ONCE with LOW or HIGH examines the first hole of the walk that is big
//   enough and reaches into the range (see first_hole); upstream examines whatever node its
//   tree descent lands on, which depends on the red-black tree's shape, so the two may fail
//   in different corner cases.
// - holes_size is a tree of size classes (one per distinct hole size, in their own small
//   array), each listing its holes newest first. BEST visits holes in exactly upstream's order
//   (smallest fitting size first, newest first within a size), and most updates touch a list.
// - hole_stack is a log of hole owners in the order they became holes, newest last; a hole
//   that goes away leaves a tombstone, and the log is compacted when half of it is tombstones.
//   Walking it from the end, skipping tombstones, gives exactly upstream's MRU list order,
//   and each node needs one field for it instead of two links.
//
// What this port leaves out or changes, and why:
// - Addresses, sizes and alignments are JS numbers up to DRM_MM_ADDR_MAX (2^53 - 1) instead of
//   u64, so arithmetic stays exact and fast. Arguments that are negative, fractional or above
//   the limit get -EINVAL (upstream has no such inputs). A request whose end would pass the
//   limit cannot fit, so it gets -ENOSPC, as a u64 overflow does upstream.
// - Upstream DRM_MM_BUG_ON()s on arguments (range_start > range_end, a bad scan range, a zero
//   or overlong init size) become -EINVAL. Misuse of node state (removing a free node,
//   inserting an allocated one, breaking the scan's LIFO order, touching the allocator during
//   a scan) is an always-on assertion that throws DrmMmBug, rather than a debug-only check.
// - drm_mm_takedown() on an allocator that still has nodes throws DrmMmBug carrying the WARN
//   text and the leaked nodes, instead of WARNing and carrying on; the allocator is untouched.
//   There is no stack depot, so every leak reports "unknown owner".
// - Alignment uses `%` everywhere; upstream's power-of-two `remainder_mask` would need 64-bit
//   bitwise operations, which JS numbers do not have.
// - Iterator macros are generator functions; color_adjust receives a mutable bounds object in
//   place of two u64 pointers.

import {
  addrTreeInit,
  addrTreeInsertAfter,
  addrTreeLastBelow,
  addrTreeNext,
  addrTreePrev,
  addrTreeRemove,
  hole_addr_tree,
  SLOT_HOLE,
  SLOT_KEY,
  SLOT_LEAF,
  TREE_NODE_STRIDE,
} from "./addr_tree.js";
import {
  RB_NIL,
  rb_erase_cached,
  rb_insert_color_cached,
  type rb_layout,
  rb_link_node,
  rb_prev,
  rb_root_cached,
} from "./rbtree.js";

/** No space left: no hole fits the request, or the requested place is occupied. */
export const ENOSPC = 28;
/** Invalid argument: negative, fractional or out-of-limit numbers, or an unknown mode. */
export const EINVAL = 22;

/** The largest address, size or alignment this port accepts; stands in for U64_MAX. */
export const DRM_MM_ADDR_MAX = Number.MAX_SAFE_INTEGER;

/** `enum drm_mm_insert_mode`: where to search for a hole and where to place the node in it. */
export type drm_mm_insert_mode = number;
/** The smallest hole that fits; the node goes at its bottom. */
export const DRM_MM_INSERT_BEST = 0;
/** The lowest-addressed hole that fits; the node goes at its bottom. */
export const DRM_MM_INSERT_LOW = 1;
/** The highest-addressed hole that fits; the node goes at its top. */
export const DRM_MM_INSERT_HIGH = 2;
/** The most recently freed hole first; meant to follow an eviction scan. */
export const DRM_MM_INSERT_EVICT = 3;
/** Flag, combined with a mode by `|` or `+`: examine only the first candidate hole. */
export const DRM_MM_INSERT_ONCE = 0x80000000;
/** DRM_MM_INSERT_HIGH | DRM_MM_INSERT_ONCE. */
export const DRM_MM_INSERT_HIGHEST = DRM_MM_INSERT_HIGH + DRM_MM_INSERT_ONCE;
/** DRM_MM_INSERT_LOW | DRM_MM_INSERT_ONCE. */
export const DRM_MM_INSERT_LOWEST = DRM_MM_INSERT_LOW + DRM_MM_INSERT_ONCE;

/** `drm_mm_node.flags` bit numbers, as upstream. */
export const DRM_MM_NODE_ALLOCATED_BIT = 0;
export const DRM_MM_NODE_SCANNED_BIT = 1;
const ALLOCATED = 1 << DRM_MM_NODE_ALLOCATED_BIT;
const SCANNED = 1 << DRM_MM_NODE_SCANNED_BIT;

/** A broken drm_mm invariant or a misuse of the API: the kernel's DRM_MM_BUG_ON and WARN. */
export class DrmMmBug extends Error {
  override readonly name = "DrmMmBug";
}

// Callers pass constant messages, so that a passing check costs no string building.
function DRM_MM_BUG_ON(condition: boolean, what: string): void {
  if (condition) throw new DrmMmBug(what);
}

// ------------------------------------------------------------------------------------------
// Slot layout (ours). The private fields of `struct drm_mm_node` live in a slot of the
// allocator's heap while the node is allocated. The heap is one ArrayBuffer seen as an
// Int32Array (`mm.heap`, for links and indexes) and as a Float64Array (`mm.heapVals`, for
// addresses and sizes); a slot is named by its offset in the Int32Array, and its float64 fields
// are at (offset >> 1) + field. Links are int32 because following a link stored as a double
// made each dependent load about twice as slow in V8. Exported for drm_mm_checker.ts only.

/** Int32s per slot: 64 bytes, of which 40 are used, so a slot spans at most two cache lines. */
export const SLOT_STRIDE = 16;
/** log2(SLOT_STRIDE): slot offset >> SLOT_SHIFT is the slot number. */
export const SLOT_SHIFT = 4;
/** Float64: the node's end, which is where the hole after it starts (head: the range start). */
export const KEY = SLOT_KEY;
/** Float64: hole_size, the gap after this node; 0 means no hole follows. */
export const HOLE_SIZE = SLOT_HOLE;
/** Int32: node_list links. */
export const LIST_PREV = 4;
export const LIST_NEXT = 5;
/**
 * Int32: holes_size, the neighbours of this node's hole in the list of holes of its size, newest
 * first. The newest hole has SIZE_HEAD instead of a previous one.
 */
export const SIZE_PREV = 6;
export const SIZE_NEXT = 7;
export const SIZE_HEAD = -1;
/** Int32: hole_stack, the index of this node's entry in the hole stack log. */
export const STACK_POS = 8;
/** Int32: holes_addr, the B+tree leaf holding this node (maintained by addr_tree.ts). */
export const LEAF = SLOT_LEAF;

/**
 * holes_size, for hole sizes below SMALL_HOLE_SIZES: the newest hole of each size is
 * `mm.smallFirst[size]` (RB_NIL, or past its end, when there is none), and two levels of bitmaps (`mm.smallBits`, one bit per size, and
 * `mm.smallSummary`, one bit per word of it) mark the sizes that have holes, so that finding the
 * smallest size at or above a request is a few word operations. Holes this small are almost all
 * of them (in the benchmark's steady state, 99.9% of the holes are below 4096 and half are
 * below 8), and a red-black tree of their sizes, with the map that found a size's class, took
 * about a quarter of an insertion's time.
 */
export const SMALL_HOLE_SIZES = 4096;
export const SMALL_WORDS = SMALL_HOLE_SIZES >> 5;
/** The length `mm.smallFirst` starts with (see growSmallFirst). */
const SMALL_FIRST_INITIAL = 64;
export const SMALL_SUMMARY_WORDS = SMALL_WORDS >> 5;

/**
 * holes_size, for larger hole sizes: size classes in their own buffer (`mm.sizeClasses` as
 * Int32Array, `mm.sizeClassKeys` as Float64Array, named like slots), one per size that has
 * holes, in a red-black tree by size, largest first, with the largest cached; `classBySize`
 * finds a size's class. Such holes are few, so this costs what upstream's tree does.
 */
export const CLASS_STRIDE = 8;
export const C_LEFT = 0;
export const C_RIGHT = 1;
export const C_PARENT = 2;
export const C_RED = 3;
/** Int32: the newest hole of the class. */
export const C_FIRST = 4;
/** Float64: the hole size of the class. */
export const C_KEY = 3;

export const HOLES_SIZE_LAYOUT: rb_layout = {
  left: C_LEFT,
  right: C_RIGHT,
  parent: C_PARENT,
  red: C_RED,
};

/** Slot 0 is the null slot (never written), slot 1 the head node. */
export const HEAD_SLOT = SLOT_STRIDE;
const FIRST_FREE_SLOT = 2 * SLOT_STRIDE;
/** A hole_stack entry whose hole has gone. */
export const STACK_TOMBSTONE = 0;

/** The interval that `color_adjust` may shrink in place; stands in for its two u64 pointers. */
export interface HoleBounds {
  start: number;
  end: number;
}

/**
 * Driver hook that may shrink the usable part of the hole after `node` for a request of
 * `color` (for example to leave guard pages between different colors). `node` may be the
 * unallocated head node; `nextNode(node)` is the node after the hole. It must only shrink
 * `bounds`, must not keep a reference to it, and must not call back into the allocator.
 */
export type drm_mm_color_adjust = (node: drm_mm_node, color: number, bounds: HoleBounds) => void;

/**
 * One allocation, owned by the caller. Set `start`, `size` and `color` before
 * drm_mm_reserve_node(); the insert functions set them. The rest is private to the allocator
 * (the `private:` part of the C struct); read it only through the helpers.
 */
export class drm_mm_node {
  /** Opaque tag passed to color_adjust. */
  color = 0;
  /** First address of the allocation. */
  start = 0;
  /** Length of the allocation; negative only in the head node (see drm_mm_init). */
  size = 0;
  /** The allocator this node was last inserted into. */
  mm: drm_mm | null = null;
  /** DRM_MM_NODE_ALLOCATED_BIT and DRM_MM_NODE_SCANNED_BIT. */
  flags = 0;
  /** Ours: the offset of this node's slot in `mm.heap` while allocated, else -1. */
  slot = -1;
}

/** The allocator. Zero it with `new drm_mm()`, then call drm_mm_init(). */
export class drm_mm {
  /** Optional driver hook; see drm_mm_color_adjust. */
  color_adjust: drm_mm_color_adjust | null = null;
  /** Sentinel of the node list; its hole is the one at the start of the range. */
  head_node = new drm_mm_node();
  /**
   * Hole owners by hole size, largest first, and among equal sizes newest first: a tree of the
   * size classes in `sizeClasses`, each listing its holes; the cached leftmost is the largest.
   */
  holes_size = new rb_root_cached(HOLES_SIZE_LAYOUT);
  /**
   * Every node, the head first, in address order, with the largest hole of each subtree (see
   * addr_tree.ts). It serves as upstream's holes_addr (a node without a hole counts as a hole
   * of size 0, which no search can use) and as its interval_tree of allocated nodes.
   */
  holes_addr = new hole_addr_tree();
  /**
   * Hole owners in the order their holes were added, newest last, with STACK_TOMBSTONE where a
   * hole has gone since; read backwards it is upstream's hole_stack. The entry at
   * `hole_stack_len - 1` is always a live one.
   */
  hole_stack = new Int32Array(0);
  /** Ours: entries in use in `hole_stack`, tombstones included. */
  hole_stack_len = 0;
  /** Ours: live entries in `hole_stack`, i.e. the number of holes. */
  hole_stack_live = 0;
  /** Ours: counts compactions of `hole_stack`, which move entries (see drm_mm_for_each_hole). */
  hole_stack_epoch = 0;
  /** Number of nodes currently in an eviction roster. */
  scan_active = 0;
  /** Ours: the slots' int32 fields (see SLOT_STRIDE); grows by doubling, never per operation. */
  heap = new Int32Array(0);
  /** Ours: the slots' float64 fields: the same memory as `heap`. */
  heapVals = new Float64Array(0);
  /** Ours: the node object of each slot, by slot number (offset >> SLOT_SHIFT). */
  slotNodes: drm_mm_node[] = [];
  /** Ours: offsets of released slots, reused before the heap grows. */
  freeSlots: number[] = [];
  /** Ours: the first never-used slot offset. */
  nextSlot = 0;
  /** Ours: the size classes' int32 fields (see CLASS_STRIDE); offset 0 is the null class. */
  sizeClasses = new Int32Array(0);
  /** Ours: the size classes' float64 fields: the same memory as `sizeClasses`. */
  sizeClassKeys = new Float64Array(0);
  /** Ours: offsets of released size classes. */
  freeClasses: number[] = [];
  /** Ours: the size class of each large hole size in holes_size. */
  classBySize = new Map<number, number>();
  /** Ours: holes_size below SMALL_HOLE_SIZES: newest hole of each size, and the bitmaps. */
  smallFirst = new Int32Array(0);
  smallBits = new Int32Array(0);
  smallSummary = new Int32Array(0);
  /** Ours: the first never-used size class offset. */
  nextClass = 0;
  /** Ours: scratch bounds handed to color_adjust, reused so that searching does not allocate. */
  colorAdjustBounds: HoleBounds = { start: 0, end: 0 };
}

/**
 * Eviction roster state (`struct drm_mm_scan`), set up by drm_mm_scan_init_with_range().
 * `hit_start > hit_end` means no hole has been found yet.
 */
export class drm_mm_scan {
  mm: drm_mm | null = null;
  size = 0;
  alignment = 0;
  color = 0;
  range_start = 0;
  range_end = 0;
  hit_start = DRM_MM_ADDR_MAX;
  hit_end = 0;
  mode: drm_mm_insert_mode = DRM_MM_INSERT_BEST;
}

/** The output side of `struct drm_printer`: receives text that ends in "\n". */
export interface drm_printer {
  printfn(text: string): void;
}

/** Stands in the slot table for released slots, so that they keep no caller node alive. */
const RELEASED = new drm_mm_node();

function nodeOf(mm: drm_mm, slot: number): drm_mm_node {
  return mm.slotNodes[slot >> SLOT_SHIFT]!;
}

// ------------------------------------------------------------------------------------------
// Small helpers from include/drm/drm_mm.h.

/** Whether `node` is allocated (inserted or reserved and not yet removed). */
export function drm_mm_node_allocated(node: drm_mm_node): boolean {
  return (node.flags & ALLOCATED) !== 0;
}

/** Whether `node` is in an eviction scan roster. */
export function drm_mm_node_scanned_block(node: drm_mm_node): boolean {
  return (node.flags & SCANNED) !== 0;
}

/** Whether drm_mm_init() has set up `mm`. A freshly constructed (zeroed) mm reads false. */
export function drm_mm_initialized(mm: drm_mm): boolean {
  // Upstream tests hole_stack.next; here drm_mm_init() links the head node to its mm instead.
  return mm.head_node.mm === mm;
}

/** The size of the hole after `node` (C's private `hole_size`); 0 if none follows. */
export function drm_mm_hole_size(node: drm_mm_node): number {
  return node.slot < 0 || node.mm === null ? 0 : node.mm.heapVals[(node.slot >> 1) + HOLE_SIZE]!;
}

/** Whether a hole follows `node`. */
export function drm_mm_hole_follows(node: drm_mm_node): boolean {
  return drm_mm_hole_size(node) !== 0;
}

/** Start of the hole after `hole_node`. The caller must check drm_mm_hole_follows() first. */
export function drm_mm_hole_node_start(hole_node: drm_mm_node): number {
  DRM_MM_BUG_ON(!drm_mm_hole_follows(hole_node), "drm_mm_hole_node_start: no hole follows");
  // For the head node, start + size is the range start (its size is minus the range size).
  return hole_node.start + hole_node.size;
}

/** End of the hole after `hole_node`. The caller must check drm_mm_hole_follows() first. */
export function drm_mm_hole_node_end(hole_node: drm_mm_node): number {
  DRM_MM_BUG_ON(!drm_mm_hole_follows(hole_node), "drm_mm_hole_node_end: no hole follows");
  return nextNode(hole_node).start;
}

/**
 * The node after `node` in address order, or the head node after the last one; C's
 * `list_next_entry(node, node_list)`, as used by color_adjust callbacks. `node` must be
 * allocated or be the head node.
 */
export function nextNode(node: drm_mm_node): drm_mm_node {
  const mm = node.mm!;
  return nodeOf(mm, mm.heap[node.slot + LIST_NEXT]!);
}

/** Whether `mm` holds no allocated nodes. */
export function drm_mm_clean(mm: drm_mm): boolean {
  return mm.heap[HEAD_SLOT + LIST_NEXT] === HEAD_SLOT;
}

// ------------------------------------------------------------------------------------------
// Argument checks (ours: upstream takes u64 and cannot see these).

function isAddr(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0;
}

/** The mode without DRM_MM_INSERT_ONCE, or -1 when `mode` is not a valid insert mode. */
function modeBase(mode: number): number {
  if (!Number.isInteger(mode)) return -1;
  // `DRM_MM_INSERT_LOW | DRM_MM_INSERT_ONCE` is a negative int32 in JS; `+` gives the u32.
  const bits = mode < 0 ? mode + 2 ** 32 : mode;
  const base = bits >= DRM_MM_INSERT_ONCE ? bits - DRM_MM_INSERT_ONCE : bits;
  return base >= DRM_MM_INSERT_BEST && base <= DRM_MM_INSERT_EVICT ? base : -1;
}

function modeOnce(mode: number): boolean {
  return (mode < 0 ? mode + 2 ** 32 : mode) >= DRM_MM_INSERT_ONCE;
}

function assertQuiescent(mm: drm_mm): void {
  DRM_MM_BUG_ON(!drm_mm_initialized(mm), "drm_mm is not initialized");
  DRM_MM_BUG_ON(mm.scan_active !== 0, "drm_mm used during an eviction scan");
}

// ------------------------------------------------------------------------------------------
// Slots.

/** A buffer of `bytes` seen both ways, with the contents of `old` copied in. */
function growBuffer(
  old: Int32Array,
  bytes: number,
): { ints: Int32Array<ArrayBuffer>; vals: Float64Array<ArrayBuffer> } {
  const buffer = new ArrayBuffer(bytes);
  const ints = new Int32Array(buffer);
  ints.set(old);
  return { ints, vals: new Float64Array(buffer) };
}

/**
 * Int32 views of consecutive pieces of one new buffer, of `lengths` int32s each; each piece
 * starts on an 8-byte boundary, so that float64Over can view it too.
 */
function carve(lengths: readonly number[]): Int32Array<ArrayBuffer>[] {
  const padded = lengths.map((n) => (n + 1) & ~1);
  const buffer = new ArrayBuffer(padded.reduce((a, b) => a + b, 0) * 4);
  let offset = 0;
  return lengths.map((n, i) => {
    const view = new Int32Array(buffer, offset * 4, n);
    offset += padded[i]!;
    return view;
  });
}

/** The float64 view of the memory of `ints` (which starts on an 8-byte boundary). */
function float64Over(ints: Int32Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  return new Float64Array(ints.buffer, ints.byteOffset, ints.length >> 1);
}

function allocSlot(mm: drm_mm, node: drm_mm_node): number {
  let slot = mm.freeSlots.pop();
  if (slot === undefined) {
    slot = mm.nextSlot;
    mm.nextSlot += SLOT_STRIDE;
    if (mm.nextSlot > mm.heap.length) {
      const grown = growBuffer(mm.heap, mm.heap.length * 8);
      mm.heap = grown.ints;
      mm.heapVals = grown.vals;
    }
  }
  mm.slotNodes[slot >> SLOT_SHIFT] = node;
  node.slot = slot;
  return slot;
}

function releaseSlot(mm: drm_mm, node: drm_mm_node): void {
  mm.slotNodes[node.slot >> SLOT_SHIFT] = RELEASED;
  mm.freeSlots.push(node.slot);
  node.slot = -1;
}

// ------------------------------------------------------------------------------------------
// Hole bookkeeping.

/**
 * Adds slot `n` to holes_size as the newest hole of its size. Upstream keeps every hole in one
 * tree, equal sizes to the right of older ones; BEST then visits sizes from the best fit upwards
 * and, within a size, the newest hole first. Lists of the holes of each size, newest first,
 * found by size (see SMALL_HOLE_SIZES and CLASS_STRIDE), yield exactly that order.
 */
function insertHoleSize(mm: drm_mm, n: number): void {
  const heap = mm.heap;
  const size = mm.heapVals[(n >> 1) + HOLE_SIZE]!;
  let first: number;
  if (size < SMALL_HOLE_SIZES) {
    if (size >= mm.smallFirst.length) growSmallFirst(mm, size);
    first = mm.smallFirst[size]!;
    mm.smallFirst[size] = n;
    if (first === RB_NIL) setSmallBit(mm, size);
  } else {
    let c = mm.classBySize.get(size);
    if (c === undefined) c = newClass(mm, size);
    first = mm.sizeClasses[c + C_FIRST]!;
    mm.sizeClasses[c + C_FIRST] = n;
  }
  heap[n + SIZE_PREV] = SIZE_HEAD;
  heap[n + SIZE_NEXT] = first;
  if (first !== RB_NIL) heap[first + SIZE_PREV] = n;
}

/** Removes slot `n`, whose hole size has not changed yet, from holes_size. */
function eraseHoleSize(mm: drm_mm, n: number): void {
  const heap = mm.heap;
  const prev = heap[n + SIZE_PREV]!;
  const next = heap[n + SIZE_NEXT]!;
  if (next !== RB_NIL) heap[next + SIZE_PREV] = prev;
  if (prev !== SIZE_HEAD) {
    heap[prev + SIZE_NEXT] = next;
    return;
  }
  const size = mm.heapVals[(n >> 1) + HOLE_SIZE]!;
  if (size < SMALL_HOLE_SIZES) {
    mm.smallFirst[size] = next;
    if (next === RB_NIL) clearSmallBit(mm, size);
    return;
  }
  const c = mm.classBySize.get(size)!;
  mm.sizeClasses[c + C_FIRST] = next;
  if (next === RB_NIL) {
    // The last hole of its size: the class goes.
    rb_erase_cached(mm.sizeClasses, mm.holes_size, c);
    mm.classBySize.delete(size);
    mm.freeClasses.push(c);
  }
}

/**
 * Makes room in `mm.smallFirst` for `size`. It starts small and doubles up to SMALL_HOLE_SIZES:
 * an allocator of a few pages (the simulated VRAM and TT of a scenario, set up once for every
 * execution a check explores) never pays for zeroing the whole array.
 */
function growSmallFirst(mm: drm_mm, size: number): void {
  let length = mm.smallFirst.length;
  while (length <= size) length *= 2;
  const grown = new Int32Array(Math.min(length, SMALL_HOLE_SIZES));
  grown.set(mm.smallFirst);
  mm.smallFirst = grown;
}

function setSmallBit(mm: drm_mm, size: number): void {
  const w = size >> 5;
  const word = mm.smallBits[w]!;
  if (word === 0) mm.smallSummary[w >> 5] = mm.smallSummary[w >> 5]! | (1 << (w & 31));
  mm.smallBits[w] = word | (1 << (size & 31));
}

function clearSmallBit(mm: drm_mm, size: number): void {
  const w = size >> 5;
  const word = mm.smallBits[w]! & ~(1 << (size & 31));
  mm.smallBits[w] = word;
  if (word === 0) mm.smallSummary[w >> 5] = mm.smallSummary[w >> 5]! & ~(1 << (w & 31));
}

/** Index of the lowest set bit of a nonzero int32. */
function lowestBit(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** The smallest size >= `size` below SMALL_HOLE_SIZES that has holes, or -1. */
function nextSmallSize(mm: drm_mm, size: number): number {
  if (size >= SMALL_HOLE_SIZES) return -1;
  const bits = mm.smallBits;
  let w = size >> 5;
  let word = bits[w]! & (-1 << (size & 31));
  if (word === 0) {
    w++;
    if (w === SMALL_WORDS) return -1;
    let sw = w >> 5;
    let summary = mm.smallSummary[sw]! & (-1 << (w & 31));
    while (summary === 0) {
      if (++sw === SMALL_SUMMARY_WORDS) return -1;
      summary = mm.smallSummary[sw]!;
    }
    w = (sw << 5) + lowestBit(summary);
    word = bits[w]!;
  }
  return (w << 5) + lowestBit(word);
}

/** The largest size below SMALL_HOLE_SIZES that has holes, or -1. */
function largestSmallSize(mm: drm_mm): number {
  for (let sw = SMALL_SUMMARY_WORDS - 1; sw >= 0; sw--) {
    const summary = mm.smallSummary[sw]!;
    if (summary === 0) continue;
    const w = (sw << 5) + 31 - Math.clz32(summary);
    return (w << 5) + 31 - Math.clz32(mm.smallBits[w]!);
  }
  return -1;
}

/** The largest hole size, or -1 if there is no hole. O(1). */
function largestHole(mm: drm_mm): number {
  const c = mm.holes_size.rb_leftmost;
  return c !== RB_NIL ? mm.sizeClassKeys[(c >> 1) + C_KEY]! : largestSmallSize(mm);
}

/** Adds an empty size class for holes of `size` (at least SMALL_HOLE_SIZES) and returns it. */
function newClass(mm: drm_mm, size: number): number {
  const root = mm.holes_size;
  let link = root.rb_node;
  let parent = RB_NIL;
  let asLeft = false;
  let leftmost = true;
  // Largest first.
  while (link !== RB_NIL) {
    parent = link;
    asLeft = size > mm.sizeClassKeys[(link >> 1) + C_KEY]!;
    if (!asLeft) leftmost = false;
    link = mm.sizeClasses[link + (asLeft ? C_LEFT : C_RIGHT)]!;
  }
  const c = allocClass(mm); // may grow the class arrays: read them afterwards
  mm.sizeClassKeys[(c >> 1) + C_KEY] = size;
  mm.sizeClasses[c + C_FIRST] = RB_NIL;
  rb_link_node(mm.sizeClasses, root, c, parent, asLeft);
  rb_insert_color_cached(mm.sizeClasses, root, c, leftmost);
  mm.classBySize.set(size, c);
  return c;
}

function allocClass(mm: drm_mm): number {
  const c = mm.freeClasses.pop();
  if (c !== undefined) return c;
  const fresh = mm.nextClass;
  mm.nextClass += CLASS_STRIDE;
  if (mm.nextClass > mm.sizeClasses.length) {
    const grown = growBuffer(mm.sizeClasses, mm.sizeClasses.length * 8);
    mm.sizeClasses = grown.ints;
    mm.sizeClassKeys = grown.vals;
  }
  return fresh;
}

/** Puts slot `n` on top of the hole stack. */
function pushHoleStack(mm: drm_mm, n: number): void {
  let len = mm.hole_stack_len;
  if (len === mm.hole_stack.length) len = makeRoomInHoleStack(mm);
  mm.hole_stack[len] = n;
  mm.heap[n + STACK_POS] = len;
  mm.hole_stack_len = len + 1;
  mm.hole_stack_live++;
}

/**
 * The log is full: drop its tombstones if they are at least half of it, else double it.
 * Either way the next pushes fit; compaction preserves order, so the MRU order is unchanged,
 * and it costs O(length) once per at least length/2 pushes. Returns the new length.
 */
function makeRoomInHoleStack(mm: drm_mm): number {
  const log = mm.hole_stack;
  const len = mm.hole_stack_len;
  if (mm.hole_stack_live * 2 <= len) {
    const heap = mm.heap;
    let to = 0;
    for (let from = 0; from < len; from++) {
      const n = log[from]!;
      if (n === STACK_TOMBSTONE) continue;
      log[to] = n;
      heap[n + STACK_POS] = to;
      to++;
    }
    log.fill(STACK_TOMBSTONE, to, len);
    mm.hole_stack_len = to;
    mm.hole_stack_epoch++;
    return to;
  }
  const grown = new Int32Array(log.length * 2);
  grown.set(log);
  mm.hole_stack = grown;
  return len;
}

/** Takes slot `n` off the hole stack; the top entry stays a live one. */
function unlinkHoleStack(mm: drm_mm, n: number): void {
  const log = mm.hole_stack;
  const pos = mm.heap[n + STACK_POS]!;
  log[pos] = STACK_TOMBSTONE;
  mm.hole_stack_live--;
  let len = mm.hole_stack_len;
  if (pos === len - 1) {
    do len--;
    while (len > 0 && log[len - 1] === STACK_TOMBSTONE);
    mm.hole_stack_len = len;
  }
}

/** The live hole stack entry below index `i` (exclusive), or -1. */
function stackBelow(log: Int32Array, i: number): number {
  do i--;
  while (i >= 0 && log[i] === STACK_TOMBSTONE);
  return i;
}

/** Upstream's rm_hole, except for holes_addr: the caller sets the hole's new size there. */
function unindexHole(mm: drm_mm, n: number): void {
  unlinkHoleStack(mm, n);
  eraseHoleSize(mm, n);
}

/**
 * Upstream's add_hole, except for holes_addr: slot `n`, whose hole size is set, becomes the
 * newest hole of its size and the top of the hole stack.
 */
function indexHole(mm: drm_mm, n: number): void {
  insertHoleSize(mm, n);
  pushHoleStack(mm, n);
}

// ------------------------------------------------------------------------------------------
// Hole search.

/** The smallest size class of at least `size`, or RB_NIL. */
function best_class(mm: drm_mm, size: number): number {
  const classes = mm.sizeClasses;
  const keys = mm.sizeClassKeys;
  let rb = mm.holes_size.rb_node;
  let best = RB_NIL;
  while (rb !== RB_NIL) {
    if (size <= keys[(rb >> 1) + C_KEY]!) {
      best = rb;
      rb = classes[rb + C_RIGHT]!;
    } else {
      rb = classes[rb + C_LEFT]!;
    }
  }
  return best;
}

/**
 * The first hole LOW or HIGH examines: for LOW the lowest hole of at least `size` that reaches
 * past `start`, for HIGH the highest one that begins below `end`. Upstream starts from where a
 * descent of its augmented red-black tree towards `start` (`end`) stops; without ONCE both walk
 * on to the same result, since it depends only on address order.
 */
function first_hole_addr(
  mm: drm_mm,
  start: number,
  end: number,
  size: number,
  high: boolean,
): number {
  const heap = mm.heap;
  const vals = mm.heapVals;
  const tree = mm.holes_addr;
  if (high) {
    const n = addrTreeLastBelow(tree, vals, end, false);
    if (n === RB_NIL) return RB_NIL;
    return vals[(n >> 1) + HOLE_SIZE]! >= size ? n : addrTreePrev(tree, heap, n, size);
  }
  // The head node's key is the range start, so `n` is missing only when `start` lies below
  // the range; then the walk starts with the head node's hole.
  const n = addrTreeLastBelow(tree, vals, start, true);
  const from = n === RB_NIL ? HEAD_SLOT : n;
  const hole = vals[(from >> 1) + HOLE_SIZE]!;
  if (hole >= size && vals[(from >> 1) + KEY]! + hole > start) return from;
  return addrTreeNext(tree, heap, from, size);
}

const NO_FIT = -1;

/**
 * Where a node of `size` goes in the gap [hole_start, hole_end) after slot `hole`, after
 * color_adjust, clipping to [range_start, range_end) and alignment, or NO_FIT. HIGH puts the
 * node at the top and rounds down; every other mode puts it at the bottom and rounds up.
 * Insertion and the eviction scanner share this test, so that a scan hit is exactly the place
 * an immediately following DRM_MM_INSERT_EVICT insertion chooses.
 */
function placeInHole(
  mm: drm_mm,
  hole: number,
  hole_start: number,
  hole_end: number,
  size: number,
  alignment: number,
  color: number,
  range_start: number,
  range_end: number,
  high: boolean,
): number {
  let col_start = hole_start;
  let col_end = hole_end;
  const adjust = mm.color_adjust;
  if (adjust !== null) {
    const bounds = mm.colorAdjustBounds;
    bounds.start = hole_start;
    bounds.end = hole_end;
    adjust(nodeOf(mm, hole), color, bounds);
    col_start = bounds.start;
    col_end = bounds.end;
  }
  const lo = Math.max(col_start, range_start);
  const hi = Math.min(col_end, range_end);
  if (hi <= lo || hi - lo < size) return NO_FIT;
  let adj_start = high ? hi - size : lo;
  if (alignment !== 0) {
    const rem = adj_start % alignment;
    if (rem !== 0) {
      adj_start -= rem;
      if (!high) {
        // Rounding up past the address limit cannot fit, as a u64 wraparound cannot upstream.
        if (adj_start > DRM_MM_ADDR_MAX - alignment) return NO_FIT;
        adj_start += alignment;
      }
      if (adj_start < lo || hi - adj_start < size) return NO_FIT;
    }
  }
  return adj_start;
}

/**
 * The candidate test every insert mode shares: places a node of `size` in `hole` (see
 * placeInHole) and, when it fits, links `node` there. Returns whether it did.
 */
function fitNodeInHole(
  mm: drm_mm,
  hole: number,
  hole_start: number,
  hole_end: number,
  node: drm_mm_node,
  size: number,
  alignment: number,
  color: number,
  range_start: number,
  range_end: number,
  high: boolean,
): boolean {
  const start = placeInHole(
    mm,
    hole,
    hole_start,
    hole_end,
    size,
    alignment,
    color,
    range_start,
    range_end,
    high,
  );
  if (start === NO_FIT) return false;
  linkNodeIntoHole(mm, hole, node, start, size, color);
  return true;
}

/**
 * Allocates [start, start + size) inside the hole after slot `hole` and keeps what is left on
 * either side as holes. The size index and the hole stack change exactly as upstream's
 * rm_hole(hole), add_hole(hole), add_hole(node) change them, so BEST and EVICT see the same
 * order; in holes_addr the node is linked next to the hole and the sizes change in place.
 */
function linkNodeIntoHole(
  mm: drm_mm,
  hole: number,
  node: drm_mm_node,
  start: number,
  size: number,
  color: number,
): void {
  const n = allocSlot(mm, node);
  const heap = mm.heap; // allocSlot may have grown it
  const vals = mm.heapVals;
  const h = hole >> 1;
  const hole_start = vals[h + KEY]!;
  const hole_end = hole_start + vals[h + HOLE_SIZE]!;
  const end = start + size;
  DRM_MM_BUG_ON(start < hole_start || end > hole_end, "node does not fit its hole");
  node.mm = mm;
  node.start = start;
  node.size = size;
  node.color = color;
  node.flags = ALLOCATED;
  vals[(n >> 1) + KEY] = end;

  const next = heap[hole + LIST_NEXT]!;
  heap[n + LIST_PREV] = hole;
  heap[n + LIST_NEXT] = next;
  heap[next + LIST_PREV] = n;
  heap[hole + LIST_NEXT] = n;

  const leading = start - hole_start;
  const trailing = hole_end - end;
  unindexHole(mm, hole);
  vals[h + HOLE_SIZE] = leading;
  vals[(n >> 1) + HOLE_SIZE] = trailing;
  addrTreeInsertAfter(mm.holes_addr, heap, vals, hole, leading, n, trailing);
  if (leading > 0) indexHole(mm, hole);
  if (trailing > 0) indexHole(mm, n);
}

// ------------------------------------------------------------------------------------------
// The allocator API.

/**
 * drm_mm_init - initialise `mm` to manage [start, start + size).
 * @param mm the allocator; its previous contents are discarded, whatever they were.
 * @param start first address of the range.
 * @param size length of the range.
 * Returns 0, or -EINVAL if `size` is 0, an argument is not an integer in [0, DRM_MM_ADDR_MAX],
 * or the range passes DRM_MM_ADDR_MAX (upstream: DRM_MM_BUG_ON).
 */
export function drm_mm_init(mm: drm_mm, start: number, size: number): number {
  if (!isAddr(start) || !isAddr(size) || size === 0 || start + size > DRM_MM_ADDR_MAX) {
    return -EINVAL;
  }
  mm.color_adjust = null;
  mm.holes_size = new rb_root_cached(HOLES_SIZE_LAYOUT);
  mm.classBySize = new Map();
  // Every first buffer is a piece of one ArrayBuffer: allocating one costs microseconds, and a
  // check sets up its few-page allocators again for every execution it explores.
  const [heap, classes, tree, smallFirst, smallBits, smallSummary, holeStack] = carve([
    8 * SLOT_STRIDE,
    8 * CLASS_STRIDE,
    4 * TREE_NODE_STRIDE,
    SMALL_FIRST_INITIAL,
    SMALL_WORDS,
    SMALL_SUMMARY_WORDS,
    64,
  ]);
  mm.smallFirst = smallFirst!;
  mm.smallBits = smallBits!;
  mm.smallSummary = smallSummary!;
  mm.holes_addr = new hole_addr_tree();
  mm.hole_stack = holeStack!;
  mm.hole_stack_len = 0;
  mm.hole_stack_live = 0;
  mm.hole_stack_epoch = 0;
  mm.scan_active = 0;
  mm.heap = heap!;
  mm.heapVals = float64Over(heap!);
  mm.slotNodes = [RELEASED, RELEASED];
  mm.freeSlots = [];
  mm.nextSlot = FIRST_FREE_SLOT;
  mm.sizeClasses = classes!;
  mm.sizeClassKeys = float64Over(classes!);
  mm.freeClasses = [];
  mm.nextClass = CLASS_STRIDE;
  mm.colorAdjustBounds = { start: 0, end: 0 };

  // The head node sits at the end of the range with a negative size, so that the hole "after"
  // it starts at the range start and every hole that reaches the head ends at the range end.
  const head = new drm_mm_node();
  head.mm = mm;
  head.start = start + size;
  head.size = -size;
  head.slot = HEAD_SLOT;
  mm.head_node = head;
  mm.slotNodes[HEAD_SLOT >> SLOT_SHIFT] = head;
  mm.heapVals[(HEAD_SLOT >> 1) + KEY] = start;
  mm.heapVals[(HEAD_SLOT >> 1) + HOLE_SIZE] = size;
  heap![HEAD_SLOT + LIST_PREV] = HEAD_SLOT;
  heap![HEAD_SLOT + LIST_NEXT] = HEAD_SLOT;
  addrTreeInit(mm.holes_addr, tree!, heap!, mm.heapVals, HEAD_SLOT);
  indexHole(mm, HEAD_SLOT);
  return 0;
}

/**
 * drm_mm_takedown - clean up an allocator.
 * @param mm an initialised allocator.
 * It is a bug to take down an allocator that still has nodes. Upstream WARNs ("Memory manager
 * not clean during takedown.") and lists the leaked nodes; this port throws DrmMmBug with the
 * same text and list, and leaves `mm` untouched.
 */
export function drm_mm_takedown(mm: drm_mm): void {
  if (drm_mm_clean(mm)) return;
  const leaks: string[] = [];
  for (const node of drm_mm_for_each_node(mm)) {
    leaks.push(`node [${hex8(node.start)} + ${hex8(node.size)}]: unknown owner`);
  }
  throw new DrmMmBug(`Memory manager not clean during takedown.\n${leaks.join("\n")}`);
}

/**
 * drm_mm_insert_node_in_range - search for space and insert `node`.
 * @param mm the allocator.
 * @param node a node that is not allocated; its start, size and color are overwritten.
 * @param size size of the allocation.
 * @param alignment the start is a multiple of this (0 or 1: none); relative to address 0.
 * @param color opaque tag for color_adjust.
 * @param range_start start of the range the node must lie in.
 * @param range_end end of that range (exclusive).
 * @param mode DRM_MM_INSERT_BEST, _LOW, _HIGH or _EVICT, optionally with DRM_MM_INSERT_ONCE.
 * Returns 0, -ENOSPC if `size` is 0 or no hole fits, or -EINVAL for a bad argument (a number
 * outside [0, DRM_MM_ADDR_MAX], range_start > range_end, an unknown mode).
 * Throws DrmMmBug if `node` is allocated or a scan is in progress.
 */
export function drm_mm_insert_node_in_range(
  mm: drm_mm,
  node: drm_mm_node,
  size: number,
  alignment: number,
  color: number,
  range_start: number,
  range_end: number,
  mode: drm_mm_insert_mode,
): number {
  const base = modeBase(mode);
  if (
    base < 0 ||
    !isAddr(size) ||
    !isAddr(alignment) ||
    !isAddr(color) ||
    !isAddr(range_start) ||
    !isAddr(range_end) ||
    range_start > range_end
  ) {
    return -EINVAL;
  }
  assertQuiescent(mm);
  DRM_MM_BUG_ON(drm_mm_node_allocated(node), "drm_mm_insert_node_in_range: node in use");

  if (size === 0 || range_end - range_start < size) return -ENOSPC;
  // O(1) reject: holes_size knows the largest hole.
  if (largestHole(mm) < size) return -ENOSPC;

  const align = alignment <= 1 ? 0 : alignment;
  const once = modeOnce(mode);
  const heap = mm.heap;
  const vals = mm.heapVals;
  // Each mode walks its own index; the candidate test and the linking are shared.
  switch (base) {
    case DRM_MM_INSERT_BEST: {
      // Smallest fitting size first, newest first within a size; BEST never stops early.
      // Sizes below SMALL_HOLE_SIZES come from the bitmaps, larger ones from the class tree.
      for (let s = nextSmallSize(mm, size); s >= 0; s = nextSmallSize(mm, s + 1)) {
        for (let hole = mm.smallFirst[s]!; hole !== RB_NIL; hole = heap[hole + SIZE_NEXT]!) {
          const fits = fitNodeInHole(
            mm,
            hole,
            vals[(hole >> 1) + KEY]!,
            vals[(hole >> 1) + KEY]! + s,
            node,
            size,
            align,
            color,
            range_start,
            range_end,
            false,
          );
          if (fits) return 0;
          if (once) return -ENOSPC;
        }
      }
      const classes = mm.sizeClasses;
      for (let c = best_class(mm, size); c !== RB_NIL; c = rb_prev(classes, HOLES_SIZE_LAYOUT, c)) {
        for (let hole = classes[c + C_FIRST]!; hole !== RB_NIL; hole = heap[hole + SIZE_NEXT]!) {
          const hole_start = vals[(hole >> 1) + KEY]!;
          const hole_end = hole_start + vals[(hole >> 1) + HOLE_SIZE]!;
          const fits = fitNodeInHole(
            mm,
            hole,
            hole_start,
            hole_end,
            node,
            size,
            align,
            color,
            range_start,
            range_end,
            false,
          );
          if (fits) return 0;
          if (once) return -ENOSPC;
        }
      }
      return -ENOSPC;
    }
    case DRM_MM_INSERT_EVICT: {
      // The hole stack from its top, newest first; never stops early.
      for (let i = mm.hole_stack_len - 1; i >= 0; i = stackBelow(mm.hole_stack, i)) {
        const hole = mm.hole_stack[i]!;
        const hole_start = vals[(hole >> 1) + KEY]!;
        const hole_end = hole_start + vals[(hole >> 1) + HOLE_SIZE]!;
        const fits = fitNodeInHole(
          mm,
          hole,
          hole_start,
          hole_end,
          node,
          size,
          align,
          color,
          range_start,
          range_end,
          false,
        );
        if (fits) return 0;
        if (once) return -ENOSPC;
      }
      return -ENOSPC;
    }
    default: {
      // LOW walks up from range_start and stops at range_end; HIGH walks down from range_end
      // and stops at range_start. Subtrees without a hole of `size` are skipped whole.
      const high = base === DRM_MM_INSERT_HIGH;
      const tree = mm.holes_addr;
      for (
        let hole = first_hole_addr(mm, range_start, range_end, size, high);
        hole !== RB_NIL;
        hole = high ? addrTreePrev(tree, heap, hole, size) : addrTreeNext(tree, heap, hole, size)
      ) {
        const hole_start = vals[(hole >> 1) + KEY]!;
        const hole_end = hole_start + vals[(hole >> 1) + HOLE_SIZE]!;
        if (high ? hole_end <= range_start : hole_start >= range_end) break;
        const fits = fitNodeInHole(
          mm,
          hole,
          hole_start,
          hole_end,
          node,
          size,
          align,
          color,
          range_start,
          range_end,
          high,
        );
        if (fits) return 0;
        if (once) return -ENOSPC;
      }
      return -ENOSPC;
    }
  }
}

/**
 * drm_mm_insert_node_generic - search the whole allocator for space and insert `node`.
 * Same as drm_mm_insert_node_in_range() over [0, DRM_MM_ADDR_MAX); same errnos.
 */
export function drm_mm_insert_node_generic(
  mm: drm_mm,
  node: drm_mm_node,
  size: number,
  alignment: number,
  color: number,
  mode: drm_mm_insert_mode,
): number {
  return drm_mm_insert_node_in_range(mm, node, size, alignment, color, 0, DRM_MM_ADDR_MAX, mode);
}

/**
 * drm_mm_insert_node - insert `node` of `size` anywhere, best fit, no alignment, color 0.
 * Returns 0, -ENOSPC or -EINVAL as drm_mm_insert_node_in_range().
 */
export function drm_mm_insert_node(mm: drm_mm, node: drm_mm_node, size: number): number {
  return drm_mm_insert_node_generic(mm, node, size, 0, 0, DRM_MM_INSERT_BEST);
}

/**
 * drm_mm_reserve_node - insert `node` at the place the caller chose.
 * @param mm the allocator.
 * @param node a node with `start`, `size` and `color` set.
 * Returns 0; -ENOSPC if `size` is 0, the range [start, start + size) is not entirely inside one
 * hole (after color_adjust), or `node` is already allocated (its place is taken, by itself);
 * -EINVAL if start, size or color is not an integer in [0, DRM_MM_ADDR_MAX].
 * Throws DrmMmBug if a scan is in progress.
 */
export function drm_mm_reserve_node(mm: drm_mm, node: drm_mm_node): number {
  const start = node.start;
  const size = node.size;
  if (!isAddr(start) || !isAddr(size) || !isAddr(node.color)) return -EINVAL;
  assertQuiescent(mm);
  if (drm_mm_node_allocated(node)) return -ENOSPC;
  const end = start + size;
  if (size === 0 || end > DRM_MM_ADDR_MAX) return -ENOSPC;

  // The hole that can contain `start` follows the last node ending at or before it; there is
  // none when `start` lies below the range.
  const vals = mm.heapVals;
  const hole = addrTreeLastBelow(mm.holes_addr, vals, start, true);
  if (hole === RB_NIL) return -ENOSPC;
  let adj_start = vals[(hole >> 1) + KEY]!;
  let adj_end = adj_start + vals[(hole >> 1) + HOLE_SIZE]!;
  const adjust = mm.color_adjust;
  if (adjust !== null) {
    const bounds = mm.colorAdjustBounds;
    bounds.start = adj_start;
    bounds.end = adj_end;
    adjust(nodeOf(mm, hole), node.color, bounds);
    adj_start = bounds.start;
    adj_end = bounds.end;
  }
  if (adj_start > start || adj_end < end) return -ENOSPC;

  linkNodeIntoHole(mm, hole, node, start, size, node.color);
  return 0;
}

/**
 * drm_mm_remove_node - free the space of `node`, merging it with the holes on both sides.
 * The node can be inserted again afterwards without being cleared.
 * Throws DrmMmBug if `node` is not allocated or a scan is in progress (upstream:
 * DRM_MM_BUG_ON).
 */
export function drm_mm_remove_node(node: drm_mm_node): void {
  const mm = node.mm;
  DRM_MM_BUG_ON(mm === null || !drm_mm_node_allocated(node), "drm_mm_remove_node: not allocated");
  assertQuiescent(mm!);
  const heap = mm!.heap;
  const n = node.slot;
  const prev = heap[n + LIST_PREV]!;
  const next = heap[n + LIST_NEXT]!;
  // Upstream: rm_hole(node), rm_hole(prev), add_hole(prev). The freed span joins the holes on
  // both sides into one hole after `prev`, which becomes the newest. It reaches from prev's end
  // to the end of node's hole; the slots say so even if the caller has changed node.size.
  const vals = mm!.heapVals;
  const hole = vals[(n >> 1) + HOLE_SIZE]!;
  const merged = vals[(n >> 1) + KEY]! + hole - vals[(prev >> 1) + KEY]!;
  if (hole !== 0) unindexHole(mm!, n);
  if (vals[(prev >> 1) + HOLE_SIZE] !== 0) unindexHole(mm!, prev);
  heap[prev + LIST_NEXT] = next;
  heap[next + LIST_PREV] = prev;
  vals[(prev >> 1) + HOLE_SIZE] = merged;
  addrTreeRemove(mm!.holes_addr, heap, vals, n, prev, merged);
  indexHole(mm!, prev);

  node.flags = 0;
  releaseSlot(mm!, node);
}

/**
 * drm_mm_replace_node - move the allocation of `old` to `replacement` in O(1).
 * `replacement` takes over `old`'s place in every list and tree, with the same start, size and
 * color; `old` is left unallocated. (Removed upstream in 2024 as unused; kept for its tests.)
 * Throws DrmMmBug if `old` is not allocated, `replacement` is, or a scan is in progress.
 */
export function drm_mm_replace_node(old: drm_mm_node, replacement: drm_mm_node): void {
  const mm = old.mm;
  DRM_MM_BUG_ON(mm === null || !drm_mm_node_allocated(old), "drm_mm_replace_node: old is free");
  DRM_MM_BUG_ON(drm_mm_node_allocated(replacement), "drm_mm_replace_node: new is in use");
  assertQuiescent(mm!);
  // Every list and tree links slots, not node objects, so handing the slot over is enough.
  replacement.mm = mm;
  replacement.start = old.start;
  replacement.size = old.size;
  replacement.color = old.color;
  replacement.flags = ALLOCATED;
  replacement.slot = old.slot;
  mm!.slotNodes[old.slot >> SLOT_SHIFT] = replacement;
  old.flags = 0;
  old.slot = -1;
}

// ------------------------------------------------------------------------------------------
// Lookup and iteration.

/**
 * __drm_mm_interval_first - the lowest allocated node overlapping [start, last] (inclusive),
 * or the head node when there is none. Nodes in a scan roster are still found.
 */
export function __drm_mm_interval_first(mm: drm_mm, start: number, last: number): drm_mm_node {
  // Nodes do not overlap, so the first one ending after `start` is the only candidate: the
  // successor of the last node ending at or before `start`.
  const heap = mm.heap;
  const tree = mm.holes_addr;
  const before = addrTreeLastBelow(tree, mm.heapVals, start, true);
  let first = before === RB_NIL ? HEAD_SLOT : addrTreeNext(tree, heap, before, 0);
  // The head node keys at the range start; skip it when `start` lies below the range.
  if (first === HEAD_SLOT) first = addrTreeNext(tree, heap, HEAD_SLOT, 0);
  if (first !== RB_NIL && nodeOf(mm, first).start <= last) return nodeOf(mm, first);
  return mm.head_node;
}

/**
 * drm_mm_for_each_node - allocated nodes in address order. Removing the node just yielded is
 * allowed (it doubles as drm_mm_for_each_node_safe). Nodes in a scan roster are skipped.
 */
export function* drm_mm_for_each_node(mm: drm_mm): Generator<drm_mm_node, void, undefined> {
  for (let n = mm.heap[HEAD_SLOT + LIST_NEXT]!; n !== HEAD_SLOT; ) {
    const next = mm.heap[n + LIST_NEXT]!;
    yield nodeOf(mm, n);
    n = next;
  }
}

/** drm_mm_for_each_node_safe - the same walk; removing the yielded node is allowed. */
export const drm_mm_for_each_node_safe = drm_mm_for_each_node;

/**
 * drm_mm_for_each_node_in_range - allocated nodes that overlap [start, end), in address order.
 * Stops at the end of the allocator even when `end` lies beyond it.
 */
export function* drm_mm_for_each_node_in_range(
  mm: drm_mm,
  start: number,
  end: number,
): Generator<drm_mm_node, void, undefined> {
  const first = __drm_mm_interval_first(mm, start, end - 1);
  for (let n = first.slot; n !== HEAD_SLOT; ) {
    const node = nodeOf(mm, n);
    if (node.start >= end) return;
    const next = mm.heap[n + LIST_NEXT]!;
    yield node;
    n = next;
  }
}

/** One hole as yielded by drm_mm_for_each_hole: its owner (`pos`) and its bounds. */
export interface drm_mm_hole {
  pos: drm_mm_node;
  hole_start: number;
  hole_end: number;
}

/**
 * drm_mm_for_each_hole - every hole, in most-recently-used order (the hole stack), not in
 * address order.
 */
export function* drm_mm_for_each_hole(mm: drm_mm): Generator<drm_mm_hole, void, undefined> {
  // As the kernel's list walk, this tolerates changes to the hole just yielded: the next hole
  // is looked up before yielding, and followed if a compaction of the log moved it meanwhile.
  for (let i = stackBelow(mm.hole_stack, mm.hole_stack_len); i >= 0; ) {
    const log = mm.hole_stack;
    const vals = mm.heapVals;
    const n = log[i]!;
    const below = stackBelow(log, i);
    const following = below >= 0 ? log[below]! : STACK_TOMBSTONE;
    const epoch = mm.hole_stack_epoch;
    const hole_start = vals[(n >> 1) + KEY]!;
    yield { pos: nodeOf(mm, n), hole_start, hole_end: hole_start + vals[(n >> 1) + HOLE_SIZE]! };
    if (following === STACK_TOMBSTONE) return;
    i = mm.hole_stack_epoch === epoch ? below : mm.heap[following + STACK_POS]!;
    if (mm.hole_stack[i] !== following) i = stackBelow(mm.hole_stack, i);
  }
}

// ------------------------------------------------------------------------------------------
// The eviction scanner ("LRU scan roster").
//
// A caller that finds no hole walks its LRU, adding candidate victims with
// drm_mm_scan_add_block() until one call returns true. Each added node is unlinked from the
// node list (its own links are kept so it can be put back), which widens the gap owned by its
// predecessor; only that gap can have grown, so only it is tested. The hole indexes are not
// touched. The caller must then remove every added node with drm_mm_scan_remove_block() in
// exactly the reverse order, which relinks it and reports whether it overlaps the window found.
// The caller evicts those nodes (and, with color_adjust, whatever drm_mm_scan_color_evict()
// returns); an immediately following DRM_MM_INSERT_EVICT insertion with the same parameters
// lands in the window.

/**
 * drm_mm_scan_init_with_range - start an eviction scan for a hole of `size` in [start, end).
 * @param scan the scan state to set up.
 * @param mm the allocator; no other scan may have nodes in its roster.
 * @param mode DRM_MM_INSERT_HIGH looks for the window at the top of each gap; any other mode
 *   at the bottom. DRM_MM_INSERT_ONCE is ignored.
 * Returns 0, or -EINVAL for a bad argument: start >= end, size 0 or larger than end - start,
 * a number outside [0, DRM_MM_ADDR_MAX], an unknown mode (upstream: DRM_MM_BUG_ON).
 * Throws DrmMmBug if `mm` is uninitialised or another scan is in progress.
 */
export function drm_mm_scan_init_with_range(
  scan: drm_mm_scan,
  mm: drm_mm,
  size: number,
  alignment: number,
  color: number,
  start: number,
  end: number,
  mode: drm_mm_insert_mode,
): number {
  const base = modeBase(mode);
  if (
    base < 0 ||
    !isAddr(size) ||
    !isAddr(alignment) ||
    !isAddr(color) ||
    !isAddr(start) ||
    !isAddr(end) ||
    start >= end ||
    size === 0 ||
    size > end - start
  ) {
    return -EINVAL;
  }
  assertQuiescent(mm);
  scan.mm = mm;
  scan.size = size;
  scan.alignment = alignment <= 1 ? 0 : alignment;
  scan.color = color;
  scan.range_start = start;
  scan.range_end = end;
  scan.mode = base;
  scan.hit_start = DRM_MM_ADDR_MAX;
  scan.hit_end = 0;
  return 0;
}

/**
 * drm_mm_scan_init - start an eviction scan over the whole allocator.
 * Same as drm_mm_scan_init_with_range() over [0, DRM_MM_ADDR_MAX); same errnos.
 */
export function drm_mm_scan_init(
  scan: drm_mm_scan,
  mm: drm_mm,
  size: number,
  alignment: number,
  color: number,
  mode: drm_mm_insert_mode,
): number {
  return drm_mm_scan_init_with_range(scan, mm, size, alignment, color, 0, DRM_MM_ADDR_MAX, mode);
}

/**
 * drm_mm_scan_add_block - add `node` to the roster. O(1).
 * Returns true once evicting the nodes added so far would leave a suitable hole; the window is
 * then [scan.hit_start, scan.hit_end).
 * Throws DrmMmBug if `node` is not an allocated node of the scanned allocator, or is already in
 * the roster.
 */
export function drm_mm_scan_add_block(scan: drm_mm_scan, node: drm_mm_node): boolean {
  const mm = scan.mm;
  DRM_MM_BUG_ON(mm === null || node.mm !== mm, "drm_mm_scan_add_block: node of another mm");
  DRM_MM_BUG_ON(!drm_mm_node_allocated(node), "drm_mm_scan_add_block: node not allocated");
  DRM_MM_BUG_ON(drm_mm_node_scanned_block(node), "drm_mm_scan_add_block: node already scanned");
  node.flags |= SCANNED;
  mm!.scan_active++;

  // Unlink without touching the node's own links, so that remove_block can put it back.
  const heap = mm!.heap;
  const n = node.slot;
  const hole = heap[n + LIST_PREV]!;
  const next = heap[n + LIST_NEXT]!;
  DRM_MM_BUG_ON(heap[hole + LIST_NEXT] !== n, "drm_mm_scan_add_block: node list corrupted");
  heap[hole + LIST_NEXT] = next;
  heap[next + LIST_PREV] = hole;

  const start = placeInHole(
    mm!,
    hole,
    mm!.heapVals[(hole >> 1) + KEY]!,
    nodeOf(mm!, next).start,
    scan.size,
    scan.alignment,
    scan.color,
    scan.range_start,
    scan.range_end,
    scan.mode === DRM_MM_INSERT_HIGH,
  );
  if (start === NO_FIT) return false;
  scan.hit_start = start;
  scan.hit_end = start + scan.size;
  return true;
}

/**
 * drm_mm_scan_remove_block - take `node` out of the roster again. O(1).
 * Nodes must leave the roster in exactly the reverse order they joined it.
 * Returns true if `node` overlaps the window found and so must be evicted; always false if no
 * window was found.
 * Throws DrmMmBug if `node` is not in this roster or is removed out of order.
 */
export function drm_mm_scan_remove_block(scan: drm_mm_scan, node: drm_mm_node): boolean {
  const mm = scan.mm;
  DRM_MM_BUG_ON(mm === null || node.mm !== mm, "drm_mm_scan_remove_block: node of another mm");
  DRM_MM_BUG_ON(!drm_mm_node_scanned_block(node), "drm_mm_scan_remove_block: node not scanned");
  DRM_MM_BUG_ON(mm!.scan_active === 0, "drm_mm_scan_remove_block: no scan active");
  // Both neighbours must still agree on what lies across the gap; otherwise the caller did not
  // walk the roster backwards and relinking would corrupt the list.
  const heap = mm!.heap;
  const n = node.slot;
  const prev = heap[n + LIST_PREV]!;
  const next = heap[n + LIST_NEXT]!;
  DRM_MM_BUG_ON(
    heap[prev + LIST_NEXT] !== next,
    "drm_mm_scan_remove_block: nodes must leave the roster in reverse order of adding",
  );
  node.flags &= ~SCANNED;
  mm!.scan_active--;
  heap[prev + LIST_NEXT] = n;
  heap[next + LIST_PREV] = n;

  return node.start + node.size > scan.hit_start && node.start < scan.hit_end;
}

/**
 * drm_mm_scan_color_evict - a node next to the evicted window that still conflicts by color.
 * Call after evicting the nodes selected by drm_mm_scan_remove_block(), and evict what it
 * returns, until it returns null. Always null without color_adjust.
 * Throws DrmMmBug if no hole contains the window (the scan found none, or the caller has
 * reused the space since).
 */
export function drm_mm_scan_color_evict(scan: drm_mm_scan): drm_mm_node | null {
  const mm = scan.mm;
  DRM_MM_BUG_ON(mm === null, "drm_mm_scan_color_evict: scan not initialized");
  const adjust = mm!.color_adjust;
  if (adjust === null) return null;

  // The window's hole is normally the newest, but evicting may have freed others after it.
  const heap = mm!.heap;
  const log = mm!.hole_stack;
  let i = mm!.hole_stack_len - 1;
  for (; i >= 0; i = stackBelow(log, i)) {
    const h = log[i]! >> 1;
    const hole_start = mm!.heapVals[h + KEY]!;
    if (hole_start <= scan.hit_start && hole_start + mm!.heapVals[h + HOLE_SIZE]! >= scan.hit_end) {
      break;
    }
  }
  DRM_MM_BUG_ON(i < 0, "drm_mm_scan_color_evict: no hole contains the window");
  const hole = log[i]!;

  const bounds = mm!.colorAdjustBounds;
  bounds.start = mm!.heapVals[(hole >> 1) + KEY]!;
  bounds.end = bounds.start + mm!.heapVals[(hole >> 1) + HOLE_SIZE]!;
  adjust(nodeOf(mm!, hole), scan.color, bounds);
  if (bounds.start > scan.hit_start) return nodeOf(mm!, hole);
  if (bounds.end < scan.hit_end) return nodeOf(mm!, heap[hole + LIST_NEXT]!);
  return null;
}

// ------------------------------------------------------------------------------------------
// Debug output.

function hex8(x: number): string {
  return x.toString(16).padStart(8, "0");
}

/** `%#018llx` as the kernel prints it: "0x" and 16 hex digits, also for zero. */
function hex18(x: number): string {
  return `0x${x.toString(16).padStart(16, "0")}`;
}

function drm_mm_dump_hole(p: drm_printer, entry: drm_mm_node): number {
  const size = drm_mm_hole_size(entry);
  if (size !== 0) {
    const start = entry.start + entry.size;
    p.printfn(`${hex18(start)}-${hex18(start + size)}: ${size}: free\n`);
  }
  return size;
}

/**
 * drm_mm_print - print every node and hole in address order, then the totals, in the format of
 * upstream's drm_mm_print().
 */
export function drm_mm_print(mm: drm_mm, p: drm_printer): void {
  let total_used = 0;
  let total_free = drm_mm_dump_hole(p, mm.head_node);
  for (const entry of drm_mm_for_each_node(mm)) {
    p.printfn(`${hex18(entry.start)}-${hex18(entry.start + entry.size)}: ${entry.size}: used\n`);
    total_used += entry.size;
    total_free += drm_mm_dump_hole(p, entry);
  }
  p.printfn(`total: ${total_used + total_free}, used ${total_used} free ${total_free}\n`);
}
