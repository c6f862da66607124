// The scenario loader against SCENARIO-FORMAT.md: what a valid document becomes, the one-line
// error (file, JSON path, problem) for each kind of bad input, and the content hash.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { contentHash, loadScenario, ScenarioError } from "../../src/scenarios/loader.js";
import type { Scenario } from "../../src/scenarios/scenario.js";

const FILE = "scenarios/test.json";

type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };
type Doc = { readonly [key: string]: Json };

/** A small valid scenario: P maps buffer A and stores to it while a kernel thread moves A. */
function base(): Doc {
  return {
    format: "faultline/scenario@1",
    name: "base",
    protocol: "ttm",
    buffers: [{ name: "A", pages: 2, placement: "vram" }],
    processes: ["P"],
    threads: [
      {
        name: "T",
        process: "P",
        ops: [
          { op: "mmap", buffer: "A", as: "m" },
          { op: "store", map: "m", page: 1, value: 7 },
        ],
      },
      { name: "M", ops: [{ op: "move", buffer: "A", to: "system" }] },
    ],
  };
}

/** The base scenario with top-level fields replaced (or, with `undefined`, removed). */
function doc(patch: { readonly [key: string]: Json | undefined } = {}): string {
  const out: { [key: string]: Json } = { ...base() };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete out[key];
    else out[key] = value;
  }
  return JSON.stringify(out, null, 2);
}

/** The base scenario with `ops` run by thread T of process P, and the mover M after it. */
function userOps(...ops: Json[]): string {
  return doc({
    threads: [
      { name: "T", process: "P", ops },
      { name: "M", ops: [{ op: "move", buffer: "A", to: "system" }] },
    ],
  });
}

const MMAP = { op: "mmap", buffer: "A", as: "m" } as const;

function load(text: string): Scenario {
  return loadScenario(text, FILE);
}

function problem(text: string): ScenarioError {
  try {
    load(text);
  } catch (e) {
    if (e instanceof ScenarioError) return e;
    throw e;
  }
  throw new Error("expected a ScenarioError, but the scenario loaded");
}

