// drm_mm: the DRM range allocator. Models drivers/gpu/drm/drm_mm.c and include/drm/drm_mm.h as
// of Linux 6.x (the augmented hole-address tree of v5.8 onwards), plus drm_mm_replace_node(),
// which upstream removed in 2024 but which its old test suite exercises.
//
// The allocator manages one range [start, start + size). Callers own the `drm_mm_node` objects;
// the allocator never allocates memory per operation. A hole is the gap after a node and is
// recorded with that node (`hole_size`); the sentinel `head_node` owns the hole at the start of
// the range. Holes are indexed three ways: by size (`holes_size`, largest first, for
// DRM_MM_INSERT_BEST and the O(1) "nothing big enough" reject), by address (`holes_addr`,
// augmented with the largest hole of each subtree, for LOW, HIGH and reserve), and in
// most-recently-used order (`hole_stack`, for EVICT). Allocated nodes also sit on an
// address-ordered list.
//
// Not thread-safe, as upstream: the caller serialises every call (TTM's range manager holds a
// spinlock). While an eviction scan has nodes in its roster, only drm_mm_scan_* calls are
// allowed on the allocator.
//
// How the port stores things, and why (measured with bench/drm_mm.ts):
// - The private fields of each node (list links, tree links, hole_size, subtree maxima) live in
//   a slot of a Float64Array owned by the allocator, not in the node object; see rbtree.ts.
//   Pointer-chasing through objects cost about twice as much per tree level.
// - holes_addr holds every node, the head first, keyed by address; a node without a hole counts
//   as a hole of size 0, which no search can use. It is upstream's holes_addr and interval_tree
//   in one: a hole that appears, grows, shrinks or vanishes changes a size in place instead of
//   leaving and re-entering a tree, and an insertion links one tree node next to its
//   predecessor. subtree_max_hole is kept per child subtree, so updating it up the tree reads
//   no sibling. LOW, HIGH, reserve and the range lookups return what upstream's return (they
//   depend only on address order and on the maxima); DRM_MM_INSERT_ONCE looks at the first
//   real hole where the descent lands, and which hole that is depends on the tree's shape and
//   contents here as upstream, so ONCE may fail in different corner cases than the kernel's.
// - holes_size is a tree of size classes (one per distinct hole size, in their own small
//   array), each listing its holes newest first. BEST visits holes in exactly upstream's order
//   (smallest fitting size first, newest first within a size), and most updates touch a list.
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
  RB_NIL,
  type rb_augment_callbacks,
  rb_erase_augmented,
  rb_erase_cached,
  rb_insert_augmented,
  rb_insert_color_cached,
  type rb_layout,
  rb_link_node,
  rb_next,
  rb_prev,
  rb_root,
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
// allocator's heap while the node is allocated; a slot is named by its offset. Each index keeps
// its key and links together so that a descent reads one cache line per level. Exported for
// drm_mm_checker.ts only.

/** Doubles per slot: two cache lines. */
export const SLOT_STRIDE = 16;
/** holes_addr, keyed by the node's end, which is where the hole after it starts. */
export const A_KEY = 0;
export const A_LEFT = 1;
export const A_RIGHT = 2;
export const A_PARENT = 3;
export const A_RED = 4;
/** hole_size: the gap after this node; 0 means no hole follows. */
export const HOLE_SIZE = 5;
/**
 * Upstream's subtree_max_hole, kept as one maximum per child subtree: the largest hole_size in
 * the left and in the right subtree. A node's subtree_max_hole is the largest of its own hole
 * and these two, so updating it up the tree touches each ancestor's slot but not its siblings'.
 */
export const MAX_LEFT = 6;
export const MAX_RIGHT = 7;
/** holes_size: the size class of this node's hole, and its neighbours there, newest first. */
export const SIZE_CLASS = 8;
export const SIZE_PREV = 9;
export const SIZE_NEXT = 10;
/** The node's start (for the head node: the end of the range). */
export const START = 11;
/** node_list and hole_stack links. */
export const LIST_PREV = 12;
export const LIST_NEXT = 13;
export const STACK_PREV = 14;
export const STACK_NEXT = 15;

