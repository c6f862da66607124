// Red-black trees for drm_mm, modelled on the kernel's lib/rbtree.c, include/linux/rbtree.h and
// include/linux/rbtree_augmented.h (Linux 6.x).
//
// The tree is intrusive, as in the kernel: the structure that lives in a tree embeds one
// `rb_node` per tree, and `rb_node.owner` plays the role of `rb_entry()`/`container_of()`.
// Callers do their own descent to find the link position (`rb_link_node`), then call
// `rb_insert_color` (or the augmented/cached variants) to rebalance. Rebalancing follows the
// kernel's algorithm case by case, so a tree built by the same sequence of operations has the
// same shape as in the kernel; drm_mm's `DRM_MM_INSERT_ONCE` results depend on that shape.
//
// Left out: the lockless-lookup write ordering (WRITE_ONCE, seqcount latch trees), `rb_add`
// helpers, and the packing of the color into the parent pointer (the color is a boolean here).

/** One link of an intrusive red-black tree. `owner` is the structure that embeds it. */
export class rb_node<T> {
  rb_parent: rb_node<T> | null = null;
  rb_left: rb_node<T> | null = null;
  rb_right: rb_node<T> | null = null;
  /** Red or black; a freshly linked node is red. */
  rb_red = false;
  constructor(readonly owner: T) {}
}

/** The root of a tree. */
export class rb_root<T> {
  rb_node: rb_node<T> | null = null;
}

/** A root that also caches the leftmost (first in order) node, for O(1) `rb_first_cached`. */
export class rb_root_cached<T> extends rb_root<T> {
  rb_leftmost: rb_node<T> | null = null;
}

/**
 * Callbacks that keep a per-node augmented value (a function of the node and its subtree)
 * correct through insertion, erasure and rotations; the kernel's `struct rb_augment_callbacks`.
 */
export interface rb_augment_callbacks<T> {
  /** Recomputes the value from `node` up to (not including) `stop`. */
  propagate(node: rb_node<T> | null, stop: rb_node<T> | null): void;
  /** `replacement` takes `old`'s place in the tree, so it takes over its subtree's value. */
  copy(old: rb_node<T>, replacement: rb_node<T>): void;
  /** `replacement` rotated above `old`: it takes the old subtree value, `old` is recomputed. */
  rotate(old: rb_node<T>, replacement: rb_node<T>): void;
}

/** Links `node` as a red leaf under `parent` (or as the root when `parent` is null). */
export function rb_link_node<T>(
  node: rb_node<T>,
  parent: rb_node<T> | null,
  asLeftChild: boolean,
  root: rb_root<T>,
): void {
  node.rb_parent = parent;
  node.rb_left = null;
  node.rb_right = null;
  node.rb_red = true;
  if (parent === null) root.rb_node = node;
  else if (asLeftChild) parent.rb_left = node;
  else parent.rb_right = node;
}

function changeChild<T>(
  old: rb_node<T>,
  replacement: rb_node<T> | null,
  parent: rb_node<T> | null,
  root: rb_root<T>,
): void {
  if (parent === null) root.rb_node = replacement;
  else if (parent.rb_left === old) parent.rb_left = replacement;
  else parent.rb_right = replacement;
}

/** `replacement` takes `old`'s parent and color; `old` hangs below it with color `red`. */
function rotateSetParents<T>(
  old: rb_node<T>,
  replacement: rb_node<T>,
  root: rb_root<T>,
  red: boolean,
): void {
  const parent = old.rb_parent;
  replacement.rb_parent = parent;
  replacement.rb_red = old.rb_red;
  old.rb_parent = replacement;
  old.rb_red = red;
  changeChild(old, replacement, parent, root);
}

