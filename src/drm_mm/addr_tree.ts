// holes_addr for drm_mm: every node of an allocator, the head node first, in address order, in a
// B+tree whose leaf entries carry each node's hole size and whose inner entries carry a bound on
// the largest hole below them. It stands in for two red-black trees of drivers/gpu/drm/drm_mm.c:
// `holes_addr`, augmented with `subtree_max_hole` (what LOW, HIGH and reserve search), and the
// interval tree of allocated nodes (what __drm_mm_interval_first() searches). A node without a
// hole counts as a hole of size 0, which no search for a positive size can use, so a hole that
// appears, grows, shrinks or vanishes changes one number in place.
//
// Why a B+tree (measured with bench/drm_mm.ts): a red-black tree of a million nodes is about 25
// levels deep, and keeping subtree_max_hole right climbed about 20 of them per insert and
// remove, each a cache miss. Here a leaf holds up to FANOUT nodes and an inner node up to FANOUT
// children, so a million nodes need six levels, of which only the leaf is usually not in cache,
// and an update shifts a few entries of one leaf.
//
// Why bounds instead of exact maxima (measured too): BEST splits the smallest fitting hole,
// which is often the largest of its leaf, so exact maxima went down, and climbed, on most
// insertions, and that cost as much as the rest of the tree. A search only needs to know which
// subtrees cannot hold a hole of some size, so an upper bound serves as well as the maximum,
// provided it is raised at once when a hole grows past it. A hole that shrinks or vanishes
// leaves the bounds above it as they are. A search that follows a bound that has become too
// high finds nothing below it, and then lowers it to what the entries say, so each stale bound
// costs one wasted visit. Holes only grow by merging on removal, so insertion never climbs,
// and removal climbs only when the merged hole beats its leaf's bound.
//
// What it models and leaves out: it keeps upstream's answers for everything that depends only
// on address order and hole sizes (the in-order walks of LOW and HIGH, reserve's lookup, the
// first node overlapping an address). Which hole a search "lands" on first is shape-dependent
// upstream; drm_mm.ts defines it here without reference to any tree shape (see
// first_hole_addr there). There is no lockless lookup and no interval-tree "last" value: nodes
// never overlap, so the first node ending after an address is the only one that can overlap
// anything from that address on.
//
// Storage. Numbers that are links (entry counts, parents, slots, child nodes) are int32 and
// numbers that are addresses or sizes are float64; each record keeps both kinds side by side in
// one ArrayBuffer, seen through an Int32Array and a Float64Array, so that following a link
// never converts a double to an index (which made a dependent load about twice as slow in V8)
// and a record stays in as few cache lines as possible. A record is named by its offset in the
// Int32Array; its float64 fields are at (offset >> 1) + field. Offset 0 is the null record.
//
// Tree nodes live in `tree.nodes` / `tree.nodeVals`. The allocator's nodes are slots of the
// allocator's heap (see drm_mm.ts), named the same way; this file reads three fields of each
// slot: SLOT_KEY (float64: the node's end, where its hole starts; for the head node the range
// start), SLOT_HOLE (float64: its hole size) and SLOT_LEAF (int32: the leaf holding it, which
// this file maintains).
//
// Invariants (checked by checkAddrTree): all leaves are at level 0 and every path from the root
// has the same length; a non-root tree node has MIN_FILL to FANOUT entries, an inner root at
// least 2; every entry's max is the hole size (leaf) or the child's T_MAX (inner), and T_MAX is
// at least the largest max of the node's entries, so that it bounds every hole below the node;
// an inner entry's key is the SLOT_KEY of the first slot below it; parents, positions in the
// parent and SLOT_LEAF point back.

/** Float64 slot fields read here; drm_mm.ts lays out the rest of each slot around them. */
export const SLOT_KEY = 0;
export const SLOT_HOLE = 1;
/** Int32 slot field maintained here. */
export const SLOT_LEAF = 9;