export const HOLES_ADDR_LAYOUT: rb_layout = {
  key: A_KEY,
  left: A_LEFT,
  right: A_RIGHT,
  parent: A_PARENT,
  red: A_RED,
};

/**
 * Size classes, in their own array `mm.sizeClasses`: one per distinct hole size, in a tree by
 * size, largest first, each with the list of its holes. Classes are few and packed together, so
 * BEST's searches stay in cache however many holes there are.
 */
export const CLASS_STRIDE = 8;
export const C_KEY = 0;
export const C_LEFT = 1;
export const C_RIGHT = 2;
export const C_PARENT = 3;
export const C_RED = 4;
/** The newest hole of the class. */
export const C_FIRST = 5;

export const HOLES_SIZE_LAYOUT: rb_layout = {
  key: C_KEY,
  left: C_LEFT,
  right: C_RIGHT,
  parent: C_PARENT,
  red: C_RED,
};

/** Slot 0 is the trees' null node, slot 1 the head node, slot 2 the hole_stack list head. */
export const HEAD_SLOT = SLOT_STRIDE;
export const STACK_SLOT = 2 * SLOT_STRIDE;
const FIRST_FREE_SLOT = 3 * SLOT_STRIDE;

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
   * Every node, the head first, in address order, augmented with subtree_max_hole. It serves
   * as upstream's holes_addr (a node without a hole counts as a hole of size 0, which no search
   * can use) and as its interval_tree of allocated nodes.
   */
  holes_addr = new rb_root(HOLES_ADDR_LAYOUT);
  /** Number of nodes currently in an eviction roster. */
  scan_active = 0;
  /** Ours: the slots (see SLOT_STRIDE); grows by doubling, never per operation. */
  heap = new Float64Array(0);
  /** Ours: the node object of each slot, by slot number (offset / SLOT_STRIDE). */
  slotNodes: drm_mm_node[] = [];
  /** Ours: offsets of released slots, reused before the heap grows. */
  freeSlots: number[] = [];
  /** Ours: the first never-used slot offset. */
  nextSlot = 0;
  /** Ours: the size classes (see CLASS_STRIDE); offset 0 is the null class. */
  sizeClasses = new Float64Array(0);
  /** Ours: offsets of released size classes. */
  freeClasses: number[] = [];
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
  return mm.slotNodes[slot / SLOT_STRIDE]!;
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
  return node.slot < 0 || node.mm === null ? 0 : node.mm.heap[node.slot + HOLE_SIZE]!;
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

function allocSlot(mm: drm_mm, node: drm_mm_node): number {
  let slot = mm.freeSlots.pop();
  if (slot === undefined) {
    slot = mm.nextSlot;
    mm.nextSlot += SLOT_STRIDE;
    if (mm.nextSlot > mm.heap.length) {
      const grown = new Float64Array(mm.heap.length * 2);
      grown.set(mm.heap);
      mm.heap = grown;
    }
  }
  mm.slotNodes[slot / SLOT_STRIDE] = node;
  node.slot = slot;
  return slot;
}

function releaseSlot(mm: drm_mm, node: drm_mm_node): void {
  mm.slotNodes[node.slot / SLOT_STRIDE] = RELEASED;
  mm.freeSlots.push(node.slot);
  node.slot = -1;
}

// ------------------------------------------------------------------------------------------
// Hole bookkeeping.

/** subtree_max_hole of slot `n`: the largest hole in its holes_addr subtree; 0 for RB_NIL. */
export function subtreeMaxHole(heap: Float64Array, n: number): number {
  return Math.max(heap[n + HOLE_SIZE]!, heap[n + MAX_LEFT]!, heap[n + MAX_RIGHT]!);
}

