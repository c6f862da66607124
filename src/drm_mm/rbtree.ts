// Red-black trees for drm_mm, modelled on the kernel's lib/rbtree.c and include/linux/rbtree.h
// (Linux 6.x). drm_mm uses one, for its size classes (holes_size).
//
// The kernel's trees are intrusive: the structure embeds an `rb_node` per tree. Here every tree
// node is a record of an Int32Array (the heap), and a node is named by the offset of its
// record; the tree's fields inside each record are described by an `rb_layout`. Offset 0 is
// the null node: its fields are never written, so it reads as a black node with no children,
// like a NULL child in the kernel. Links are int32 so that following one never converts a
// double to an index (which made a dependent load about twice as slow in V8), and updating one
// is a plain store without a garbage-collector write barrier. Keys are the caller's business:
// these functions only read and write links and colors.
//
// As in the kernel, callers do their own descent to find the link position (`rb_link_node`)
// and then rebalance with `rb_insert_color` or its cached variant. Rebalancing follows the
// kernel's algorithm case by case.
//
// Left out: the augmented-tree callbacks (drm_mm's address index, which needed them, is the
// B+tree in addr_tree.ts), the lockless-lookup write ordering (WRITE_ONCE, latch trees), the
// `rb_add` helpers, and packing the color into the parent pointer (the color is its own field:
// 1 red, 0 black).

/** The null node. */
export const RB_NIL = 0;

/** Where one tree keeps its fields inside each slot of the heap, as offsets from the slot. */
export interface rb_layout {
  readonly left: number;
  readonly right: number;
  readonly parent: number;
  readonly red: number;
}

/** The root of a tree. */
export class rb_root {
  rb_node = RB_NIL;
  constructor(readonly layout: rb_layout) {}
}

/** A root that also caches the leftmost (first in order) node, for O(1) `rb_first_cached`. */
export class rb_root_cached extends rb_root {
  rb_leftmost = RB_NIL;
}

/** Links `node` as a red leaf under `parent` (or as the root when `parent` is RB_NIL). */
export function rb_link_node(
  heap: Int32Array,
  root: rb_root,
  node: number,
  parent: number,
  asLeftChild: boolean,
): void {
  const L = root.layout;
  heap[node + L.parent] = parent;
  heap[node + L.left] = RB_NIL;
  heap[node + L.right] = RB_NIL;
  heap[node + L.red] = 1;
  if (parent === RB_NIL) root.rb_node = node;
  else if (asLeftChild) heap[parent + L.left] = node;
  else heap[parent + L.right] = node;
}

function changeChild(
  heap: Int32Array,
  root: rb_root,
  old: number,
  replacement: number,
  parent: number,
): void {
  const L = root.layout;
  if (parent === RB_NIL) root.rb_node = replacement;
  else if (heap[parent + L.left] === old) heap[parent + L.left] = replacement;
  else heap[parent + L.right] = replacement;
}

/** `replacement` takes `old`'s parent and color; `old` hangs below it with color `red`. */
function rotateSetParents(
  heap: Int32Array,
  root: rb_root,
  old: number,
  replacement: number,
  red: number,
): void {
  const L = root.layout;
  const parent = heap[old + L.parent]!;
  heap[replacement + L.parent] = parent;
  heap[replacement + L.red] = heap[old + L.red]!;
  heap[old + L.parent] = replacement;
  heap[old + L.red] = red;
  changeChild(heap, root, old, replacement, parent);
}