/** Entries per tree node, at most. */
export const FANOUT = 16;
/** Entries per tree node, at least, except in the root. */
export const MIN_FILL = 4;

/**
 * Int32 tree node fields: entry count, parent (0 at the root), level (0 for leaves), and the
 * node's position among its parent's entries, so that climbing needs no search.
 */
export const T_COUNT = 0;
export const T_PARENT = 1;
export const T_LEVEL = 2;
export const T_POS = 3;
/** Int32, per entry: the slot (leaf) or child tree node (inner). */
export const T_IDS = 4;
/** Float64 tree node field: at least the largest max of the entries (see the top). */
export const T_MAX = (T_IDS + FANOUT) >> 1;
/** Float64, per entry: the slot's hole size (leaf) or the child's T_MAX (inner). */
export const T_MAXES = T_MAX + 1;
/** Float64, per entry, inner nodes only: the SLOT_KEY of the first slot below the child. */
export const T_KEYS = T_MAXES + FANOUT;
/** Int32s per tree node (even, so that the float64 fields stay aligned). */
export const TREE_NODE_STRIDE = 2 * (T_KEYS + FANOUT);

/** The tree: its node records, root, and the records released for reuse. */
export class hole_addr_tree {
  nodes = new Int32Array(0);
  nodeVals = new Float64Array(0);
  root = 0;
  freeNodes: number[] = [];
  nextNode = 0;
}

/** A broken tree invariant, found while updating it: the tree was corrupted. */
function corrupted(what: string): never {
  throw new Error(`drm_mm holes_addr corrupted: ${what}`);
}

function allocTreeNode(t: hole_addr_tree, level: number): number {
  let n = t.freeNodes.pop();
  if (n === undefined) {
    n = t.nextNode;
    t.nextNode += TREE_NODE_STRIDE;
    if (t.nextNode > t.nodes.length) {
      const grown = new ArrayBuffer(t.nodes.length * 8);
      new Int32Array(grown).set(t.nodes);
      t.nodes = new Int32Array(grown);
      t.nodeVals = new Float64Array(grown);
    }
  }
  const nodes = t.nodes;
  nodes[n + T_COUNT] = 0;
  nodes[n + T_PARENT] = 0;
  nodes[n + T_LEVEL] = level;
  nodes[n + T_POS] = 0;
  t.nodeVals[(n >> 1) + T_MAX] = 0;
  return n;
}

function freeTreeNode(t: hole_addr_tree, n: number): void {
  t.nodes[n + T_COUNT] = 0;
  t.freeNodes.push(n);
}

/**
 * Empties the tree and puts the head slot in it as the only entry. `storage` is the first
 * memory for its node records, a whole number of TREE_NODE_STRIDEs starting on an 8-byte
 * boundary; it grows by doubling from there.
 */
export function addrTreeInit(
  t: hole_addr_tree,
  storage: Int32Array<ArrayBuffer>,
  heap: Int32Array,
  heapVals: Float64Array,
  head: number,
): void {
  t.nodes = storage;
  t.nodeVals = new Float64Array(storage.buffer, storage.byteOffset, storage.length >> 1);
  t.freeNodes = [];
  t.nextNode = TREE_NODE_STRIDE;
  const leaf = allocTreeNode(t, 0);
  const hole = heapVals[(head >> 1) + SLOT_HOLE]!;
  t.nodes[leaf + T_COUNT] = 1;
  t.nodes[leaf + T_IDS] = head;
  t.nodeVals[(leaf >> 1) + T_MAXES] = hole;
  t.nodeVals[(leaf >> 1) + T_MAX] = hole;
  heap[head + SLOT_LEAF] = leaf;
  t.root = leaf;
}

/** Position of entry `id` in tree node `n`. */
function posOf(nodes: Int32Array, n: number, id: number): number {
  const base = n + T_IDS;
  const end = base + nodes[n + T_COUNT]!;
  for (let i = base; i < end; i++) if (nodes[i] === id) return i - base;
  return corrupted(`entry ${id} missing from its tree node ${n}`);
}