describe("loadScenario: valid documents", () => {
  it("fills in every default of a minimal scenario", () => {
    const text = doc({ buffers: undefined, processes: undefined, threads: [] }).replace(
      '"threads": []',
      '"threads": [{ "name": "K", "ops": [{ "op": "create", "buffer": "B", "pages": 1, "placement": "tt" }] }]',
    );
    const expected: Scenario = {
      name: "base",
      protocol: { name: "ttm", prefault: 16, pipelined: true },
      memory: { system: 64, tt: 32, vram: 32, visibleVram: 32 },
      wordsPerPage: 1,
      buffers: [],
      processes: [],
      setup: [],
      threads: [{ name: "K", ops: [{ op: "create", buffer: "B", pages: 1, placement: "tt" }] }],
      expected: null,
      explore: { strategy: "exhaustive" },
      source: { file: FILE, hash: contentHash(text) },
    };
    const scenario = load(text);
    expect(scenario).toEqual(expected);
    expect(scenario).not.toHaveProperty("description");
    expect(scenario.threads[0]).not.toHaveProperty("process");
  });

  it("loads a complete scenario with every op and fills in per-op defaults", () => {
    const scenario = load(
      JSON.stringify({
        format: "faultline/scenario@1",
        name: "everything-0",
        description: "one of each",
        protocol: { name: "lock-all-mmap", order: "sorted" },
        memory: { system: 8, tt: 4, vram: 6 },
        wordsPerPage: 4,
        buffers: [
          { name: "A", pages: 2, placement: "vram", pinned: true },
          { name: "B", pages: 1, placement: "system" },
        ],
        processes: ["P"],
        setup: [
          { op: "mmap", process: "P", buffer: "A", as: "a" },
          { op: "fork", process: "P", child: "C" },
          { op: "kernel-write", buffer: "B", page: 0, value: -3 },
        ],
        threads: [
          {
            name: "T1",
            process: "P",
            ops: [
              { op: "store", map: "a", page: 1, value: 5, word: 3 },
              { op: "load", map: "a", page: 1, expect: 5 },
              { op: "load", map: "a", page: 0 },
              { op: "read-into", map: "a", page: 0, buffer: "B", bufferPage: 0 },
              { op: "munmap", map: "a" },
              { op: "exit" },
            ],
          },
          { name: "T2", process: "C", ops: [{ op: "load", map: "a@C", page: 1, word: 2 }] },
          {
            name: "K",
            ops: [
              { op: "create", buffer: "N", pages: 3, placement: "tt" },
              { op: "move", buffer: "N", to: "vram" },
              { op: "evict", buffer: "A" },
              { op: "swapout", buffer: "B" },
              { op: "gpu-write", buffer: "N", page: 2, value: 1 },
              { op: "gpu-read", buffer: "N", page: 2 },
              { op: "wait-idle", buffer: "N" },
              { op: "kernel-read", buffer: "N", page: 1, word: 1 },
              { op: "reserve", buffers: ["A", "N"] },
              { op: "unreserve", buffers: ["A", "N"] },
              { op: "reserve", buffers: ["N"], ticket: true },
              { op: "unreserve", buffers: ["N"] },
              { op: "destroy", buffer: "N" },
            ],
          },
        ],
        expect: "lock-order",
        explore: { strategy: "bounded", preemptionBound: 2, depth: 500 },
      }),
    );
    expect(scenario.description).toBe("one of each");
    expect(scenario.protocol).toEqual({
      name: "lock-all-mmap",
      order: "sorted",
      recheck: false,
      objectFirst: false,
    });
    expect(scenario.memory).toEqual({ system: 8, tt: 4, vram: 6, visibleVram: 6 });
    expect(scenario.buffers).toEqual([
      { name: "A", pages: 2, placement: "vram", pinned: true },
      { name: "B", pages: 1, placement: "system", pinned: false },
    ]);
    expect(scenario.setup).toEqual([
      { op: "mmap", process: "P", buffer: "A", as: "a" },
      { op: "fork", process: "P", child: "C" },
      { op: "kernel-write", buffer: "B", page: 0, value: -3, word: 0 },
    ]);
    const t1 = scenario.threads[0]!;
    expect(t1.ops[0]).toEqual({ op: "store", map: "a", page: 1, value: 5, word: 3 });
    expect(t1.ops[1]).toEqual({ op: "load", map: "a", page: 1, word: 0, expect: 5 });
    expect(t1.ops[2]).toEqual({ op: "load", map: "a", page: 0, word: 0 });
    expect(t1.ops[2]).not.toHaveProperty("expect");
    const k = scenario.threads[2]!;
    expect(k.ops[4]).toEqual({ op: "gpu-write", buffer: "N", page: 2, value: 1, word: 0 });
    expect(k.ops[8]).toEqual({ op: "reserve", buffers: ["A", "N"], ticket: false });
    expect(k.ops[10]).toEqual({ op: "reserve", buffers: ["N"], ticket: true });
    expect(scenario.expected).toEqual(["lock-order"]);
    expect(scenario.explore).toEqual({ strategy: "bounded", preemptionBound: 2, depth: 500 });
  });

  it.each([
    ["nopage", { name: "nopage", truncateCheck: true }],
    ["nopfn", { name: "nopfn" }],
    ["insert-pfn", { name: "insert-pfn" }],
    ["remap-in-fault", { name: "remap-in-fault" }],
    [
      "lock-all-mmap",
      { name: "lock-all-mmap", order: "registration", recheck: false, objectFirst: false },
    ],
    [
      { name: "nopage", truncateCheck: false },
      { name: "nopage", truncateCheck: false },
    ],
    [
      { name: "ttm", prefault: 1 },
      { name: "ttm", prefault: 1, pipelined: true },
    ],
    [
      { name: "ttm", pipelined: false },
      { name: "ttm", prefault: 16, pipelined: false },
    ],
    [
      { name: "lock-all-mmap", recheck: true },
      { name: "lock-all-mmap", order: "registration", recheck: true, objectFirst: false },
    ],
  ] as const)("protocol %j loads as %j", (protocol, expected) => {
    expect(load(doc({ protocol })).protocol).toEqual(expected);
  });

  it.each([
    ["ok", "ok"],
    ["deadlock", ["deadlock"]],
    [
      ["stale-mapping", "lost-write"],
      ["stale-mapping", "lost-write"],
    ],
  ] as const)("expect %j is kept as %j", (given, expected) => {
    expect(load(doc({ expect: given })).expected).toEqual(expected);
  });

  it("keeps every explore option given and omits the others", () => {
    const explore = { strategy: "pct", executions: 100, seed: 0, depth: 3, preemptionBound: 0 };
    expect(load(doc({ explore })).explore).toEqual(explore);
    expect(load(doc({ explore: { strategy: "random" } })).explore).toEqual({ strategy: "random" });
  });

  it("takes visibleVram from vram when it is absent, and a smaller one when given", () => {
    expect(load(doc({ memory: { vram: 8 } })).memory).toEqual({
      system: 64,
      tt: 32,
      vram: 8,
      visibleVram: 8,
    });
    expect(load(doc({ memory: { vram: 8, visibleVram: 2, tt: 0 } })).memory.visibleVram).toBe(2);
  });

  it("accepts negative values and large safe integers", () => {
    const scenario = load(
      userOps(MMAP, { op: "store", map: "m", page: 0, value: -9007199254740991 }),
    );
    expect(scenario.threads[0]!.ops[1]).toMatchObject({ value: -9007199254740991 });
  });

  it("accepts a buffer that a later op of another thread creates", () => {
    const text = doc({
      buffers: [],
      threads: [
        {
          name: "T",
          process: "P",
          ops: [
            { op: "mmap", buffer: "N", as: "n" },
            { op: "load", map: "n", page: 3 },
          ],
        },
        { name: "K", ops: [{ op: "create", buffer: "N", pages: 4, placement: "system" }] },
      ],
    });
    expect(load(text).threads).toHaveLength(2);
  });

  it("names fork copies m@child, for setup forks and thread forks, and their children", () => {
    const text = doc({
      setup: [
        { op: "mmap", process: "P", buffer: "A", as: "m" },
        { op: "fork", process: "P", child: "C" },
        { op: "store", process: "C", map: "m@C", page: 0, value: 2 },
      ],
      threads: [
        { name: "T", process: "P", ops: [{ op: "mmap", buffer: "A", as: "late" }] },
        {
          name: "TC",
          process: "C",
          ops: [
            { op: "store", map: "m@C", page: 0, value: 1 },
            { op: "fork", child: "D" },
          ],
        },
        {
          name: "TD",
          process: "D",
          ops: [
            { op: "load", map: "m@C@D", page: 1 },
            { op: "fork", child: "E" },
          ],
        },
        { name: "TE", process: "E", ops: [{ op: "munmap", map: "m@C@D@E" }] },
      ],
    });
    expect(load(text).threads).toHaveLength(4);
  });

  it("ignores a byte-order mark but hashes it", () => {
    const text = `\uFEFF${doc()}`;
    expect(load(text).source).toEqual({ file: FILE, hash: contentHash(text) });
    expect(contentHash(text)).not.toBe(contentHash(doc()));
  });
});