/** Restores the red-black properties after `node` was linked as a red leaf. */
function insertFixup(heap: Int32Array, root: rb_root, node: number): void {
  const { left: LEFT, right: RIGHT, parent: PARENT, red: RED } = root.layout;
  let parent = heap[node + PARENT]!;
  for (;;) {
    // Loop invariant: node is red.
    if (parent === RB_NIL) {
      heap[node + RED] = 0;
      return;
    }
    if (heap[parent + RED] === 0) return;
    // A red parent is never the root, so the grandparent exists.
    const gparent = heap[parent + PARENT]!;
    let tmp = heap[gparent + RIGHT]!;
    if (parent !== tmp) {
      // parent is gparent's left child.
      if (heap[tmp + RED] === 1) {
        // Case 1: the uncle is red, so flip colors and continue from the grandparent.
        heap[tmp + RED] = 0;
        heap[parent + RED] = 0;
        node = gparent;
        parent = heap[node + PARENT]!;
        heap[node + RED] = 1;
        continue;
      }
      tmp = heap[parent + RIGHT]!;
      if (node === tmp) {
        // Case 2: node is the inner grandchild; rotate left at parent to make it outer.
        tmp = heap[node + LEFT]!;
        heap[parent + RIGHT] = tmp;
        heap[node + LEFT] = parent;
        if (tmp !== RB_NIL) {
          heap[tmp + PARENT] = parent;
          heap[tmp + RED] = 0;
        }
        heap[parent + PARENT] = node;
        heap[parent + RED] = 1;
        parent = node;
        tmp = heap[node + RIGHT]!;
      }
      // Case 3: node is the outer grandchild; rotate right at the grandparent.
      heap[gparent + LEFT] = tmp;
      heap[parent + RIGHT] = gparent;
      if (tmp !== RB_NIL) {
        heap[tmp + PARENT] = gparent;
        heap[tmp + RED] = 0;
      }
      rotateSetParents(heap, root, gparent, parent, 1);
      return;
    }
    // parent is gparent's right child: the mirror image of the cases above.
    tmp = heap[gparent + LEFT]!;
    if (heap[tmp + RED] === 1) {
      heap[tmp + RED] = 0;
      heap[parent + RED] = 0;
      node = gparent;
      parent = heap[node + PARENT]!;
      heap[node + RED] = 1;
      continue;
    }
    tmp = heap[parent + LEFT]!;
    if (node === tmp) {
      tmp = heap[node + RIGHT]!;
      heap[parent + LEFT] = tmp;
      heap[node + RIGHT] = parent;
      if (tmp !== RB_NIL) {
        heap[tmp + PARENT] = parent;
        heap[tmp + RED] = 0;
      }
      heap[parent + PARENT] = node;
      heap[parent + RED] = 1;
      parent = node;
      tmp = heap[node + LEFT]!;
    }
    heap[gparent + RIGHT] = tmp;
    heap[parent + LEFT] = gparent;
    if (tmp !== RB_NIL) {
      heap[tmp + PARENT] = gparent;
      heap[tmp + RED] = 0;
    }
    rotateSetParents(heap, root, gparent, parent, 1);
    return;
  }
}

/**
 * Unlinks `node` and returns the node from which black heights must be rebalanced, or RB_NIL
 * when local recoloring already settled it.
 */
function eraseUnlink(heap: Int32Array, root: rb_root, node: number): number {
  const { left: LEFT, right: RIGHT, parent: PARENT, red: RED } = root.layout;
  const child = heap[node + RIGHT]!;
  const nodeLeft = heap[node + LEFT]!;
  const nodeParent = heap[node + PARENT]!;
  const nodeRed = heap[node + RED]!;
  let rebalance: number;
  if (nodeLeft === RB_NIL) {
    // At most one child (the right one). If there is one it is red and node is black, so
    // giving the child node's place and color keeps every black height.
    changeChild(heap, root, node, child, nodeParent);
    if (child !== RB_NIL) {
      heap[child + PARENT] = nodeParent;
      heap[child + RED] = nodeRed;
      rebalance = RB_NIL;
    } else {
      rebalance = nodeRed === 1 ? RB_NIL : nodeParent;
    }
  } else if (child === RB_NIL) {
    // Exactly one child, the left one: same as above.
    heap[nodeLeft + PARENT] = nodeParent;
    heap[nodeLeft + RED] = nodeRed;
    changeChild(heap, root, node, nodeLeft, nodeParent);
    rebalance = RB_NIL;
  } else {
    // Two children: the in-order successor takes node's place.
    let successor = child;
    let parent: number;
    let child2: number;
    let tmp = heap[child + LEFT]!;
    if (tmp === RB_NIL) {
      // The successor is node's right child.
      parent = successor;
      child2 = heap[successor + RIGHT]!;
    } else {
      // The successor is the leftmost node of node's right subtree.
      do {
        parent = successor;
        successor = tmp;
        tmp = heap[tmp + LEFT]!;
      } while (tmp !== RB_NIL);
      child2 = heap[successor + RIGHT]!;
      heap[parent + LEFT] = child2;
      heap[successor + RIGHT] = child;
      heap[child + PARENT] = successor;
    }
    heap[successor + LEFT] = nodeLeft;
    heap[nodeLeft + PARENT] = successor;
    changeChild(heap, root, node, successor, nodeParent);
    if (child2 !== RB_NIL) {
      heap[child2 + PARENT] = parent;
      heap[child2 + RED] = 0;
      rebalance = RB_NIL;
    } else {
      rebalance = heap[successor + RED] === 1 ? RB_NIL : parent;
    }
    heap[successor + PARENT] = nodeParent;
    heap[successor + RED] = nodeRed;
  }
  return rebalance;
}