/** Sets T_MAX of `n` to the largest max of its entries (the tightest bound), and returns it. */
function scanMax(nodes: Int32Array, vals: Float64Array, n: number): number {
  const base = (n >> 1) + T_MAXES;
  const end = base + nodes[n + T_COUNT]!;
  let max = 0;
  for (let i = base; i < end; i++) {
    const v = vals[i]!;
    if (v > max) max = v;
  }
  vals[(n >> 1) + T_MAX] = max;
  return max;
}

/**
 * An entry of `n` has become `max`: raises the bounds of `n` and of its ancestors that are
 * below it, stopping at the first that is not.
 */
function raiseMax(nodes: Int32Array, vals: Float64Array, n: number, max: number): void {
  while (vals[(n >> 1) + T_MAX]! < max) {
    vals[(n >> 1) + T_MAX] = max;
    const parent = nodes[n + T_PARENT]!;
    if (parent === 0) return;
    vals[(parent >> 1) + T_MAXES + nodes[n + T_POS]!] = max;
    n = parent;
  }
}

/**
 * Lowers the bound of `n`, which a search found to be too high, to the largest max of its
 * entries, and hands the new value to the parent's entry. The parent's own bound stays valid.
 */
function tighten(nodes: Int32Array, vals: Float64Array, n: number): void {
  const max = scanMax(nodes, vals, n);
  const parent = nodes[n + T_PARENT]!;
  if (parent !== 0) vals[(parent >> 1) + T_MAXES + nodes[n + T_POS]!] = max;
}

/** The SLOT_KEY of the first slot below tree node `n`. */
function minKey(t: hole_addr_tree, heapVals: Float64Array, n: number): number {
  return t.nodes[n + T_LEVEL] === 0
    ? heapVals[(t.nodes[n + T_IDS]! >> 1) + SLOT_KEY]!
    : t.nodeVals[(n >> 1) + T_KEYS]!;
}

/** Records that the hole of `slot` is now `size`, raising the bounds above it if it grew. */
function setHole(t: hole_addr_tree, heap: Int32Array, slot: number, size: number): void {
  const nodes = t.nodes;
  const vals = t.nodeVals;
  const leaf = heap[slot + SLOT_LEAF]!;
  vals[(leaf >> 1) + T_MAXES + posOf(nodes, leaf, slot)] = size;
  raiseMax(nodes, vals, leaf, size);
}

/**
 * Links `slot` right after `prev`, its predecessor in address order, whose hole `slot` was
 * carved out of; no key comparisons are needed. Their holes are now `prevHole` and `hole`,
 * each smaller than the one `prev` had; the slots' SLOT_HOLE fields are not read (the caller
 * sets them when it suits it), but the new slot's SLOT_KEY must be set.
 */
export function addrTreeInsertAfter(
  t: hole_addr_tree,
  heap: Int32Array,
  heapVals: Float64Array,
  prev: number,
  prevHole: number,
  slot: number,
  hole: number,
): void {
  const nodes = t.nodes;
  const vals = t.nodeVals;
  const leaf = heap[prev + SLOT_LEAF]!;
  const pos = posOf(nodes, leaf, prev);
  const l = leaf >> 1;
  vals[l + T_MAXES + pos] = prevHole;
  const count = nodes[leaf + T_COUNT]!;
  if (count === FANOUT) {
    split(t, heap, heapVals, leaf, pos + 1, slot, hole, 0);
    return;
  }
  // The hot path: shift the leaf's tail by one and put the slot in.
  const ids = leaf + T_IDS;
  const maxes = l + T_MAXES;
  for (let i = count; i > pos + 1; i--) {
    nodes[ids + i] = nodes[ids + i - 1]!;
    vals[maxes + i] = vals[maxes + i - 1]!;
  }
  nodes[ids + pos + 1] = slot;
  vals[maxes + pos + 1] = hole;
  nodes[leaf + T_COUNT] = count + 1;
  heap[slot + SLOT_LEAF] = leaf;
  // Both new holes are smaller than the old one, so every bound above still holds.
}

