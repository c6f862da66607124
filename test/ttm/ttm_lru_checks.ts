// Read-only consistency checks of TTM's LRU lists, bulk-move ranges and accounting, shared by
// the fault-path, regression and property tests. They never change state and never take steps:
// call them between steps (from a test task's own code, or from a scheduler hook).

import type { list_head } from "../../src/ttm/list.js";
import type { ttm_buffer_object } from "../../src/ttm/ttm_bo.js";
import type { ttm_device } from "../../src/ttm/ttm_device.js";
import { memTypeName, TTM_MAX_BO_PRIORITY } from "../../src/ttm/ttm_placement.js";
import {
  type ttm_lru_bulk_move,
  type ttm_lru_item,
  type ttm_resource,
  ttm_resource_unevictable,
} from "../../src/ttm/ttm_resource.js";

/** One list of the device: a manager's LRU of one priority, or `unevictable`. */
export interface LruList {
  readonly name: string;
  readonly head: list_head<ttm_lru_item>;
  /** The memory type whose manager owns the list; null for `unevictable`. */
  readonly memType: number | null;
  readonly priority: number;
}

/** Every list of `bdev`: each used manager's LRUs, then `unevictable`. */
export function deviceLists(bdev: ttm_device): LruList[] {
  const lists: LruList[] = [];
  bdev.man_drv.forEach((man, type) => {
    if (man === null) return;
    for (let prio = 0; prio < TTM_MAX_BO_PRIORITY; prio++)
      lists.push({
        name: `${memTypeName(type)}.lru[${prio}]`,
        head: man.lru[prio]!,
        memType: type,
        priority: prio,
      });
  });
  lists.push({ name: "unevictable", head: bdev.unevictable, memType: null, priority: -1 });
  return lists;
}

/**
 * Walks a list with a bound, checking that prev and next agree. Returns the resources on it
 * in order, or the problem found (a corrupted or endless list).
 */
export function walkList(
  list: LruList,
  limit = 100_000,
): { resources: ttm_resource[]; problem: string | null } {
  const resources: ttm_resource[] = [];
  let prev = list.head;
  let e = list.head.next;
  for (let n = 0; e !== list.head; n++) {
    if (n > limit) return { resources, problem: `${list.name} does not end (corrupted links)` };
    if (e.prev !== prev)
      return { resources, problem: `${list.name}: list corruption, next->prev != prev` };
    const item = e.owner;
    if (item === null) return { resources, problem: `${list.name}: reaches another list's head` };
    if (item.type === "resource") resources.push(item.res!);
    prev = e;
    e = e.next;
  }
  if (list.head.prev !== prev) return { resources, problem: `${list.name}: head->prev is stale` };
  return { resources, problem: null };
}

/** Where each resource on the device's lists is, and what is wrong with the lists themselves. */
export interface LruCensus {
  readonly problems: string[];
  /** Each resource with the lists it is on (once per occurrence). */
  readonly on: Map<ttm_resource, LruList[]>;
}

export function lruCensus(bdev: ttm_device): LruCensus {
  const problems: string[] = [];
  const on = new Map<ttm_resource, LruList[]>();
  for (const list of deviceLists(bdev)) {
    const { resources, problem } = walkList(list);
    if (problem !== null) problems.push(problem);
    for (const res of resources) {
      const where = on.get(res) ?? [];
      where.push(list);
      on.set(res, where);
    }
  }
  return { problems, on };
}

/**
 * LRU membership of live BOs: each BO's resource is on exactly one list, the one
 * ttm_resource_move_to_lru_tail would put it on (its manager's LRU of the BO's priority, or
 * `unevictable` when pinned or swapped), and it points back at the BO.
 */
export function membershipProblems(census: LruCensus, live: Iterable<ttm_buffer_object>): string[] {
  const problems: string[] = [];
  for (const bo of live) {
    const res = bo.resource;
    if (res === null) continue;
    const lists = census.on.get(res) ?? [];
    if (res.bo !== bo) problems.push(`${bo.name}: its resource points at ${res.bo?.name}`);
    if (lists.length !== 1) {
      problems.push(
        `${bo.name}: its ${memTypeName(res.mem_type)} resource is on ${lists.length} lists (${lists.map((l) => l.name).join(", ")})`,
      );
      continue;
    }
    const list = lists[0]!;
    const unevictable = ttm_resource_unevictable(res, bo);
    if (unevictable && list.memType !== null)
      problems.push(`${bo.name}: unevictable but on ${list.name}`);
    if (!unevictable && (list.memType !== res.mem_type || list.priority !== bo.priority))
      problems.push(`${bo.name}: ${memTypeName(res.mem_type)} resource on ${list.name}`);
  }
  return problems;
}

/**
 * Pool usage: every manager's `usage` equals the sizes of the resources of its type on the
 * lists (every allocated resource is on exactly one list, live BO, ghost or zombie alike).
 */
export function usageProblems(bdev: ttm_device, census: LruCensus): string[] {
  const problems: string[] = [];
  const sums = new Map<number, number>();
  for (const [res, lists] of census.on) {
    if (lists.length !== 1)
      problems.push(
        `a ${memTypeName(res.mem_type)} resource of ${res.bo?.name} is on ${lists.length} lists`,
      );
    sums.set(res.mem_type, (sums.get(res.mem_type) ?? 0) + res.size);
  }
  bdev.man_drv.forEach((man, type) => {
    if (man === null) return;
    const sum = sums.get(type) ?? 0;
    if (man.usage !== sum)
      problems.push(`${memTypeName(type)}: usage ${man.usage}, but its resources add up to ${sum}`);
  });
  return problems;
}

/**
 * The bulk-move invariant: every non-empty range starts and ends at a resource that is live
 * (in `live`), evictable, of the range's type, on that type's LRU, with `first` not after
 * `last`; and every resource in between belongs to the bulk. A range pointing anywhere else
 * (a swapped resource on `unevictable`, a freed one) is a dangling pointer.
 */
export function bulkProblems(
  bdev: ttm_device,
  bulk: ttm_lru_bulk_move,
  live: ReadonlySet<ttm_resource>,
): string[] {
  const problems: string[] = [];
  bulk.pos.forEach((byPrio, type) => {
    byPrio.forEach((pos, prio) => {
      const where = `bulk ${memTypeName(type)}[${prio}]`;
      if (pos.first === null && pos.last === null) return;
      if (pos.first === null || pos.last === null) {
        problems.push(`${where}: only one of first/last is set`);
        return;
      }
      for (const [end, res] of [
        ["first", pos.first],
        ["last", pos.last],
      ] as const) {
        const bo = res.bo;
        if (!live.has(res))
          problems.push(`${where}: ${end} points at a freed resource (was ${bo?.name})`);
        else if (bo !== null && ttm_resource_unevictable(res, bo))
          problems.push(`${where}: ${end} points at ${bo.name}, which is swapped or pinned`);
      }
      const man = bdev.man_drv[type];
      if (man === null || man === undefined) return;
      const { resources } = walkList({
        name: "lru",
        head: man.lru[prio]!,
        memType: type,
        priority: prio,
      });
      const i = resources.indexOf(pos.first);
      const j = resources.indexOf(pos.last);
      if (i < 0 || j < 0) {
        problems.push(`${where}: first or last is not on the ${memTypeName(type)} LRU`);
        return;
      }
      if (i > j) problems.push(`${where}: first comes after last`);
      for (const res of resources.slice(i, j + 1))
        if (res.bo?.bulk_move !== bulk)
          problems.push(`${where}: ${res.bo?.name} lies inside the range but is not in the bulk`);
    });
  });
  return problems;
}