/**
 * Hands the subtree maximum of `n` up to its ancestors, up to `stop`, until an ancestor's
 * record of that subtree is already right. The children's maxima stored in `n` must be right.
 */
function climbMaxHole(heap: Float64Array, n: number, stop: number): void {
  while (n !== stop) {
    const parent = heap[n + A_PARENT]!;
    if (parent === RB_NIL) return;
    const max = subtreeMaxHole(heap, n);
    const side = heap[parent + A_LEFT] === n ? MAX_LEFT : MAX_RIGHT;
    if (heap[parent + side] === max) return;
    heap[parent + side] = max;
    n = parent;
  }
}

/** Recomputes the two subtree maxima stored in `n` from its children. */
function recomputeMaxHoles(heap: Float64Array, n: number): void {
  heap[n + MAX_LEFT] = subtreeMaxHole(heap, heap[n + A_LEFT]!);
  heap[n + MAX_RIGHT] = subtreeMaxHole(heap, heap[n + A_RIGHT]!);
}

/** Keeps subtree_max_hole correct in holes_addr (RB_DECLARE_CALLBACKS_MAX upstream). */
const holeAddrAugment: rb_augment_callbacks = {
  propagate(heap, n, stop) {
    if (n === stop || n === RB_NIL) return;
    recomputeMaxHoles(heap, n);
    climbMaxHole(heap, n, stop);
  },
  copy(heap, old, replacement) {
    heap[replacement + MAX_LEFT] = heap[old + MAX_LEFT]!;
    heap[replacement + MAX_RIGHT] = heap[old + MAX_RIGHT]!;
  },
  rotate(heap, old, replacement) {
    // `replacement` is now `old`'s parent; its other subtree did not change.
    recomputeMaxHoles(heap, old);
    const side = heap[replacement + A_LEFT] === old ? MAX_LEFT : MAX_RIGHT;
    heap[replacement + side] = subtreeMaxHole(heap, old);
  },
};

/**
 * Adds slot `n` to holes_size as the newest hole of its size. Upstream keeps every hole in one
 * tree, equal sizes to the right of older ones; BEST then visits sizes from the best fit upwards
 * and, within a size, the newest hole first. A tree of the distinct sizes, each listing its holes
 * newest first, yields exactly that order while most updates touch only a list.
 */
function insertHoleSize(mm: drm_mm, n: number): void {
  const heap = mm.heap;
  const classes = mm.sizeClasses;
  const root = mm.holes_size;
  const size = heap[n + HOLE_SIZE]!;
  let link = root.rb_node;
  let parent = RB_NIL;
  let asLeft = false;
  let leftmost = true;
  // Largest first.
  while (link !== RB_NIL) {
    const key = classes[link + C_KEY]!;
    if (size === key) {
      const first = classes[link + C_FIRST]!;
      heap[n + SIZE_CLASS] = link;
      heap[n + SIZE_PREV] = RB_NIL;
      heap[n + SIZE_NEXT] = first;
      heap[first + SIZE_PREV] = n;
      classes[link + C_FIRST] = n;
      return;
    }
    parent = link;
    asLeft = size > key;
    if (asLeft) {
      link = classes[link + C_LEFT]!;
    } else {
      link = classes[link + C_RIGHT]!;
      leftmost = false;
    }
  }
  const c = allocClass(mm);
  const grown = mm.sizeClasses;
  grown[c + C_KEY] = size;
  grown[c + C_FIRST] = n;
  heap[n + SIZE_CLASS] = c;
  heap[n + SIZE_PREV] = RB_NIL;
  heap[n + SIZE_NEXT] = RB_NIL;
  rb_link_node(grown, root, c, parent, asLeft);
  rb_insert_color_cached(grown, root, c, leftmost);
}