/** Restores black heights after a black leaf was removed below `parent`. */
function eraseFixup(heap: Int32Array, root: rb_root, parent: number): void {
  const { left: LEFT, right: RIGHT, parent: PARENT, red: RED } = root.layout;
  let node = RB_NIL;
  for (;;) {
    // Loop invariants: node is black (or RB_NIL at first), node is not the root, and every
    // path through parent and node has one black node fewer than the other paths. The sibling
    // therefore exists.
    let sibling = heap[parent + RIGHT]!;
    if (node !== sibling) {
      // node is parent's left child.
      let tmp1: number;
      let tmp2: number;
      if (heap[sibling + RED] === 1) {
        // Case 1: red sibling; rotate left at parent so the sibling becomes black.
        tmp1 = heap[sibling + LEFT]!;
        heap[parent + RIGHT] = tmp1;
        heap[sibling + LEFT] = parent;
        heap[tmp1 + PARENT] = parent;
        heap[tmp1 + RED] = 0;
        rotateSetParents(heap, root, parent, sibling, 1);
        sibling = tmp1;
      }
      tmp1 = heap[sibling + RIGHT]!;
      if (heap[tmp1 + RED] !== 1) {
        tmp2 = heap[sibling + LEFT]!;
        if (heap[tmp2 + RED] !== 1) {
          // Case 2: black sibling with black children; recolor it and move up.
          heap[sibling + PARENT] = parent;
          heap[sibling + RED] = 1;
          if (heap[parent + RED] === 1) {
            heap[parent + RED] = 0;
          } else {
            node = parent;
            parent = heap[node + PARENT]!;
            if (parent !== RB_NIL) continue;
          }
          return;
        }
        // Case 3: the sibling's inner child is red; rotate right at the sibling.
        tmp1 = heap[tmp2 + RIGHT]!;
        heap[sibling + LEFT] = tmp1;
        heap[tmp2 + RIGHT] = sibling;
        heap[parent + RIGHT] = tmp2;
        if (tmp1 !== RB_NIL) {
          heap[tmp1 + PARENT] = sibling;
          heap[tmp1 + RED] = 0;
        }
        tmp1 = sibling;
        sibling = tmp2;
      }
      // Case 4: the sibling's outer child is red; rotate left at parent and recolor.
      tmp2 = heap[sibling + LEFT]!;
      heap[parent + RIGHT] = tmp2;
      heap[sibling + LEFT] = parent;
      heap[tmp1 + PARENT] = sibling;
      heap[tmp1 + RED] = 0;
      if (tmp2 !== RB_NIL) heap[tmp2 + PARENT] = parent;
      rotateSetParents(heap, root, parent, sibling, 0);
      return;
    }
    // node is parent's right child: the mirror image of the cases above.
    sibling = heap[parent + LEFT]!;
    let tmp1: number;
    let tmp2: number;
    if (heap[sibling + RED] === 1) {
      tmp1 = heap[sibling + RIGHT]!;
      heap[parent + LEFT] = tmp1;
      heap[sibling + RIGHT] = parent;
      heap[tmp1 + PARENT] = parent;
      heap[tmp1 + RED] = 0;
      rotateSetParents(heap, root, parent, sibling, 1);
      sibling = tmp1;
    }
    tmp1 = heap[sibling + LEFT]!;
    if (heap[tmp1 + RED] !== 1) {
      tmp2 = heap[sibling + RIGHT]!;
      if (heap[tmp2 + RED] !== 1) {
        heap[sibling + PARENT] = parent;
        heap[sibling + RED] = 1;
        if (heap[parent + RED] === 1) {
          heap[parent + RED] = 0;
        } else {
          node = parent;
          parent = heap[node + PARENT]!;
          if (parent !== RB_NIL) continue;
        }
        return;
      }
      tmp1 = heap[tmp2 + LEFT]!;
      heap[sibling + RIGHT] = tmp1;
      heap[tmp2 + LEFT] = sibling;
      heap[parent + LEFT] = tmp2;
      if (tmp1 !== RB_NIL) {
        heap[tmp1 + PARENT] = sibling;
        heap[tmp1 + RED] = 0;
      }
      tmp1 = sibling;
      sibling = tmp2;
    }
    tmp2 = heap[sibling + RIGHT]!;
    heap[parent + LEFT] = tmp2;
    heap[sibling + RIGHT] = parent;
    heap[tmp1 + PARENT] = sibling;
    heap[tmp1 + RED] = 0;
    if (tmp2 !== RB_NIL) heap[tmp2 + PARENT] = parent;
    rotateSetParents(heap, root, parent, sibling, 0);
    return;
  }
}