/** Points entry `id`, now at position `i` of tree node `n`, back at `n`. */
function adopt(
  t: hole_addr_tree,
  heap: Int32Array,
  n: number,
  i: number,
  leaf: boolean,
  id: number,
): void {
  if (leaf) {
    heap[id + SLOT_LEAF] = n;
  } else {
    t.nodes[id + T_PARENT] = n;
    t.nodes[id + T_POS] = i;
  }
}

/** Copies entry `from` of tree node `src` to entry `to` of `dst`, and adopts it there. */
function moveEntry(
  t: hole_addr_tree,
  heap: Int32Array,
  src: number,
  from: number,
  dst: number,
  to: number,
  leaf: boolean,
): void {
  const nodes = t.nodes;
  const vals = t.nodeVals;
  const id = nodes[src + T_IDS + from]!;
  nodes[dst + T_IDS + to] = id;
  vals[(dst >> 1) + T_MAXES + to] = vals[(src >> 1) + T_MAXES + from]!;
  vals[(dst >> 1) + T_KEYS + to] = vals[(src >> 1) + T_KEYS + from]!;
  adopt(t, heap, dst, to, leaf, id);
}

/**
 * Moves entry `from` of tree node `n` to `to` within `n`: a slot's leaf stays right, a child's
 * position is updated.
 */
function shiftEntry(t: hole_addr_tree, n: number, from: number, to: number, leaf: boolean): void {
  const v = n >> 1;
  const id = t.nodes[n + T_IDS + from]!;
  t.nodes[n + T_IDS + to] = id;
  t.nodeVals[v + T_MAXES + to] = t.nodeVals[v + T_MAXES + from]!;
  t.nodeVals[v + T_KEYS + to] = t.nodeVals[v + T_KEYS + from]!;
  if (!leaf) t.nodes[id + T_POS] = to;
}

/** Sets entry `to` of tree node `dst` to (id, max, key) and adopts it there. */
function putEntry(
  t: hole_addr_tree,
  heap: Int32Array,
  dst: number,
  to: number,
  leaf: boolean,
  id: number,
  max: number,
  key: number,
): void {
  t.nodes[dst + T_IDS + to] = id;
  t.nodeVals[(dst >> 1) + T_MAXES + to] = max;
  t.nodeVals[(dst >> 1) + T_KEYS + to] = key;
  adopt(t, heap, dst, to, leaf, id);
}

/**
 * Inserts entry (id, max, key) at position `pos` >= 1 of inner tree node `n`, splitting it if
 * full, and brings the maxima up to date. Only splits insert into inner nodes, and never at
 * position 0, so no minimum key changes.
 */
function insertInner(
  t: hole_addr_tree,
  heap: Int32Array,
  heapVals: Float64Array,
  n: number,
  pos: number,
  id: number,
  max: number,
  key: number,
): void {
  const count = t.nodes[n + T_COUNT]!;
  if (count === FANOUT) {
    split(t, heap, heapVals, n, pos, id, max, key);
    return;
  }
  for (let i = count - 1; i >= pos; i--) shiftEntry(t, n, i, i + 1, false);
  putEntry(t, heap, n, pos, false, id, max, key);
  t.nodes[n + T_COUNT] = count + 1;
  // The two halves' bounds are at most the split node's was, so `n`'s bound still holds.
}

/**
 * Splits full tree node `n` while inserting (id, max, key) at `pos` >= 1: the upper half moves
 * to a new right sibling, which is then inserted into the parent (a new root if `n` was the
 * root).
 */