/** Removes slot `n` from holes_size. */
function eraseHoleSize(mm: drm_mm, n: number): void {
  const heap = mm.heap;
  const c = heap[n + SIZE_CLASS]!;
  const prev = heap[n + SIZE_PREV]!;
  const next = heap[n + SIZE_NEXT]!;
  if (prev !== RB_NIL) heap[prev + SIZE_NEXT] = next;
  else mm.sizeClasses[c + C_FIRST] = next;
  if (next !== RB_NIL) heap[next + SIZE_PREV] = prev;
  else if (prev === RB_NIL) {
    // The last hole of its size: the class goes.
    rb_erase_cached(mm.sizeClasses, mm.holes_size, c);
    mm.freeClasses.push(c);
  }
}

function allocClass(mm: drm_mm): number {
  const c = mm.freeClasses.pop();
  if (c !== undefined) return c;
  const fresh = mm.nextClass;
  mm.nextClass += CLASS_STRIDE;
  if (mm.nextClass > mm.sizeClasses.length) {
    const grown = new Float64Array(mm.sizeClasses.length * 2);
    grown.set(mm.sizeClasses);
    mm.sizeClasses = grown;
  }
  return fresh;
}

function pushHoleStack(heap: Float64Array, n: number): void {
  const first = heap[STACK_SLOT + STACK_NEXT]!;
  heap[n + STACK_PREV] = STACK_SLOT;
  heap[n + STACK_NEXT] = first;
  heap[first + STACK_PREV] = n;
  heap[STACK_SLOT + STACK_NEXT] = n;
}

function unlinkHoleStack(heap: Float64Array, n: number): void {
  const prev = heap[n + STACK_PREV]!;
  const next = heap[n + STACK_NEXT]!;
  heap[prev + STACK_NEXT] = next;
  heap[next + STACK_PREV] = prev;
}

/**
 * Sets the size of the hole after slot `n`, which is in holes_addr, and brings the subtree
 * maxima above it up to date. Every node is in holes_addr at its own address, so a hole that
 * appears, grows, shrinks or disappears never moves there.
 */
function setHoleSize(heap: Float64Array, n: number, size: number): void {
  heap[n + HOLE_SIZE] = size;
  climbMaxHole(heap, n, RB_NIL);
}

/**
 * Upstream's add_hole: records a hole of `size` after slot `n`, which becomes the newest hole
 * of its size and the top of the hole stack.
 */
function add_hole(mm: drm_mm, n: number, size: number): void {
  DRM_MM_BUG_ON(!(size > 0), "add_hole: empty hole");
  setHoleSize(mm.heap, n, size);
  insertHoleSize(mm, n);
  pushHoleStack(mm.heap, n);
}

/** Upstream's rm_hole, except for holes_addr: the caller sets the hole's new size there. */
function unindexHole(mm: drm_mm, n: number): void {
  unlinkHoleStack(mm.heap, n);
  eraseHoleSize(mm, n);
}

// ------------------------------------------------------------------------------------------
// Hole search.

/** The smallest hole of at least `size`; among equal sizes, the most recently added. */
function best_hole(mm: drm_mm, size: number): number {
  const classes = mm.sizeClasses;
  let rb = mm.holes_size.rb_node;
  let best = RB_NIL;
  while (rb !== RB_NIL) {
    if (size <= classes[rb + C_KEY]!) {
      best = rb;
      rb = classes[rb + C_RIGHT]!;
    } else {
      rb = classes[rb + C_LEFT]!;
    }
  }
  return best === RB_NIL ? RB_NIL : classes[best + C_FIRST]!;
}

/**
 * Descends holes_addr towards `addr`, never into a subtree without a hole of `size`, and
 * returns the hole containing `addr` (its end counts as inside) or the last usable hole on the
 * way. The landing hole itself may be too small; the search loop then moves on from it.
 */
function find_hole_addr(mm: drm_mm, addr: number, size: number): number {
  const heap = mm.heap;
  let rb = mm.holes_addr.rb_node;
  let node = RB_NIL;
  while (rb !== RB_NIL) {
    if (subtreeMaxHole(heap, rb) < size) break;
    node = rb;
    const hole_start = heap[rb + A_KEY]!;
    if (addr < hole_start) rb = heap[rb + A_LEFT]!;
    else if (addr > hole_start + heap[rb + HOLE_SIZE]!) rb = heap[rb + A_RIGHT]!;
    else break;
  }
  return node;
}