/** Rebalances after `rb_link_node`. */
export function rb_insert_color(heap: Int32Array, root: rb_root, node: number): void {
  insertFixup(heap, root, node);
}

/** Rebalances after `rb_link_node`; `leftmost` says the node was linked as the new first node. */
export function rb_insert_color_cached(
  heap: Int32Array,
  root: rb_root_cached,
  node: number,
  leftmost: boolean,
): void {
  if (leftmost) root.rb_leftmost = node;
  insertFixup(heap, root, node);
}

/** Removes `node` from the tree. */
export function rb_erase(heap: Int32Array, root: rb_root, node: number): void {
  const rebalance = eraseUnlink(heap, root, node);
  if (rebalance !== RB_NIL) eraseFixup(heap, root, rebalance);
}

/** Removes `node` from a cached tree, advancing the cached leftmost node if needed. */
export function rb_erase_cached(heap: Int32Array, root: rb_root_cached, node: number): void {
  if (root.rb_leftmost === node) root.rb_leftmost = rb_next(heap, root.layout, node);
  rb_erase(heap, root, node);
}

/** The next node in order, or RB_NIL. */
export function rb_next(heap: Int32Array, L: rb_layout, node: number): number {
  let n = heap[node + L.right]!;
  if (n !== RB_NIL) {
    for (let l = heap[n + L.left]!; l !== RB_NIL; l = heap[n + L.left]!) n = l;
    return n;
  }
  let child = node;
  let parent = heap[child + L.parent]!;
  while (parent !== RB_NIL && child === heap[parent + L.right]) {
    child = parent;
    parent = heap[child + L.parent]!;
  }
  return parent;
}

/** The previous node in order, or RB_NIL. */
export function rb_prev(heap: Int32Array, L: rb_layout, node: number): number {
  let n = heap[node + L.left]!;
  if (n !== RB_NIL) {
    for (let r = heap[n + L.right]!; r !== RB_NIL; r = heap[n + L.right]!) n = r;
    return n;
  }
  let child = node;
  let parent = heap[child + L.parent]!;
  while (parent !== RB_NIL && child === heap[parent + L.left]) {
    child = parent;
    parent = heap[child + L.parent]!;
  }
  return parent;
}