function split(
  t: hole_addr_tree,
  heap: Int32Array,
  heapVals: Float64Array,
  n: number,
  pos: number,
  id: number,
  max: number,
  key: number,
): void {
  const level = t.nodes[n + T_LEVEL]!;
  const right = allocTreeNode(t, level); // may grow the arrays: read them afterwards
  const leaf = level === 0;
  const total = FANOUT + 1;
  const keep = (total + 1) >> 1;
  // Entry v of the merged sequence: old entries before pos, the new one at pos, then the rest.
  for (let v = keep; v < total; v++) {
    if (v === pos) putEntry(t, heap, right, v - keep, leaf, id, max, key);
    else moveEntry(t, heap, n, v < pos ? v : v - 1, right, v - keep, leaf);
  }
  if (pos < keep) {
    for (let i = keep - 2; i >= pos; i--) shiftEntry(t, n, i, i + 1, leaf);
    putEntry(t, heap, n, pos, leaf, id, max, key);
  }
  const nodes = t.nodes;
  const vals = t.nodeVals;
  nodes[n + T_COUNT] = keep;
  nodes[right + T_COUNT] = total - keep;
  scanMax(nodes, vals, n);
  scanMax(nodes, vals, right);

  const parent = nodes[n + T_PARENT]!;
  if (parent === 0) {
    const root = allocTreeNode(t, level + 1);
    putEntry(t, heap, root, 0, false, n, t.nodeVals[(n >> 1) + T_MAX]!, minKey(t, heapVals, n));
    putEntry(
      t,
      heap,
      root,
      1,
      false,
      right,
      t.nodeVals[(right >> 1) + T_MAX]!,
      minKey(t, heapVals, right),
    );
    t.nodes[root + T_COUNT] = 2;
    scanMax(t.nodes, t.nodeVals, root);
    t.root = root;
    return;
  }
  const at = nodes[n + T_POS]!;
  vals[(parent >> 1) + T_MAXES + at] = vals[(n >> 1) + T_MAX]!;
  insertInner(
    t,
    heap,
    heapVals,
    parent,
    at + 1,
    right,
    vals[(right >> 1) + T_MAX]!,
    minKey(t, heapVals, right),
  );
}

/**
 * Unlinks `slot` and records that `prev`, its predecessor in address order, now has the hole
 * `merged`, which covers the one `slot` had, raising the bounds above it if needed. The slots'
 * SLOT_HOLE fields are not read.
 */
export function addrTreeRemove(
  t: hole_addr_tree,
  heap: Int32Array,
  heapVals: Float64Array,
  slot: number,
  prev: number,
  merged: number,
): void {
  const nodes = t.nodes;
  const vals = t.nodeVals;
  const leaf = heap[slot + SLOT_LEAF]!;
  const l = leaf >> 1;
  const pos = posOf(nodes, leaf, slot);
  const count = nodes[leaf + T_COUNT]!;
  const sameLeaf = pos > 0 && nodes[leaf + T_IDS + pos - 1] === prev;
  if (sameLeaf && count > MIN_FILL) {
    // The hot path: both in one leaf, which stays full enough. Only the merged hole grew.
    vals[l + T_MAXES + pos - 1] = merged;
    const ids = leaf + T_IDS;
    const maxes = l + T_MAXES;
    for (let i = pos + 1; i < count; i++) {
      nodes[ids + i - 1] = nodes[ids + i]!;
      vals[maxes + i - 1] = vals[maxes + i]!;
    }
    nodes[leaf + T_COUNT] = count - 1;
    raiseMax(nodes, vals, leaf, merged);
    return;
  }
  if (sameLeaf) {
    vals[l + T_MAXES + pos - 1] = merged;
    raiseMax(nodes, vals, leaf, merged);
  } else {
    setHole(t, heap, prev, merged);
  }
  removeAt(t, heap, heapVals, leaf, pos);
}