/** Restores the red-black properties after `node` was linked as a red leaf. */
function insertFixup<T>(
  node: rb_node<T>,
  root: rb_root<T>,
  augment: rb_augment_callbacks<T> | null,
): void {
  let parent = node.rb_parent;
  for (;;) {
    // Loop invariant: node is red.
    if (parent === null) {
      node.rb_red = false;
      return;
    }
    if (!parent.rb_red) return;
    // A red parent is never the root, so the grandparent exists.
    const gparent = parent.rb_parent!;
    let tmp = gparent.rb_right;
    if (parent !== tmp) {
      // parent is gparent's left child.
      if (tmp?.rb_red) {
        // Case 1: the uncle is red, so flip colors and continue from the grandparent.
        tmp.rb_red = false;
        parent.rb_red = false;
        node = gparent;
        parent = node.rb_parent;
        node.rb_red = true;
        continue;
      }
      tmp = parent.rb_right;
      if (node === tmp) {
        // Case 2: node is the inner grandchild; rotate left at parent to make it outer.
        tmp = node.rb_left;
        parent.rb_right = tmp;
        node.rb_left = parent;
        if (tmp !== null) {
          tmp.rb_parent = parent;
          tmp.rb_red = false;
        }
        parent.rb_parent = node;
        parent.rb_red = true;
        augment?.rotate(parent, node);
        parent = node;
        tmp = node.rb_right;
      }
      // Case 3: node is the outer grandchild; rotate right at the grandparent.
      gparent.rb_left = tmp;
      parent.rb_right = gparent;
      if (tmp !== null) {
        tmp.rb_parent = gparent;
        tmp.rb_red = false;
      }
      rotateSetParents(gparent, parent, root, true);
      augment?.rotate(gparent, parent);
      return;
    }
    // parent is gparent's right child: the mirror image of the cases above.
    tmp = gparent.rb_left;
    if (tmp?.rb_red) {
      tmp.rb_red = false;
      parent.rb_red = false;
      node = gparent;
      parent = node.rb_parent;
      node.rb_red = true;
      continue;
    }
    tmp = parent.rb_left;
    if (node === tmp) {
      tmp = node.rb_right;
      parent.rb_left = tmp;
      node.rb_right = parent;
      if (tmp !== null) {
        tmp.rb_parent = parent;
        tmp.rb_red = false;
      }
      parent.rb_parent = node;
      parent.rb_red = true;
      augment?.rotate(parent, node);
      parent = node;
      tmp = node.rb_left;
    }
    gparent.rb_right = tmp;
    parent.rb_left = gparent;
    if (tmp !== null) {
      tmp.rb_parent = gparent;
      tmp.rb_red = false;
    }
    rotateSetParents(gparent, parent, root, true);
    augment?.rotate(gparent, parent);
    return;
  }
}

/**
 * Unlinks `node` and returns the node from which black heights must be rebalanced, or null
 * when local recoloring already settled it.
 */
function eraseUnlink<T>(
  node: rb_node<T>,
  root: rb_root<T>,
  augment: rb_augment_callbacks<T> | null,
): rb_node<T> | null {
  const child = node.rb_right;
  let tmp = node.rb_left;
  let rebalance: rb_node<T> | null;
  let parent: rb_node<T> | null;
  if (tmp === null) {
    // At most one child (the right one). If there is one it is red and node is black, so
    // recoloring the child black keeps the black height without rebalancing.
    parent = node.rb_parent;
    changeChild(node, child, parent, root);
    if (child !== null) {
      child.rb_parent = parent;
      child.rb_red = node.rb_red;
      rebalance = null;
    } else {
      rebalance = node.rb_red ? null : parent;
    }
    tmp = parent;
  } else if (child === null) {
    // Exactly one child, the left one: same as above.
    parent = node.rb_parent;
    tmp.rb_parent = parent;
    tmp.rb_red = node.rb_red;
    changeChild(node, tmp, parent, root);
    rebalance = null;
    tmp = parent;
  } else {
    // Two children: the in-order successor takes node's place.
    let successor = child;
    let child2: rb_node<T> | null;
    tmp = child.rb_left;
    if (tmp === null) {
      // The successor is node's right child.
      parent = successor;
      child2 = successor.rb_right;
      augment?.copy(node, successor);
    } else {
      // The successor is the leftmost node of node's right subtree.
      do {
        parent = successor;
        successor = tmp;
        tmp = tmp.rb_left;
      } while (tmp !== null);
      child2 = successor.rb_right;
      parent.rb_left = child2;
      successor.rb_right = child;
      child.rb_parent = successor;
      augment?.copy(node, successor);
      augment?.propagate(parent, successor);
    }
    // Two children, so the left one exists.
    tmp = node.rb_left!;
    successor.rb_left = tmp;
    tmp.rb_parent = successor;
    const nodeParent = node.rb_parent;
    changeChild(node, successor, nodeParent, root);
    if (child2 !== null) {
      child2.rb_parent = parent;
      child2.rb_red = false;
      rebalance = null;
    } else {
      rebalance = successor.rb_red ? null : parent;
    }
    successor.rb_parent = nodeParent;
    successor.rb_red = node.rb_red;
    tmp = successor;
  }
  augment?.propagate(tmp, null);
  return rebalance;
}