/**
 * In-order successor in holes_addr, skipping subtrees without a hole of `size` (which is at
 * least 1, so a usable subtree is never empty).
 */
function next_hole_low_addr(heap: Float64Array, n: number, size: number): number {
  if (heap[n + MAX_RIGHT]! >= size) {
    n = heap[n + A_RIGHT]!;
    while (heap[n + MAX_LEFT]! >= size) n = heap[n + A_LEFT]!;
    return n;
  }
  let parent = heap[n + A_PARENT]!;
  while (parent !== RB_NIL && n === heap[parent + A_RIGHT]) {
    n = parent;
    parent = heap[n + A_PARENT]!;
  }
  return parent;
}

/** In-order predecessor in holes_addr, skipping subtrees without a hole of `size` (>= 1). */
function next_hole_high_addr(heap: Float64Array, n: number, size: number): number {
  if (heap[n + MAX_LEFT]! >= size) {
    n = heap[n + A_LEFT]!;
    while (heap[n + MAX_RIGHT]! >= size) n = heap[n + A_RIGHT]!;
    return n;
  }
  let parent = heap[n + A_PARENT]!;
  while (parent !== RB_NIL && n === heap[parent + A_LEFT]) {
    n = parent;
    parent = heap[n + A_PARENT]!;
  }
  return parent;
}

function first_hole(mm: drm_mm, start: number, end: number, size: number, mode: number): number {
  switch (mode) {
    case DRM_MM_INSERT_LOW: {
      // The landing node may have no hole at all; the first candidate is a real hole.
      let n = find_hole_addr(mm, start, size);
      while (n !== RB_NIL && mm.heap[n + HOLE_SIZE] === 0) n = next_hole_low_addr(mm.heap, n, size);
      return n;
    }
    case DRM_MM_INSERT_HIGH: {
      let n = find_hole_addr(mm, end, size);
      while (n !== RB_NIL && mm.heap[n + HOLE_SIZE] === 0)
        n = next_hole_high_addr(mm.heap, n, size);
      return n;
    }
    case DRM_MM_INSERT_EVICT: {
      const first = mm.heap[STACK_SLOT + STACK_NEXT]!;
      return first === STACK_SLOT ? RB_NIL : first;
    }
    default:
      return best_hole(mm, size);
  }
}

function next_hole(mm: drm_mm, n: number, size: number, mode: number): number {
  const heap = mm.heap;
  switch (mode) {
    case DRM_MM_INSERT_LOW:
      return next_hole_low_addr(heap, n, size);
    case DRM_MM_INSERT_HIGH:
      return next_hole_high_addr(heap, n, size);
    case DRM_MM_INSERT_EVICT: {
      const next = heap[n + STACK_NEXT]!;
      return next === STACK_SLOT ? RB_NIL : next;
    }
    default:
      return next_hole_size(mm, n);
  }
}

/**
 * The hole after `n` in BEST's order: the next older hole of the same size, else the newest
 * hole of the next larger size (upstream: rb_prev() in holes_size).
 */