/** The first node in order, or RB_NIL for an empty tree. */
export function rb_first(heap: Int32Array, root: rb_root): number {
  let n = root.rb_node;
  if (n === RB_NIL) return RB_NIL;
  for (let l = heap[n + root.layout.left]!; l !== RB_NIL; l = heap[n + root.layout.left]!) n = l;
  return n;
}

/** The last node in order, or RB_NIL for an empty tree. */
export function rb_last(heap: Int32Array, root: rb_root): number {
  let n = root.rb_node;
  if (n === RB_NIL) return RB_NIL;
  for (let r = heap[n + root.layout.right]!; r !== RB_NIL; r = heap[n + root.layout.right]!) n = r;
  return n;
}

/**
 * Puts `replacement` in `victim`'s place without rebalancing. The caller guarantees that
 * `replacement` sorts exactly where `victim` did.
 */
export function rb_replace_node(
  heap: Int32Array,
  root: rb_root,
  victim: number,
  replacement: number,
): void {
  const L = root.layout;
  const parent = heap[victim + L.parent]!;
  const left = heap[victim + L.left]!;
  const right = heap[victim + L.right]!;
  heap[replacement + L.parent] = parent;
  heap[replacement + L.left] = left;
  heap[replacement + L.right] = right;
  heap[replacement + L.red] = heap[victim + L.red]!;
  if (left !== RB_NIL) heap[left + L.parent] = replacement;
  if (right !== RB_NIL) heap[right + L.parent] = replacement;
  changeChild(heap, root, victim, replacement, parent);
}

/** `rb_replace_node` for a cached tree: the leftmost cache follows the replacement. */
export function rb_replace_node_cached(
  heap: Int32Array,
  root: rb_root_cached,
  victim: number,
  replacement: number,
): void {
  if (root.rb_leftmost === victim) root.rb_leftmost = replacement;
  rb_replace_node(heap, root, victim, replacement);
}

/**
 * Checks the red-black properties and the parent links of a whole tree: the root is black, no
 * red node has a red child, every path has the same number of black nodes, every child points
 * back at its parent, and no node appears twice. Returns a description of the first violation,
 * or null. Read-only; used by the drm_mm invariant checker.
 */
export function checkRbTree(heap: Int32Array, root: rb_root): string | null {
  const { left: LEFT, right: RIGHT, parent: PARENT, red: RED } = root.layout;
  const top = root.rb_node;
  if (top === RB_NIL) return null;
  if (heap[top + PARENT] !== RB_NIL) return "root has a parent";
  if (heap[top + RED] === 1) return "root is red";
  // Iterative post-order walk computing black heights, so deep trees cannot overflow the stack.
  const heights = new Map<number, number>();
  const onStack = new Set<number>([top]);
  const stack: number[] = [top];
  while (stack.length > 0) {
    const n = stack[stack.length - 1]!;
    const l = heap[n + LEFT]!;
    const r = heap[n + RIGHT]!;
    for (const c of [l, r]) {
      if (c !== RB_NIL && !heights.has(c) && !onStack.has(c)) {
        if (heap[c + PARENT] !== n) return `node ${c} does not point back at its parent ${n}`;
        onStack.add(c);
        stack.push(c);
      }
    }
    if (stack[stack.length - 1] !== n) continue;
    if ((l !== RB_NIL && !heights.has(l)) || (r !== RB_NIL && !heights.has(r))) {
      return `node ${n} is reachable twice`;
    }
    stack.pop();
    if (heap[n + RED] === 1 && (heap[l + RED] === 1 || heap[r + RED] === 1)) {
      return `red node ${n} has a red child`;
    }
    const lh = l === RB_NIL ? 0 : heights.get(l)!;
    const rh = r === RB_NIL ? 0 : heights.get(r)!;
    if (lh !== rh) return `black heights differ below node ${n}`;
    heights.set(n, lh + (heap[n + RED] === 1 ? 0 : 1));
  }
  return null;
}