interface BadCase {
  readonly title: string;
  readonly text: string;
  readonly path: string;
  /** A part of the detail, or a pattern it matches. */
  readonly detail: string | RegExp;
}

const kernelOps = (...ops: Json[]): string => doc({ threads: [{ name: "K", ops }] });

const BAD: readonly BadCase[] = [
  // The document as a whole.
  {
    title: "not JSON",
    text: '{ "format": ',
    path: "",
    detail: /^not valid JSON: .*line 1, column 13/,
  },
  {
    title: "not JSON, with the position as line and column",
    text: '{\n  "format": "faultline/scenario@1",\n  "name": "x",\n}',
    path: "",
    detail: /not valid JSON: .*\(line 4, column 1\)/,
  },
  { title: "empty text", text: "", path: "", detail: "not valid JSON" },
  {
    title: "a top-level array",
    text: "[]",
    path: "",
    detail: "expected the scenario as an object, got an array",
  },
  { title: "a top-level string", text: '"x"', path: "", detail: 'got the string "x"' },
  {
    title: "no format",
    text: doc({ format: undefined }),
    path: "",
    detail: 'missing required field "format"',
  },
  {
    title: "another format",
    text: doc({ format: "faultline/scenario@2" }),
    path: "format",
    detail: 'expected "faultline/scenario@1", got the string "faultline/scenario@2"',
  },
  {
    title: "an unknown top-level field",
    text: doc({ foo: 1 }),
    path: "foo",
    detail: 'unknown field "foo"; the scenario allows "format", "name"',
  },
  {
    title: "an unknown field that is not an identifier",
    text: doc({ "a b": 1 }),
    path: '["a b"]',
    detail: 'unknown field "a b"',
  },
  {
    title: "an empty scenario",
    text: '{ "format": "faultline/scenario@1" }',
    path: "",
    detail: 'missing required field "name"',
  },
  // name, description.
  {
    title: "no name",
    text: doc({ name: undefined }),
    path: "",
    detail: 'missing required field "name" of the scenario',
  },
  {
    title: "a name with capitals",
    text: doc({ name: "Base" }),
    path: "name",
    detail: '"Base" is not a valid scenario name',
  },
  {
    title: "a name starting with -",
    text: doc({ name: "-x" }),
    path: "name",
    detail: "not a valid scenario name",
  },
  {
    title: "a name that is a number",
    text: doc({ name: 3 }),
    path: "name",
    detail: "expected a string, got the number 3",
  },
  {
    title: "a description that is not a string",
    text: doc({ description: ["x"] }),
    path: "description",
    detail: "expected a string, got an array",
  },
  // protocol.
  {
    title: "no protocol",
    text: doc({ protocol: undefined }),
    path: "",
    detail: 'missing required field "protocol"',
  },
  {
    title: "an unknown protocol",
    text: doc({ protocol: "magic" }),
    path: "protocol",
    detail:
      'expected one of "lock-all-mmap", "nopage", "nopfn", "insert-pfn", "remap-in-fault", "ttm", got "magic"',
  },
  {
    title: "a protocol that is a number",
    text: doc({ protocol: 1 }),
    path: "protocol",
    detail: "expected a protocol name or",
  },
  {
    title: "a protocol object without a name",
    text: doc({ protocol: { order: "sorted" } }),
    path: "protocol",
    detail: 'missing required field "name" of the protocol',
  },
  {
    title: "an unknown protocol name in an object",
    text: doc({ protocol: { name: "tm" } }),
    path: "protocol.name",
    detail: 'got "tm"',
  },
  {
    title: "an option of another protocol",
    text: doc({ protocol: { name: "nopfn", prefault: 4 } }),
    path: "protocol.prefault",
    detail: 'unknown field "prefault"; the nopfn protocol allows "name"',
  },
  {
    title: "an unknown option",
    text: doc({ protocol: { name: "ttm", prefetch: 4 } }),
    path: "protocol.prefetch",
    detail: 'the ttm protocol allows "name", "prefault", "pipelined"',
  },
  {
    title: "a boolean option that is a string",
    text: doc({ protocol: { name: "ttm", pipelined: "yes" } }),
    path: "protocol.pipelined",
    detail: 'expected true or false, got the string "yes"',
  },
  {
    title: "a boolean option that is a number",
    text: doc({ protocol: { name: "nopage", truncateCheck: 1 } }),
    path: "protocol.truncateCheck",
    detail: "expected true or false, got the number 1",
  },
  {
    title: "prefault 0",
    text: doc({ protocol: { name: "ttm", prefault: 0 } }),
    path: "protocol.prefault",
    detail: "must be at least 1, got 0",
  },
  {
    title: "an unknown lock order",
    text: doc({ protocol: { name: "lock-all-mmap", order: "random" } }),
    path: "protocol.order",
    detail: 'expected one of "registration", "sorted"',
  },
  // memory, wordsPerPage.
  {
    title: "memory that is not an object",
    text: doc({ memory: 64 }),
    path: "memory",
    detail: "expected memory as an object, got the number 64",
  },
  {
    title: "an unknown memory pool",
    text: doc({ memory: { gart: 4 } }),
    path: "memory.gart",
    detail: 'memory allows "system", "tt", "vram", "visibleVram"',
  },
  {
    title: "no system memory",
    text: doc({ memory: { system: 0 } }),
    path: "memory.system",
    detail: "must be at least 1, got 0",
  },
  {
    title: "a negative pool",
    text: doc({ memory: { tt: -1 } }),
    path: "memory.tt",
    detail: "must be at least 0, got -1",
  },
  {
    title: "a fractional pool",
    text: doc({ memory: { vram: 1.5 } }),
    path: "memory.vram",
    detail: "expected an integer, got 1.5",
  },
  {
    title: "a pool given as a string",
    text: doc({ memory: { vram: "32" } }),
    path: "memory.vram",
    detail: 'expected an integer, got the string "32"',
  },
  {
    title: "more visible VRAM than VRAM",
    text: doc({ memory: { vram: 4, visibleVram: 5 } }),
    path: "memory.visibleVram",
    detail: "must be at most 4 (the visible part of VRAM cannot exceed vram), got 5",
  },
  {
    title: "more visible VRAM than the default VRAM",
    text: doc({ memory: { visibleVram: 33 } }),
    path: "memory.visibleVram",
    detail: "must be at most 32",
  },
  {
    title: "wordsPerPage 0",
    text: doc({ wordsPerPage: 0 }),
    path: "wordsPerPage",
    detail: "must be at least 1, got 0",
  },
  {
    title: "an integer beyond 2^53",
    text: doc({ wordsPerPage: 2 ** 53 }),
    path: "wordsPerPage",
    detail: "9007199254740992 is not a safe integer",
  },
  {
    title: "a number JSON cannot hold",
    text: doc().replace('"name": "base"', '"name": "base", "wordsPerPage": 1e400'),
    path: "wordsPerPage",
    detail: "Infinity is not a safe integer",
  },
  // buffers.
  {
    title: "buffers that are not an array",
    text: doc({ buffers: { A: 1 } }),
    path: "buffers",
    detail: "expected an array, got an object",
  },
  {
    title: "a buffer that is a string",
    text: doc({ buffers: ["A"] }),
    path: "buffers[0]",
    detail: "expected a buffer as an object",
  },
  {
    title: "an unknown buffer field",
    text: doc({ buffers: [{ name: "A", pages: 2, placement: "vram", size: 8192 }] }),
    path: "buffers[0].size",
    detail: 'a buffer allows "name", "pages", "placement", "pinned"',
  },
  {
    title: "a buffer without pages",
    text: doc({ buffers: [{ name: "A", placement: "vram" }] }),
    path: "buffers[0]",
    detail: 'missing required field "pages" of a buffer',
  },
  {
    title: "a buffer of 0 pages",
    text: doc({ buffers: [{ name: "A", pages: 0, placement: "vram" }] }),
    path: "buffers[0].pages",
    detail: "must be at least 1, got 0",
  },
  {
    title: "an unknown placement",
    text: doc({ buffers: [{ name: "A", pages: 2, placement: "gtt" }] }),
    path: "buffers[0].placement",
    detail: 'expected one of "system", "tt", "vram", got "gtt"',
  },
  {
    title: "pinned as a string",
    text: doc({ buffers: [{ name: "A", pages: 2, placement: "vram", pinned: "no" }] }),
    path: "buffers[0].pinned",
    detail: "expected true or false",
  },
  {
    title: "a buffer name with a space",
    text: doc({ buffers: [{ name: "A B", pages: 2, placement: "vram" }] }),
    path: "buffers[0].name",
    detail: '"A B" is not a valid name',
  },
  {
    title: "an empty buffer name",
    text: doc({ buffers: [{ name: "", pages: 2, placement: "vram" }] }),
    path: "buffers[0].name",
    detail: '"" is not a valid name',
  },
  {
    title: "two buffers of one name",
    text: doc({
      buffers: [
        { name: "A", pages: 2, placement: "vram" },
        { name: "A", pages: 1, placement: "tt" },
      ],
    }),
    path: "buffers[1].name",
    detail: 'buffer "A" is already defined at buffers[0]',
  },
  {
    title: "a created buffer named like a declared one",
    text: kernelOps({ op: "create", buffer: "A", pages: 1, placement: "tt" }),
    path: "threads[0].ops[0].buffer",
    detail: 'buffer "A" is already defined at buffers[0]',
  },
  // processes.
  {
    title: "processes that are not an array",
    text: doc({ processes: "P" }),
    path: "processes",
    detail: "expected an array",
  },
  {
    title: "a process that is not a name",
    text: doc({ processes: ["P", 2] }),
    path: "processes[1]",
    detail: "expected a string, got the number 2",
  },
  {
    title: "two processes of one name",
    text: doc({ processes: ["P", "P"] }),
    path: "processes[1]",
    detail: 'process "P" is already defined at processes[0]',
  },
  // threads.
  {
    title: "no threads",
    text: doc({ threads: undefined }),
    path: "",
    detail: 'missing required field "threads"',
  },
  {
    title: "an empty thread list",
    text: doc({ threads: [] }),
    path: "threads",
    detail: "a scenario needs at least one thread",
  },
  {
    title: "a thread without ops",
    text: doc({ threads: [{ name: "K", ops: [] }] }),
    path: "threads[0].ops",
    detail: "a thread needs at least one op",
  },
  {
    title: "a thread without a name",
    text: doc({ threads: [{ ops: [{ op: "evict", buffer: "A" }] }] }),
    path: "threads[0]",
    detail: 'missing required field "name" of a thread',
  },
  {
    title: "an unknown thread field",
    text: doc({ threads: [{ name: "K", priority: 1, ops: [] }] }),
    path: "threads[0].priority",
    detail: 'a thread allows "name", "process", "ops"',
  },
  {
    title: "two threads of one name",
    text: doc({
      threads: [
        { name: "K", ops: [{ op: "evict", buffer: "A" }] },
        { name: "K", ops: [{ op: "evict", buffer: "A" }] },
      ],
    }),
    path: "threads[1].name",
    detail: 'thread "K" is already defined at threads[0]',
  },
  {
    title: "a thread of an unknown process",
    text: doc({ threads: [{ name: "T", process: "Q", ops: [MMAP] }] }),
    path: "threads[0].process",
    detail: 'unknown process "Q"; declare it in "processes" or create it with a fork',
  },
  // ops: shape.
  {
    title: "an op that is not an object",
    text: kernelOps("evict"),
    path: "threads[0].ops[0]",
    detail: 'expected an op as an object, got the string "evict"',
  },
  {
    title: "an op without op",
    text: kernelOps({ buffer: "A" }),
    path: "threads[0].ops[0]",
    detail: 'missing required field "op" of an op',
  },
  {
    title: "an unknown op",
    text: kernelOps({ op: "teleport", buffer: "A" }),
    path: "threads[0].ops[0].op",
    detail:
      'unknown op "teleport"; known ops: mmap, munmap, store, load, fork, exit, read-into, create, move',
  },
  {
    title: "an op name that is not a string",
    text: kernelOps({ op: 3 }),
    path: "threads[0].ops[0].op",
    detail: "unknown op the number 3",
  },
  {
    title: "an unknown op field",
    text: userOps(MMAP, { op: "store", map: "m", page: 0, val: 1 }),
    path: "threads[0].ops[1].val",
    detail: 'unknown field "val"; op "store" allows "op", "map", "page", "value", "word"',
  },
  {
    title: "a missing op field",
    text: userOps(MMAP, { op: "store", map: "m", page: 0 }),
    path: "threads[0].ops[1]",
    detail: 'missing required field "value" of op "store"',
  },
  {
    title: "a value given as a string",
    text: userOps(MMAP, { op: "store", map: "m", page: 0, value: "7" }),
    path: "threads[0].ops[1].value",
    detail: 'expected an integer, got the string "7"',
  },
  {
    title: "a fractional value",
    text: kernelOps({ op: "kernel-write", buffer: "A", page: 0, value: 0.5 }),
    path: "threads[0].ops[0].value",
    detail: "expected an integer, got 0.5",
  },
  {
    title: "kernel-write without a value",
    text: kernelOps({ op: "kernel-write", buffer: "A", page: 0 }),
    path: "threads[0].ops[0]",
    detail: 'missing required field "value" of op "kernel-write"',
  },
  {
    title: "kernel-read with a value",
    text: kernelOps({ op: "kernel-read", buffer: "A", page: 0, value: 1 }),
    path: "threads[0].ops[0].value",
    detail: 'unknown field "value"; op "kernel-read" allows',
  },
  {
    title: "a negative page",
    text: kernelOps({ op: "gpu-read", buffer: "A", page: -1 }),
    path: "threads[0].ops[0].page",
    detail: "must be at least 0, got -1",
  },
  {
    title: "a word at wordsPerPage",
    text: doc({
      wordsPerPage: 2,
      threads: [{ name: "K", ops: [{ op: "gpu-read", buffer: "A", page: 0, word: 2 }] }],
    }),
    path: "threads[0].ops[0].word",
    detail: "must be at most 1 (wordsPerPage is 2), got 2",
  },
  {
    title: "a word with the default wordsPerPage",
    text: userOps(MMAP, { op: "load", map: "m", page: 0, word: 1 }),
    path: "threads[0].ops[1].word",
    detail: "must be at most 0 (wordsPerPage is 1)",
  },
  {
    title: "a load expecting a string",
    text: userOps(MMAP, { op: "load", map: "m", page: 0, expect: "7" }),
    path: "threads[0].ops[1].expect",
    detail: "expected an integer",
  },
  {
    title: "a create of 0 pages",
    text: kernelOps({ op: "create", buffer: "N", pages: 0, placement: "tt" }),
    path: "threads[0].ops[0].pages",
    detail: "must be at least 1",
  },
  {
    title: "a move to an unknown placement",
    text: kernelOps({ op: "move", buffer: "A", to: "disk" }),
    path: "threads[0].ops[0].to",
    detail: 'expected one of "system", "tt", "vram", got "disk"',
  },
  {
    title: "a reserve of no buffers",
    text: kernelOps({ op: "reserve", buffers: [] }),
    path: "threads[0].ops[0].buffers",
    detail: "expected at least one buffer name",
  },
  {
    title: "a reserve of one buffer, not a list",
    text: kernelOps({ op: "reserve", buffers: "A" }),
    path: "threads[0].ops[0].buffers",
    detail: "expected an array",
  },
  {
    title: "a ticket that is not a boolean",
    text: kernelOps({ op: "reserve", buffers: ["A"], ticket: 1 }),
    path: "threads[0].ops[0].ticket",
    detail: "expected true or false",
  },
  {
    title: "a mapping name with a slash",
    text: userOps({ op: "mmap", buffer: "A", as: "m/1" }),
    path: "threads[0].ops[0].as",
    detail: '"m/1" is not a valid name',
  },
  // ops: where they run.
  {
    title: "a user op on a kernel thread",
    text: kernelOps({ op: "exit" }),
    path: "threads[0].ops[0].op",
    detail: 'exit is a user op, so its thread needs a "process"',
  },
  {
    title: "a process on a thread's op",
    text: userOps({ ...MMAP, process: "P" }),
    path: "threads[0].ops[0].process",
    detail: '"process" belongs on the thread, not on its ops',
  },
  {
    title: "a setup user op without a process",
    text: doc({ setup: [MMAP] }),
    path: "setup[0]",
    detail: 'missing required field "process" of op "mmap"',
  },
  {
    title: "a setup driver op with a process",
    text: doc({ setup: [{ op: "evict", buffer: "A", process: "P" }] }),
    path: "setup[0].process",
    detail: '"process" is allowed only on user ops in setup, and evict is a driver op',
  },
  {
    title: "setup that is not an array",
    text: doc({ setup: {} }),
    path: "setup",
    detail: "expected an array",
  },
  {
    title: "a setup op of an unknown process",
    text: doc({ setup: [{ ...MMAP, process: "Q" }] }),
    path: "setup[0].process",
    detail: 'unknown process "Q"',
  },
  {
    title: "a setup op of a process forked later in setup",
    text: doc({
      setup: [
        { ...MMAP, process: "C" },
        { op: "fork", process: "P", child: "C" },
      ],
    }),
    path: "setup[0].process",
    detail: 'process "C" does not exist yet at this point of setup (it is created at setup[1])',
  },
  {
    title: "a setup op of a process a thread forks",
    text: doc({
      setup: [{ ...MMAP, process: "C" }],
      threads: [{ name: "T", process: "P", ops: [{ op: "fork", child: "C" }] }],
    }),
    path: "setup[0].process",
    detail: "it is created at threads[0].ops[0]",
  },
  // references.
  {
    title: "an unknown buffer",
    text: doc({
      threads: [
        { name: "K", ops: [{ op: "evict", buffer: "A" }] },
        { name: "M", ops: [{ op: "move", buffer: "Z", to: "tt" }] },
      ],
    }),
    path: "threads[1].ops[0].buffer",
    detail: 'unknown buffer "Z"; declare it in "buffers" or create it with a create op',
  },
  {
    title: "an unknown buffer in a reserve list",
    text: kernelOps({ op: "reserve", buffers: ["A", "Z"], ticket: true }),
    path: "threads[0].ops[0].buffers[1]",
    detail: 'unknown buffer "Z"',
  },
  {
    title: "an unknown buffer in setup",
    text: doc({ setup: [{ op: "destroy", buffer: "Z" }] }),
    path: "setup[0].buffer",
    detail: 'unknown buffer "Z"',
  },
  {
    title: "an unknown read-into target",
    text: userOps(MMAP, { op: "read-into", map: "m", page: 0, buffer: "Z", bufferPage: 0 }),
    path: "threads[0].ops[1].buffer",
    detail: 'unknown buffer "Z"',
  },
  {
    title: "an unknown mapping",
    text: userOps({ op: "load", map: "m", page: 0 }),
    path: "threads[0].ops[0].map",
    detail: 'unknown mapping "m"',
  },
  {
    title: "a mapping of another process",
    text: doc({
      processes: ["P", "Q"],
      threads: [
        { name: "T", process: "P", ops: [MMAP] },
        { name: "U", process: "Q", ops: [{ op: "store", map: "m", page: 0, value: 1 }] },
      ],
    }),
    path: "threads[1].ops[0].map",
    detail: 'mapping "m" belongs to process "P", not to "Q" (mappings are per process)',
  },
  {
    title: "a parent's mapping used by the child",
    text: doc({
      setup: [
        { ...MMAP, process: "P" },
        { op: "fork", process: "P", child: "C" },
      ],
      threads: [{ name: "T", process: "C", ops: [{ op: "munmap", map: "m" }] }],
    }),
    path: "threads[0].ops[0].map",
    detail: 'belongs to process "P", not to "C"',
  },
  {
    title: "a setup mapping used before its mmap",
    text: doc({
      setup: [
        { op: "munmap", process: "P", map: "m" },
        { ...MMAP, process: "P" },
      ],
    }),
    path: "setup[0].map",
    detail: 'mapping "m" does not exist yet at this point of setup (it is made at setup[1])',
  },
  {
    title: "a thread's mapping used in setup",
    text: doc({ setup: [{ op: "munmap", process: "P", map: "m" }] }),
    path: "setup[0].map",
    detail: "it is made at threads[0].ops[0]",
  },
  {
    title: "a copy made only after the fork in setup",
    text: doc({
      setup: [
        { op: "fork", process: "P", child: "C" },
        { ...MMAP, process: "P" },
      ],
      threads: [{ name: "T", process: "C", ops: [{ op: "munmap", map: "m@C" }] }],
    }),
    path: "threads[0].ops[0].map",
    detail: 'unknown mapping "m@C"',
  },
  {
    title: "two mappings of one name",
    text: userOps(MMAP, { op: "mmap", buffer: "A", as: "m" }),
    path: "threads[0].ops[1].as",
    detail: 'mapping "m" is already defined at threads[0].ops[0]',
  },
  {
    title: "a mapping named like a fork copy",
    text: doc({
      setup: [
        { ...MMAP, process: "P" },
        { op: "fork", process: "P", child: "C" },
      ],
      threads: [{ name: "T", process: "C", ops: [{ op: "mmap", buffer: "A", as: "m@C" }] }],
    }),
    path: "threads[0].ops[0].as",
    detail: 'mapping "m@C" is already defined at setup[1].child',
  },
  {
    title: "a fork copy named like an earlier mapping of another name",
    text: doc({
      processes: ["P", "Q"],
      setup: [
        { op: "mmap", process: "Q", buffer: "A", as: "m@C" },
        { ...MMAP, process: "P" },
      ],
      threads: [{ name: "T", process: "P", ops: [{ op: "fork", child: "C" }] }],
    }),
    path: "threads[0].ops[0].child",
    detail: 'the child\'s copy of mapping "m" is named "m@C", which is already defined at setup[0]',
  },
  {
    title: "a fork of an existing process",
    text: userOps({ op: "fork", child: "P" }),
    path: "threads[0].ops[0].child",
    detail: 'process "P" is already defined at processes[0]',
  },
  {
    title: "a fork of the same child twice",
    text: userOps({ op: "fork", child: "C" }, { op: "fork", child: "C" }),
    path: "threads[0].ops[1].child",
    detail: 'process "C" is already defined at threads[0].ops[0]',
  },
  {
    title: "a fork cycle",
    text: doc({
      processes: [],
      threads: [
        { name: "X", process: "C", ops: [{ op: "fork", child: "D" }] },
        { name: "Y", process: "D", ops: [{ op: "fork", child: "C" }] },
      ],
    }),
    path: "threads[0].ops[0].child",
    detail: 'process "D" can never be created',
  },
  {
    title: "a process that forks itself",
    text: doc({
      processes: [],
      threads: [{ name: "X", process: "C", ops: [{ op: "fork", child: "C" }] }],
    }),
    path: "threads[0].ops[0].child",
    detail: 'process "C" can never be created',
  },
  // page indices.
  {
    title: "a page past the mapped buffer",
    text: userOps(MMAP, { op: "store", map: "m", page: 2, value: 1 }),
    path: "threads[0].ops[1].page",
    detail: 'page 2 is out of range: buffer "A" has 2 pages, numbered from 0',
  },
  {
    title: "a page past a fork copy's buffer",
    text: doc({
      setup: [
        { ...MMAP, process: "P" },
        { op: "fork", process: "P", child: "C" },
      ],
      threads: [{ name: "T", process: "C", ops: [{ op: "load", map: "m@C", page: 5 }] }],
    }),
    path: "threads[0].ops[0].page",
    detail: "page 5 is out of range",
  },
  {
    title: "a page past a declared buffer",
    text: kernelOps({ op: "gpu-write", buffer: "A", page: 2, value: 1 }),
    path: "threads[0].ops[0].page",
    detail: 'buffer "A" has 2 pages',
  },
  {
    title: "a page past a created buffer",
    text: doc({
      threads: [
        { name: "K", ops: [{ op: "kernel-read", buffer: "N", page: 1 }] },
        { name: "L", ops: [{ op: "create", buffer: "N", pages: 1, placement: "system" }] },
      ],
    }),
    path: "threads[0].ops[0].page",
    detail: 'buffer "N" has 1 page, numbered from 0',
  },
  {
    title: "a read-into page past the source mapping",
    text: userOps(MMAP, { op: "read-into", map: "m", page: 2, buffer: "A", bufferPage: 0 }),
    path: "threads[0].ops[1].page",
    detail: "page 2 is out of range",
  },
  {
    title: "a read-into bufferPage past the target",
    text: doc({
      buffers: [
        { name: "A", pages: 2, placement: "vram" },
        { name: "B", pages: 1, placement: "tt" },
      ],
      threads: [
        {
          name: "T",
          process: "P",
          ops: [MMAP, { op: "read-into", map: "m", page: 1, buffer: "B", bufferPage: 1 }],
        },
      ],
    }),
    path: "threads[0].ops[1].bufferPage",
    detail: 'page 1 is out of range: buffer "B" has 1 page',
  },
  // expect.
  {
    title: "an unknown finding kind",
    text: doc({ expect: "crash" }),
    path: "expect",
    detail: 'expected one of "ok", "deadlock", "lock-order"',
  },
  {
    title: "an unknown finding kind in a list",
    text: doc({ expect: ["deadlock", "crash"] }),
    path: "expect[1]",
    detail: 'got "crash"',
  },
  { title: "ok in a list", text: doc({ expect: ["ok"] }), path: "expect[0]", detail: 'got "ok"' },
  {
    title: "an empty finding list",
    text: doc({ expect: [] }),
    path: "expect",
    detail: 'write "ok" to expect no finding',
  },
  {
    title: "a finding listed twice",
    text: doc({ expect: ["leak", "deadlock", "leak"] }),
    path: "expect[2]",
    detail: '"leak" is listed twice',
  },
  { title: "expect as a boolean", text: doc({ expect: true }), path: "expect", detail: "got true" },
  // explore.
  {
    title: "an unknown explore field",
    text: doc({ explore: { strategy: "pct", bound: 2 } }),
    path: "explore.bound",
    detail: 'explore allows "strategy", "preemptionBound", "executions", "seed", "depth"',
  },
  {
    title: "explore without a strategy",
    text: doc({ explore: { seed: 1 } }),
    path: "explore",
    detail: 'missing required field "strategy" of explore',
  },
  {
    title: "an unknown strategy",
    text: doc({ explore: { strategy: "dpor" } }),
    path: "explore.strategy",
    detail: 'expected one of "exhaustive", "bounded", "random", "pct"',
  },
  {
    title: "0 executions",
    text: doc({ explore: { strategy: "random", executions: 0 } }),
    path: "explore.executions",
    detail: "must be at least 1",
  },
  {
    title: "depth 0",
    text: doc({ explore: { strategy: "pct", depth: 0 } }),
    path: "explore.depth",
    detail: "must be at least 1",
  },
  {
    title: "a negative seed",
    text: doc({ explore: { strategy: "random", seed: -1 } }),
    path: "explore.seed",
    detail: "must be at least 0",
  },
  {
    title: "a fractional preemption bound",
    text: doc({ explore: { strategy: "bounded", preemptionBound: 1.5 } }),
    path: "explore.preemptionBound",
    detail: "expected an integer, got 1.5",
  },
  {
    title: "explore as a string",
    text: doc({ explore: "random" }),
    path: "explore",
    detail: "expected explore as an object",
  },
  // Order: the first problem in document order; shape problems before reference problems.
  {
    title: "two bad fields: the earlier one",
    text: doc({ explore: { strategy: "x" }, memory: { tt: -1 } }),
    path: "memory.tt",
    detail: "must be at least 0",
  },
  {
    title: "two bad ops: the earlier one",
    text: userOps({ op: "load", map: "m", page: -1 }, { op: "load", map: "m", page: "0" }),
    path: "threads[0].ops[0].page",
    detail: "at least 0",
  },
  {
    title: "a shape problem after a reference problem",
    text: doc({
      threads: [{ name: "K", ops: [{ op: "evict", buffer: "Z" }] }],
      explore: { strategy: "x" },
    }),
    path: "explore.strategy",
    detail: "expected one of",
  },
  {
    title: "two reference problems: the earlier one",
    text: doc({
      threads: [
        { name: "K", ops: [{ op: "evict", buffer: "Z" }] },
        { name: "K", ops: [{ op: "evict", buffer: "A" }] },
      ],
    }),
    path: "threads[0].ops[0].buffer",
    detail: 'unknown buffer "Z"',
  },
];