function next_hole_size(mm: drm_mm, n: number): number {
  const heap = mm.heap;
  const older = heap[n + SIZE_NEXT]!;
  if (older !== RB_NIL) return older;
  // Classes are largest first, so the previous class is the next larger size.
  const larger = rb_prev(mm.sizeClasses, HOLES_SIZE_LAYOUT, heap[n + SIZE_CLASS]!);
  return larger === RB_NIL ? RB_NIL : mm.sizeClasses[larger + C_FIRST]!;
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
 * Links slot `n` into holes_addr right after `prev`, its predecessor in address order: no key
 * comparisons are needed, as upstream's interval tree insertion starts from the hole node.
 * The hole sizes of `prev` and `n` must be set; their maxima are updated here.
 */
function addrTreeInsertAfter(mm: drm_mm, prev: number, n: number): void {
  const heap = mm.heap;
  const root = mm.holes_addr;
  let parent = prev;
  let child = heap[parent + A_RIGHT]!;
  if (child === RB_NIL) {
    rb_link_node(heap, root, n, parent, false);
  } else {
    do {
      parent = child;
      child = heap[parent + A_LEFT]!;
    } while (child !== RB_NIL);
    rb_link_node(heap, root, n, parent, true);
  }
  // The rotate callback needs correct maxima on the path before rebalancing. The node hangs in
  // prev's right subtree, and prev's own hole has just changed too, so one climb from prev
  // settles both.
  heap[n + MAX_LEFT] = 0;
  heap[n + MAX_RIGHT] = 0;
  climbMaxHole(heap, n, prev);
  climbMaxHole(heap, prev, RB_NIL);
  rb_insert_augmented(heap, root, n, holeAddrAugment);
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
  const heap = mm.heap;
  const hole_start = heap[hole + A_KEY]!;
  const hole_end = hole_start + heap[hole + HOLE_SIZE]!;
  const end = start + size;
  DRM_MM_BUG_ON(start < hole_start || end > hole_end, "node does not fit its hole");
  node.mm = mm;
  node.start = start;
  node.size = size;
  node.color = color;
  node.flags = ALLOCATED;
  heap[n + A_KEY] = end;
  heap[n + START] = start;

  const next = heap[hole + LIST_NEXT]!;
  heap[n + LIST_PREV] = hole;
  heap[n + LIST_NEXT] = next;
  heap[next + LIST_PREV] = n;
  heap[hole + LIST_NEXT] = n;

  const leading = start - hole_start;
  const trailing = hole_end - end;
  unindexHole(mm, hole);
  // addrTreeInsertAfter() brings the subtree maxima up to date for both new sizes.
  heap[hole + HOLE_SIZE] = leading;
  heap[n + HOLE_SIZE] = trailing;
  addrTreeInsertAfter(mm, hole, n);
  if (leading > 0) {
    insertHoleSize(mm, hole);
    pushHoleStack(heap, hole);
  }
  if (trailing > 0) {
    insertHoleSize(mm, n);
    pushHoleStack(heap, n);
  }
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
  mm.holes_addr = new rb_root(HOLES_ADDR_LAYOUT);
  mm.scan_active = 0;
  mm.heap = new Float64Array(64 * SLOT_STRIDE);
  mm.slotNodes = [RELEASED, RELEASED, RELEASED];
  mm.freeSlots = [];
  mm.nextSlot = FIRST_FREE_SLOT;
  mm.sizeClasses = new Float64Array(64 * CLASS_STRIDE);
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
  mm.slotNodes[HEAD_SLOT / SLOT_STRIDE] = head;
  const heap = mm.heap;
  heap[HEAD_SLOT + START] = head.start;
  heap[HEAD_SLOT + A_KEY] = start;
  heap[HEAD_SLOT + LIST_PREV] = HEAD_SLOT;
  heap[HEAD_SLOT + LIST_NEXT] = HEAD_SLOT;
  heap[STACK_SLOT + STACK_PREV] = STACK_SLOT;
  heap[STACK_SLOT + STACK_NEXT] = STACK_SLOT;
  heap[HEAD_SLOT + MAX_LEFT] = 0;
  heap[HEAD_SLOT + MAX_RIGHT] = 0;
  rb_link_node(heap, mm.holes_addr, HEAD_SLOT, RB_NIL, false);
  rb_insert_augmented(heap, mm.holes_addr, HEAD_SLOT, holeAddrAugment);
  add_hole(mm, HEAD_SLOT, size);
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
  // O(1) reject: the cached leftmost hole of holes_size is the largest.
  if (mm.sizeClasses[mm.holes_size.rb_leftmost + C_KEY]! < size) return -ENOSPC;

  const align = alignment <= 1 ? 0 : alignment;
  const once = modeOnce(mode);
  const high = base === DRM_MM_INSERT_HIGH;
  const heap = mm.heap;
  for (
    let hole = first_hole(mm, range_start, range_end, size, base);
    hole !== RB_NIL;
    hole = once ? RB_NIL : next_hole(mm, hole, size, base)
  ) {
    const hole_start = heap[hole + A_KEY]!;
    const hole_end = hole_start + heap[hole + HOLE_SIZE]!;
    // Address-ordered walks stop once they leave the range; BEST and EVICT visit every hole.
    if (base === DRM_MM_INSERT_LOW && hole_start >= range_end) break;
    if (high && hole_end <= range_start) break;
    const start = placeInHole(
      mm,
      hole,
      hole_start,
      hole_end,
      size,
      align,
      color,
      range_start,
      range_end,
      high,
    );
    if (start === NO_FIT) continue;
    linkNodeIntoHole(mm, hole, node, start, size, color);
    return 0;
  }
  return -ENOSPC;
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

  // With size 0 every subtree is usable, so this is a plain search for the hole at `start`.
  const hole = find_hole_addr(mm, start, 0);
  if (hole === RB_NIL) return -ENOSPC;
  const heap = mm.heap;
  let adj_start = heap[hole + A_KEY]!;
  let adj_end = adj_start + heap[hole + HOLE_SIZE]!;
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
  // both sides into one hole after `prev`, which becomes the newest.
  const merged = heap[next + START]! - heap[prev + A_KEY]!;
  if (heap[n + HOLE_SIZE] !== 0) unindexHole(mm!, n);
  if (heap[prev + HOLE_SIZE] !== 0) unindexHole(mm!, prev);
  heap[prev + LIST_NEXT] = next;
  heap[next + LIST_PREV] = prev;
  rb_erase_augmented(heap, mm!.holes_addr, n, holeAddrAugment);
  add_hole(mm!, prev, merged);

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
  mm!.slotNodes[old.slot / SLOT_STRIDE] = replacement;
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
  // Nodes do not overlap, so the first one ending after `start` is the only candidate.
  const heap = mm.heap;
  let rb = mm.holes_addr.rb_node;
  let first = RB_NIL;
  while (rb !== RB_NIL) {
    if (heap[rb + A_KEY]! > start) {
      first = rb;
      rb = heap[rb + A_LEFT]!;
    } else {
      rb = heap[rb + A_RIGHT]!;
    }
  }
  // The head node keys at the range start; skip it when `start` lies below the range.
  if (first === HEAD_SLOT) first = rb_next(heap, HOLES_ADDR_LAYOUT, HEAD_SLOT);
  if (first !== RB_NIL && heap[first + START]! <= last) return nodeOf(mm, first);
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
  for (let n = mm.heap[STACK_SLOT + STACK_NEXT]!; n !== STACK_SLOT; ) {
    const heap = mm.heap;
    const next = heap[n + STACK_NEXT]!;
    const hole_start = heap[n + A_KEY]!;
    yield { pos: nodeOf(mm, n), hole_start, hole_end: hole_start + heap[n + HOLE_SIZE]! };
    n = next;
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
    heap[hole + A_KEY]!,
    heap[next + START]!,
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
  let hole = heap[STACK_SLOT + STACK_NEXT]!;
  while (hole !== STACK_SLOT) {
    const hole_start = heap[hole + A_KEY]!;
    if (hole_start <= scan.hit_start && hole_start + heap[hole + HOLE_SIZE]! >= scan.hit_end) {
      break;
    }
    hole = heap[hole + STACK_NEXT]!;
  }
  DRM_MM_BUG_ON(hole === STACK_SLOT, "drm_mm_scan_color_evict: no hole contains the window");

  const bounds = mm!.colorAdjustBounds;
  bounds.start = heap[hole + A_KEY]!;
  bounds.end = bounds.start + heap[hole + HOLE_SIZE]!;
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
