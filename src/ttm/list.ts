// Circular doubly linked lists with a sentinel head (include/linux/list.h), as TTM's LRU lists,
// bulk-move ranges and cursor hitches need them: O(1) move-to-tail, cutting and splicing a
// range, and entries that stay valid while the list changes around them.

/** struct list_head: embedded in an entry, or used alone as the sentinel of a list. */
export class list_head<T = unknown> {
  prev: list_head<T> = this;
  next: list_head<T> = this;

  /** The object this link is embedded in; null for a sentinel. */
  constructor(readonly owner: T | null = null) {}
}

/** INIT_LIST_HEAD(). */
export function INIT_LIST_HEAD(head: list_head<unknown>): void {
  head.prev = head;
  head.next = head;
}

function insertBetween<T>(entry: list_head<T>, prev: list_head<T>, next: list_head<T>): void {
  next.prev = entry;
  entry.next = next;
  entry.prev = prev;
  prev.next = entry;
}

/** list_add(): inserts `entry` right after `head`. */
export function list_add<T>(entry: list_head<T>, head: list_head<T>): void {
  insertBetween(entry, head, head.next);
}

/** list_add_tail(): inserts `entry` right before `head` (at the tail of the list). */
export function list_add_tail<T>(entry: list_head<T>, head: list_head<T>): void {
  insertBetween(entry, head.prev, head);
}

/** list_del_init(): unlinks `entry` and leaves it pointing at itself. */
export function list_del_init(entry: list_head<unknown>): void {
  entry.prev.next = entry.next;
  entry.next.prev = entry.prev;
  INIT_LIST_HEAD(entry);
}

/** list_move_tail(): moves `entry` to the tail of `head`'s list. */
export function list_move_tail<T>(entry: list_head<T>, head: list_head<T>): void {
  list_del_init(entry);
  list_add_tail(entry, head);
}

/** list_move(): moves `entry` right after `head`. */
export function list_move<T>(entry: list_head<T>, head: list_head<T>): void {
  list_del_init(entry);
  list_add(entry, head);
}

/**
 * list_bulk_move_tail(): moves the range first..last (inclusive, in list order) to the tail of
 * `head`'s list.
 */
export function list_bulk_move_tail<T>(
  head: list_head<T>,
  first: list_head<T>,
  last: list_head<T>,
): void {
  first.prev.next = last.next;
  last.next.prev = first.prev;
  head.prev.next = first;
  first.prev = head.prev;
  last.next = head;
  head.prev = last;
}

/** list_empty(). */
export function list_empty(head: list_head<unknown>): boolean {
  return head.next === head;
}

/** list_is_singular(). */
export function list_is_singular(head: list_head<unknown>): boolean {
  return !list_empty(head) && head.next === head.prev;
}

/** list_is_linked(): whether `entry` is on some list. */
export function list_is_linked(entry: list_head<unknown>): boolean {
  return entry.next !== entry;
}

/** The entries of a list, head to tail (snapshot; safe to modify the list while using it). */
export function list_entries<T>(head: list_head<T>): T[] {
  const out: T[] = [];
  for (let e = head.next; e !== head; e = e.next) if (e.owner !== null) out.push(e.owner);
  return out;
}

/** Number of links on the list (every link, sentinels of cursors included). */
export function list_count_nodes(head: list_head<unknown>): number {
  let n = 0;
  for (let e = head.next; e !== head; e = e.next) n++;
  return n;
}