/** Removes entry `pos` of tree node `n`, then rebalances. Bounds stay valid: entries only go. */
function removeAt(
  t: hole_addr_tree,
  heap: Int32Array,
  heapVals: Float64Array,
  n: number,
  pos: number,
): void {
  const count = t.nodes[n + T_COUNT]! - 1;
  const leaf = t.nodes[n + T_LEVEL] === 0;
  for (let i = pos; i < count; i++) shiftEntry(t, n, i + 1, i, leaf);
  const nodes = t.nodes;
  nodes[n + T_COUNT] = count;
  if (pos === 0 && count > 0) updateMinKey(t, heapVals, n);
  const parent = nodes[n + T_PARENT]!;
  if (parent === 0) {
    if (!leaf && count === 1) {
      // An inner root with one child: the child becomes the root.
      const child = nodes[n + T_IDS]!;
      nodes[child + T_PARENT] = 0;
      nodes[child + T_POS] = 0;
      t.root = child;
      freeTreeNode(t, n);
    }
    return;
  }
  if (count < MIN_FILL) rebalance(t, heap, heapVals, n, parent);
}

/** The first entry of `n` changed: its key moves into the ancestors that start with it. */
function updateMinKey(t: hole_addr_tree, heapVals: Float64Array, n: number): void {
  const nodes = t.nodes;
  const key = minKey(t, heapVals, n);
  for (let parent = nodes[n + T_PARENT]!; parent !== 0; parent = nodes[n + T_PARENT]!) {
    const at = nodes[n + T_POS]!;
    t.nodeVals[(parent >> 1) + T_KEYS + at] = key;
    if (at !== 0) return;
    n = parent;
  }
}

/**
 * Tree node `n` (not the root) fell below MIN_FILL entries: merge it with a neighbour if both
 * fit in one node, else even the two out. Either leaves every node with at least MIN_FILL.
 */
function rebalance(
  t: hole_addr_tree,
  heap: Int32Array,
  heapVals: Float64Array,
  n: number,
  parent: number,
): void {
  const nodes = t.nodes;
  const vals = t.nodeVals;
  const leaf = nodes[n + T_LEVEL] === 0;
  const at = nodes[n + T_POS]!;
  // A non-root parent has at least MIN_FILL >= 2 entries and an inner root at least 2, so `n`
  // has a neighbour.
  const pl = at > 0 ? at - 1 : at;
  const p = parent >> 1;
  const left = nodes[parent + T_IDS + pl]!;
  const right = nodes[parent + T_IDS + pl + 1]!;
  const lc = nodes[left + T_COUNT]!;
  const rc = nodes[right + T_COUNT]!;
  if (lc + rc <= FANOUT) {
    for (let i = 0; i < rc; i++) moveEntry(t, heap, right, i, left, lc + i, leaf);
    nodes[left + T_COUNT] = lc + rc;
    vals[p + T_MAXES + pl] = scanMax(nodes, vals, left);
    freeTreeNode(t, right);
    removeAt(t, heap, heapVals, parent, pl + 1);
    return;
  }
  const newLc = (lc + rc) >> 1;
  if (newLc > lc) {
    // Move the first (newLc - lc) entries of `right` to the end of `left`.
    const k = newLc - lc;
    for (let i = 0; i < k; i++) moveEntry(t, heap, right, i, left, lc + i, leaf);
    for (let i = k; i < rc; i++) shiftEntry(t, right, i, i - k, leaf);
    nodes[left + T_COUNT] = newLc;
    nodes[right + T_COUNT] = rc - k;
  } else {
    // Move the last (lc - newLc) entries of `left` to the front of `right`.
    const k = lc - newLc;
    for (let i = rc - 1; i >= 0; i--) shiftEntry(t, right, i, i + k, leaf);
    for (let i = 0; i < k; i++) moveEntry(t, heap, left, newLc + i, right, i, leaf);
    nodes[left + T_COUNT] = newLc;
    nodes[right + T_COUNT] = rc + k;
  }
  // `right` starts with another slot now; pl + 1 >= 1, so no ancestor starts with it.
  // Both get tight bounds, each at most the larger of the two old ones, so the parent's holds.
  vals[p + T_KEYS + pl + 1] = minKey(t, heapVals, right);
  vals[p + T_MAXES + pl] = scanMax(nodes, vals, left);
  vals[p + T_MAXES + pl + 1] = scanMax(nodes, vals, right);
}