/** Restores black heights after a black leaf was removed below `parent`. */
function eraseFixup<T>(
  parent: rb_node<T>,
  root: rb_root<T>,
  augment: rb_augment_callbacks<T> | null,
): void {
  let node: rb_node<T> | null = null;
  let sibling: rb_node<T>;
  let tmp1: rb_node<T> | null;
  let tmp2: rb_node<T> | null;
  for (;;) {
    // Loop invariants: node is black (or null at first), node is not the root, and every
    // path through parent and node has one black node fewer than the other paths.
    // The sibling exists because the other side has a larger black height.
    sibling = parent.rb_right!;
    if (node !== sibling) {
      // node is parent's left child.
      if (sibling.rb_red) {
        // Case 1: red sibling; rotate left at parent so the sibling becomes black.
        tmp1 = sibling.rb_left!;
        parent.rb_right = tmp1;
        sibling.rb_left = parent;
        tmp1.rb_parent = parent;
        tmp1.rb_red = false;
        rotateSetParents(parent, sibling, root, true);
        augment?.rotate(parent, sibling);
        sibling = tmp1;
      }
      tmp1 = sibling.rb_right;
      if (tmp1 === null || !tmp1.rb_red) {
        tmp2 = sibling.rb_left;
        if (tmp2 === null || !tmp2.rb_red) {
          // Case 2: black sibling with black children; recolor it and move up.
          sibling.rb_parent = parent;
          sibling.rb_red = true;
          if (parent.rb_red) {
            parent.rb_red = false;
          } else {
            node = parent;
            const up = node.rb_parent;
            if (up !== null) {
              parent = up;
              continue;
            }
          }
          return;
        }
        // Case 3: the sibling's inner child is red; rotate right at the sibling.
        tmp1 = tmp2.rb_right;
        sibling.rb_left = tmp1;
        tmp2.rb_right = sibling;
        parent.rb_right = tmp2;
        if (tmp1 !== null) {
          tmp1.rb_parent = sibling;
          tmp1.rb_red = false;
        }
        augment?.rotate(sibling, tmp2);
        tmp1 = sibling;
        sibling = tmp2;
      }
      // Case 4: the sibling's outer child is red; rotate left at parent and recolor.
      tmp2 = sibling.rb_left;
      parent.rb_right = tmp2;
      sibling.rb_left = parent;
      tmp1.rb_parent = sibling;
      tmp1.rb_red = false;
      if (tmp2 !== null) tmp2.rb_parent = parent;
      rotateSetParents(parent, sibling, root, false);
      augment?.rotate(parent, sibling);
      return;
    }
    // node is parent's right child: the mirror image of the cases above.
    sibling = parent.rb_left!;
    if (sibling.rb_red) {
      tmp1 = sibling.rb_right!;
      parent.rb_left = tmp1;
      sibling.rb_right = parent;
      tmp1.rb_parent = parent;
      tmp1.rb_red = false;
      rotateSetParents(parent, sibling, root, true);
      augment?.rotate(parent, sibling);
      sibling = tmp1;
    }
    tmp1 = sibling.rb_left;
    if (tmp1 === null || !tmp1.rb_red) {
      tmp2 = sibling.rb_right;
      if (tmp2 === null || !tmp2.rb_red) {
        sibling.rb_parent = parent;
        sibling.rb_red = true;
        if (parent.rb_red) {
          parent.rb_red = false;
        } else {
          node = parent;
          const up = node.rb_parent;
          if (up !== null) {
            parent = up;
            continue;
          }
        }
        return;
      }
      tmp1 = tmp2.rb_left;
      sibling.rb_right = tmp1;
      tmp2.rb_left = sibling;
      parent.rb_left = tmp2;
      if (tmp1 !== null) {
        tmp1.rb_parent = sibling;
        tmp1.rb_red = false;
      }
      augment?.rotate(sibling, tmp2);
      tmp1 = sibling;
      sibling = tmp2;
    }
    tmp2 = sibling.rb_right;
    parent.rb_left = tmp2;
    sibling.rb_right = parent;
    tmp1.rb_parent = sibling;
    tmp1.rb_red = false;
    if (tmp2 !== null) tmp2.rb_parent = parent;
    rotateSetParents(parent, sibling, root, false);
    augment?.rotate(parent, sibling);
    return;
  }
}

/** Rebalances after `rb_link_node`. */
export function rb_insert_color<T>(node: rb_node<T>, root: rb_root<T>): void {
  insertFixup(node, root, null);
}

/** Rebalances after `rb_link_node`; `leftmost` says the node was linked as the new first node. */
export function rb_insert_color_cached<T>(
  node: rb_node<T>,
  root: rb_root_cached<T>,
  leftmost: boolean,
): void {
  if (leftmost) root.rb_leftmost = node;
  insertFixup(node, root, null);
}

/**
 * Rebalances after `rb_link_node` in an augmented tree. The caller must already have updated
 * the augmented values on the path from the root to the new node, as the kernel requires.
 */
export function rb_insert_augmented<T>(
  node: rb_node<T>,
  root: rb_root<T>,
  augment: rb_augment_callbacks<T>,
): void {
  insertFixup(node, root, augment);
}

/** Removes `node` from the tree. */
export function rb_erase<T>(node: rb_node<T>, root: rb_root<T>): void {
  const rebalance = eraseUnlink(node, root, null);
  if (rebalance !== null) eraseFixup(rebalance, root, null);
}