describe("loadScenario: input errors name the JSON path in one line", () => {
  it.each(BAD)("$title -> $path", ({ text, path, detail }) => {
    const e = problem(text);
    expect(e.file).toBe(FILE);
    expect(e.path).toBe(path);
    expect(e.detail).toMatch(detail);
    expect(e.message).toBe(path === "" ? `${FILE}: ${e.detail}` : `${FILE}: ${path}: ${e.detail}`);
    expect(e.message).not.toMatch(/[\r\n]/);
  });
});

describe("ScenarioError", () => {
  it("omits the path part for the whole document", () => {
    expect(new ScenarioError("a.json", "", "not valid JSON").message).toBe(
      "a.json: not valid JSON",
    );
    expect(new ScenarioError("a.json", "threads[1].ops[0].map", "x").message).toBe(
      "a.json: threads[1].ops[0].map: x",
    );
  });

  it("keeps a multi-line detail on one line", () => {
    const e = new ScenarioError("a.json", "name", "first\n  second\r\nthird");
    expect(e.message).toBe("a.json: name: first second third");
    expect(e.detail).toBe("first second third");
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("ScenarioError");
  });
});

/** FNV-1a 64 with BigInt over TextEncoder's bytes: the reference contentHash must agree with. */
function fnv1a64Reference(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

describe("contentHash", () => {
  it("is FNV-1a 64 (published test vectors)", () => {
    expect(contentHash("")).toBe("cbf29ce484222325");
    expect(contentHash("a")).toBe("af63dc4c8601ec8c");
    expect(contentHash("foobar")).toBe("85944171f73967e8");
  });

  it("agrees with a BigInt FNV-1a 64 over the UTF-8 bytes, for any text", () => {
    const anyCodePoint = fc
      .integer({ min: 0, max: 0x10ffff })
      .map((cp) => String.fromCodePoint(cp));
    fc.assert(
      fc.property(fc.string({ unit: anyCodePoint }), (text) => {
        expect(contentHash(text)).toBe(fnv1a64Reference(text));
      }),
    );
    expect(contentHash("é€😀\ud800")).toBe(fnv1a64Reference("é€😀\ud800"));
  });

  it("is 16 lowercase hex digits, stable, and changes when the text changes", () => {
    const text = doc();
    expect(contentHash(text)).toMatch(/^[0-9a-f]{16}$/);
    expect(contentHash(text)).toBe(contentHash(`${text}`));
    expect(contentHash(`${text} `)).not.toBe(contentHash(text));
    expect(contentHash(text.replace('"value": 7', '"value": 8'))).not.toBe(contentHash(text));
  });

  it("is the scenario's source hash, for the exact text", () => {
    const text = doc();
    expect(load(text).source).toEqual({ file: FILE, hash: contentHash(text) });
    expect(load(`${text}\n`).source.hash).not.toBe(contentHash(text));
  });
});