// ------------------------------------------------------------------------------------------
// Searches.

/** Levels of the tree: 1 while the root is a leaf. For tests that want to see it grow. */
export function addrTreeHeight(t: hole_addr_tree): number {
  return t.nodes[t.root + T_LEVEL]! + 1;
}

/**
 * The last slot whose key is at most `key` (`inclusive`) or below it, or 0 if there is none.
 * Since keys are node ends, that slot owns the hole at or below `key`.
 */
export function addrTreeLastBelow(
  t: hole_addr_tree,
  heapVals: Float64Array,
  key: number,
  inclusive: boolean,
): number {
  const nodes = t.nodes;
  const vals = t.nodeVals;
  let n = t.root;
  while (nodes[n + T_LEVEL] !== 0) {
    const keys = (n >> 1) + T_KEYS;
    let i = nodes[n + T_COUNT]! - 1;
    while (i >= 0 && (inclusive ? vals[keys + i]! > key : vals[keys + i]! >= key)) i--;
    if (i < 0) return 0;
    n = nodes[n + T_IDS + i]!;
  }
  // Binary search over the leaf's slots: the first entry past `key`.
  const ids = n + T_IDS;
  let lo = 0;
  let hi = nodes[n + T_COUNT]!;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const k = heapVals[(nodes[ids + mid]! >> 1) + SLOT_KEY]!;
    if (inclusive ? k <= key : k < key) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0 : nodes[ids + lo - 1]!;
}

/**
 * The first slot after `slot` in address order whose hole is at least `size`, or 0. With
 * `size` 0 it is the plain successor. Subtrees whose bound is below `size` are skipped whole;
 * a subtree entered on a bound that turns out too high is tightened on the way out.
 */
export function addrTreeNext(t: hole_addr_tree, heap: Int32Array, slot: number, size: number) {
  const nodes = t.nodes;
  const vals = t.nodeVals;
  let n = heap[slot + SLOT_LEAF]!;
  let i = posOf(nodes, n, slot) + 1;
  let entered = false;
  for (;;) {
    const count = nodes[n + T_COUNT]!;
    const maxes = (n >> 1) + T_MAXES;
    while (i < count && vals[maxes + i]! < size) i++;
    if (i < count) {
      if (nodes[n + T_LEVEL] === 0) return nodes[n + T_IDS + i]!;
      n = nodes[n + T_IDS + i]!;
      i = 0;
      entered = true;
      continue;
    }
    if (entered) tighten(nodes, vals, n);
    const parent = nodes[n + T_PARENT]!;
    if (parent === 0) return 0;
    i = nodes[n + T_POS]! + 1;
    n = parent;
    entered = false;
  }
}

/** The last slot before `slot` in address order whose hole is at least `size`, or 0. */
export function addrTreePrev(t: hole_addr_tree, heap: Int32Array, slot: number, size: number) {
  const nodes = t.nodes;
  const vals = t.nodeVals;
  let n = heap[slot + SLOT_LEAF]!;
  let i = posOf(nodes, n, slot) - 1;
  let entered = false;
  for (;;) {
    const maxes = (n >> 1) + T_MAXES;
    while (i >= 0 && vals[maxes + i]! < size) i--;
    if (i >= 0) {
      if (nodes[n + T_LEVEL] === 0) return nodes[n + T_IDS + i]!;
      n = nodes[n + T_IDS + i]!;
      i = nodes[n + T_COUNT]! - 1;
      entered = true;
      continue;
    }
    if (entered) tighten(nodes, vals, n);
    const parent = nodes[n + T_PARENT]!;
    if (parent === 0) return 0;
    i = nodes[n + T_POS]! - 1;
    n = parent;
    entered = false;
  }
}