/** Removes `node` from a cached tree, advancing the cached leftmost node if needed. */
export function rb_erase_cached<T>(node: rb_node<T>, root: rb_root_cached<T>): void {
  if (root.rb_leftmost === node) root.rb_leftmost = rb_next(node);
  rb_erase(node, root);
}

/** Removes `node` from an augmented tree, keeping the augmented values correct. */
export function rb_erase_augmented<T>(
  node: rb_node<T>,
  root: rb_root<T>,
  augment: rb_augment_callbacks<T>,
): void {
  const rebalance = eraseUnlink(node, root, augment);
  if (rebalance !== null) eraseFixup(rebalance, root, augment);
}

/** The next node in order, or null. */
export function rb_next<T>(node: rb_node<T>): rb_node<T> | null {
  let n = node.rb_right;
  if (n !== null) {
    while (n.rb_left !== null) n = n.rb_left;
    return n;
  }
  let child = node;
  let parent = child.rb_parent;
  while (parent !== null && child === parent.rb_right) {
    child = parent;
    parent = child.rb_parent;
  }
  return parent;
}

/** The previous node in order, or null. */
export function rb_prev<T>(node: rb_node<T>): rb_node<T> | null {
  let n = node.rb_left;
  if (n !== null) {
    while (n.rb_right !== null) n = n.rb_right;
    return n;
  }
  let child = node;
  let parent = child.rb_parent;
  while (parent !== null && child === parent.rb_left) {
    child = parent;
    parent = child.rb_parent;
  }
  return parent;
}

/** The first node in order, or null for an empty tree. */
export function rb_first<T>(root: rb_root<T>): rb_node<T> | null {
  let n = root.rb_node;
  if (n === null) return null;
  while (n.rb_left !== null) n = n.rb_left;
  return n;
}

/** The last node in order, or null for an empty tree. */
export function rb_last<T>(root: rb_root<T>): rb_node<T> | null {
  let n = root.rb_node;
  if (n === null) return null;
  while (n.rb_right !== null) n = n.rb_right;
  return n;
}

/**
 * Puts `replacement` in `victim`'s place without rebalancing. The caller guarantees that
 * `replacement` sorts exactly where `victim` did and carries the same augmented value.
 */
export function rb_replace_node<T>(
  victim: rb_node<T>,
  replacement: rb_node<T>,
  root: rb_root<T>,
): void {
  const parent = victim.rb_parent;
  replacement.rb_parent = parent;
  replacement.rb_left = victim.rb_left;
  replacement.rb_right = victim.rb_right;
  replacement.rb_red = victim.rb_red;
  if (victim.rb_left !== null) victim.rb_left.rb_parent = replacement;
  if (victim.rb_right !== null) victim.rb_right.rb_parent = replacement;
  changeChild(victim, replacement, parent, root);
}

/** `rb_replace_node` for a cached tree: the leftmost cache follows the replacement. */
export function rb_replace_node_cached<T>(
  victim: rb_node<T>,
  replacement: rb_node<T>,
  root: rb_root_cached<T>,
): void {
  if (root.rb_leftmost === victim) root.rb_leftmost = replacement;
  rb_replace_node(victim, replacement, root);
}

/**
 * Checks the red-black properties and the parent links of a whole tree: the root is black, no
 * red node has a red child, every path has the same number of black nodes, and every child
 * points back at its parent. Returns a description of the first violation, or null. Read-only;
 * used by the drm_mm invariant checker.
 */
export function checkRbTree<T>(root: rb_root<T>): string | null {
  const top = root.rb_node;
  if (top === null) return null;
  if (top.rb_parent !== null) return "root has a parent";
  if (top.rb_red) return "root is red";
  // Iterative post-order walk computing black heights, so deep trees cannot overflow the stack.
  const heights = new Map<rb_node<T>, number>();
  const stack: rb_node<T>[] = [top];
  while (stack.length > 0) {
    const n = stack[stack.length - 1]!;
    const l = n.rb_left;
    const r = n.rb_right;
    if (l !== null && !heights.has(l)) {
      if (l.rb_parent !== n) return "left child does not point back at its parent";
      stack.push(l);
      continue;
    }
    if (r !== null && !heights.has(r)) {
      if (r.rb_parent !== n) return "right child does not point back at its parent";
      stack.push(r);
      continue;
    }
    stack.pop();
    if (n.rb_red && (l?.rb_red || r?.rb_red)) return "red node has a red child";
    const lh = l === null ? 0 : heights.get(l)!;
    const rh = r === null ? 0 : heights.get(r)!;
    if (lh !== rh) return "black heights differ";
    heights.set(n, lh + (n.rb_red ? 0 : 1));
  }
  return null;
}