// ------------------------------------------------------------------------------------------
// Checking.

/**
 * Checks the invariants listed at the top of this file and returns the slots in address order,
 * or a description of the first violation. `limit` bounds the walk, so that a corrupted tree
 * with a cycle cannot hang it. Read-only; used by the drm_mm invariant checker.
 */
export function checkAddrTree(
  t: hole_addr_tree,
  heap: Int32Array,
  heapVals: Float64Array,
  limit: number,
): { slots: number[] } | { problem: string } {
  const nodes = t.nodes;
  const vals = t.nodeVals;
  for (let i = 0; i < TREE_NODE_STRIDE; i++) {
    if (nodes[i] !== 0) return { problem: `null tree node field ${i} was written` };
  }
  const root = t.root;
  if (root === 0) return { problem: "no root" };
  if (nodes[root + T_PARENT] !== 0) return { problem: "the root has a parent" };
  const slots: number[] = [];
  const seen = new Set<number>();
  const free = new Set(t.freeNodes);
  // Iterative depth-first walk; each frame is a tree node and the next entry to visit.
  const stack: Array<{ n: number; i: number }> = [{ n: root, i: 0 }];
  const rootLevel = nodes[root + T_LEVEL]!;
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const n = frame.n;
    const v = n >> 1;
    const count = nodes[n + T_COUNT]!;
    const level = nodes[n + T_LEVEL]!;
    if (frame.i === 0) {
      if (seen.has(n)) return { problem: `tree node ${n} is reachable twice` };
      seen.add(n);
      if (free.has(n)) return { problem: `tree node ${n} is in use and free` };
      if (stack.length - 1 !== rootLevel - level) {
        return { problem: `tree node ${n} is at level ${level} at depth ${stack.length - 1}` };
      }
      const least = n === root ? (level === 0 ? 1 : 2) : MIN_FILL;
      if (!(count >= least && count <= FANOUT)) {
        return { problem: `tree node ${n} has ${count} entries` };
      }
      let max = 0;
      for (let i = 0; i < count; i++) max = Math.max(max, vals[v + T_MAXES + i]!);
      if (!(vals[v + T_MAX]! >= max)) {
        return { problem: `tree node ${n}: bound ${vals[v + T_MAX]} below its entries' ${max}` };
      }
      if (level === 0) {
        for (let i = 0; i < count; i++) {
          const slot = nodes[n + T_IDS + i]!;
          if (heap[slot + SLOT_LEAF] !== n) return { problem: `slot ${slot}: wrong leaf` };
          if (vals[v + T_MAXES + i] !== heapVals[(slot >> 1) + SLOT_HOLE]) {
            return { problem: `slot ${slot}: leaf entry ${vals[v + T_MAXES + i]} != hole size` };
          }
          slots.push(slot);
          if (slots.length > limit) return { problem: "more entries than slots (a cycle?)" };
        }
        stack.pop();
        continue;
      }
    }
    if (frame.i === count) {
      stack.pop();
      continue;
    }
    const child = nodes[n + T_IDS + frame.i]!;
    if (nodes[child + T_PARENT] !== n) return { problem: `tree node ${child}: wrong parent` };
    if (nodes[child + T_POS] !== frame.i) return { problem: `tree node ${child}: wrong position` };
    if (nodes[child + T_LEVEL] !== level - 1) return { problem: `tree node ${child}: bad level` };
    if (vals[v + T_MAXES + frame.i] !== vals[(child >> 1) + T_MAX]) {
      return { problem: `tree node ${n} entry ${frame.i}: max disagrees with the child` };
    }
    if (vals[v + T_KEYS + frame.i] !== minKey(t, heapVals, child)) {
      return { problem: `tree node ${n} entry ${frame.i}: key is not the child's first key` };
    }
    frame.i++;
    stack.push({ n: child, i: 0 });
  }
  return { slots };
}
