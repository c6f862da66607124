// The scenario loader: it turns the text of a `faultline/scenario@1` document (the shared
// contract SCENARIO-FORMAT.md) into a validated `Scenario` with every default filled in, or
// throws a `ScenarioError` whose one-line message names the file, the JSON path and the problem.
//
// Loading runs in two passes. The shape pass walks the document in order and checks types,
// ranges and field names; it needs nothing beyond the fields that come before the one it reads
// (`wordsPerPage` is read before any op). The reference pass then checks names (uniqueness,
// buffers, processes, mappings) and page indices, which may refer forward: a buffer may be
// created by a later op of another thread. Each pass reports its first problem in document
// order, so a shape problem anywhere is reported before a reference problem anywhere.
//
// This file must stay free of Node APIs and of anything nondeterministic (see the tidy test): the
// CLI reads the file and hands its text in.

import { fnv1a64 } from "../trace/hash.js";
import {
  type BufferSpec,
  type ExploreSpec,
  FINDING_KINDS,
  type FindingKind,
  type MemorySpec,
  type Op,
  type OpName,
  PLACEMENTS,
  PROTOCOL_NAMES,
  type ProtocolName,
  type ProtocolSpec,
  SCENARIO_FORMAT,
  type Scenario,
  type SetupOp,
  STRATEGIES,
  type ThreadSpec,
  type UserOp,
} from "./scenario.js";

/** An input error. `message` is one line and is what the CLI prints; there is no stack to show. */
export class ScenarioError extends Error {
  override readonly name = "ScenarioError";
  readonly file: string;
  /** The JSON path of the problem, like `threads[1].ops[0].map`; "" for the whole document. */
  readonly path: string;
  readonly detail: string;

  constructor(file: string, path: string, detail: string) {
    // The message must stay on one line whatever the detail quotes (a parser message, say).
    const oneLine = detail.replace(/\s*[\r\n]+\s*/g, " ");
    super(path === "" ? `${file}: ${oneLine}` : `${file}: ${path}: ${oneLine}`);
    this.file = file;
    this.path = path;
    this.detail = oneLine;
  }
}

/**
 * Parses and validates one scenario document. Throws a ScenarioError on the first problem (see
 * the header for the order in which problems are found).
 */
export function loadScenario(text: string, file: string): Scenario {
  try {
    const scenario = parseScenario(parseJson(text), { file, hash: contentHash(text) });
    checkReferences(scenario);
    return scenario;
  } catch (e) {
    if (e instanceof Problem) throw new ScenarioError(file, e.path, e.detail);
    throw e;
  }
}

/**
 * The content hash of a scenario file: FNV-1a 64 over its UTF-8 bytes, as 16 lowercase hex
 * digits. Replay tokens carry it so that a token is refused when its scenario file has changed.
 */
export function contentHash(text: string): string {
  return fnv1a64(text);
}

// ---------------------------------------------------------------------------------------------
// Problems and paths

/** A problem found while loading; loadScenario adds the file name and rethrows a ScenarioError. */
class Problem {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {}
}

function fail(path: string, detail: string): never {
  throw new Problem(path, detail);
}

/** `path.key`, or `path["key"]` when the key is not an identifier (an unknown field may be). */
function fieldPath(path: string, key: string): string {
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === "" ? key : `${path}.${key}`;
}

function indexPath(path: string, index: number): string {
  return `${path}[${index}]`;
}

/** A JSON object, as opposed to null, an array or a scalar. */
function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function quoted(values: readonly string[]): string {
  return values.map((v) => JSON.stringify(v)).join(", ");
}

/** Says what a JSON value is, for "expected X, got Y" messages. Long strings are cut short. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string":
      return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
    case "number":
      return `the number ${value}`;
    case "boolean":
      return String(value);
    default:
      return "an object";
  }
}

function parseJson(text: string): unknown {
  // A byte-order mark is not JSON, but editors write one; the hash still covers it.
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    // V8 gives an offset for most errors and none when the text ends early.
    const at = /at position (\d+)/.exec(reason);
    const offset = at !== null ? Number(at[1]) : /end of JSON/.test(reason) ? body.length : null;
    const where = offset === null ? "" : ` (${lineAndColumn(body, offset)})`;
    fail("", `not valid JSON: ${reason}${where}`);
  }
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return `line ${line}, column ${column}`;
}

// ---------------------------------------------------------------------------------------------
// Readers: each one checks one JSON value at a path and returns it typed, or fails.

/** What a reader may depend on besides the value: fields read earlier in the document. */
interface Context {
  readonly wordsPerPage: number;
}

type Reader<T> = (value: unknown, path: string, context: Context) => T;

const NAME_RE = /^[A-Za-z0-9_@.-]+$/;
const SCENARIO_NAME_RE = /^[a-z0-9][a-z0-9-]*$/;

const string: Reader<string> = (value, path) =>
  typeof value === "string" ? value : fail(path, `expected a string, got ${describe(value)}`);

const boolean: Reader<boolean> = (value, path) =>
  typeof value === "boolean" ? value : fail(path, `expected true or false, got ${describe(value)}`);

/** Names of buffers, processes, mappings and threads. */
const entityName: Reader<string> = (value, path, context) => {
  const s = string(value, path, context);
  if (!NAME_RE.test(s))
    fail(path, `${JSON.stringify(s)} is not a valid name (use letters, digits and _ @ . -)`);
  return s;
};

interface Range {
  readonly min: number;
  /** The largest allowed value, and why it is the largest. */
  readonly max?: { readonly value: number; readonly why: string };
}

/** An integer that JSON and doubles represent exactly, within `range`. */
function integer(range: Range): Reader<number> {
  return (value, path) => {
    if (typeof value !== "number") fail(path, `expected an integer, got ${describe(value)}`);
    if (Number.isFinite(value) && !Number.isInteger(value))
      fail(path, `expected an integer, got ${value}`);
    if (!Number.isSafeInteger(value))
      fail(path, `${value} is not a safe integer (the limit is ±${Number.MAX_SAFE_INTEGER})`);
    if (value < range.min) fail(path, `must be at least ${range.min}, got ${value}`);
    if (range.max !== undefined && value > range.max.value)
      fail(path, `must be at most ${range.max.value} (${range.max.why}), got ${value}`);
    return value;
  };
}

const anyInteger = integer({ min: Number.MIN_SAFE_INTEGER });
const count = integer({ min: 0 });
const positive = integer({ min: 1 });

/** A word index, below the scenario's `wordsPerPage`. */
const word: Reader<number> = (value, path, context) =>
  integer({
    min: 0,
    max: { value: context.wordsPerPage - 1, why: `wordsPerPage is ${context.wordsPerPage}` },
  })(value, path, context);

function oneOf<T extends string>(values: readonly T[]): Reader<T> {
  return (value, path) => {
    if (typeof value !== "string")
      fail(path, `expected one of ${quoted(values)}, got ${describe(value)}`);
    if (!(values as readonly string[]).includes(value))
      fail(path, `expected one of ${quoted(values)}, got ${JSON.stringify(value)}`);
    return value as T;
  };
}

const placement = oneOf(PLACEMENTS);

function arrayOf<T>(read: Reader<T>, options: { nonEmpty?: string } = {}): Reader<T[]> {
  return (value, path, context) => {
    if (!Array.isArray(value)) fail(path, `expected an array, got ${describe(value)}`);
    if (options.nonEmpty !== undefined && value.length === 0) fail(path, options.nonEmpty);
    return value.map((item, i) => read(item, indexPath(path, i), context));
  };
}

/**
 * The fields of one JSON object. Callers refuse unknown fields (`allowOnly`) before reading any,
 * because a misspelt field name explains a "missing field" error that would otherwise come first.
 */
class Fields {
  private constructor(
    private readonly object: Readonly<Record<string, unknown>>,
    readonly path: string,
    private readonly what: string,
    private readonly context: Context,
  ) {}

  /** Fails unless `value` is an object; `what` names it in messages ("a buffer"). */
  static open(value: unknown, path: string, what: string, context: Context): Fields {
    if (!isObject(value)) fail(path, `expected ${what} as an object, got ${describe(value)}`);
    return new Fields(value, path, what, context);
  }

  /** Refuses any field not in `allowed`; `refusals` explains refusing particular ones. */
  allowOnly(allowed: readonly string[], refusals: Readonly<Record<string, string>> = {}): this {
    for (const key of Object.keys(this.object)) {
      if (allowed.includes(key)) continue;
      fail(
        this.at(key),
        refusals[key] ??
          `unknown field ${JSON.stringify(key)}; ${this.what} allows ${quoted(allowed)}`,
      );
    }
    return this;
  }

  has(key: string): boolean {
    return Object.hasOwn(this.object, key);
  }

  at(key: string): string {
    return fieldPath(this.path, key);
  }

  required<T>(key: string, read: Reader<T>): T {
    if (!this.has(key))
      fail(this.path, `missing required field ${JSON.stringify(key)} of ${this.what}`);
    return read(this.object[key], this.at(key), this.context);
  }

  optional<T>(key: string, read: Reader<T>): T | undefined {
    return this.has(key) ? read(this.object[key], this.at(key), this.context) : undefined;
  }

  withDefault<T>(key: string, read: Reader<T>, fallback: T): T {
    return this.optional(key, read) ?? fallback;
  }
}

// ---------------------------------------------------------------------------------------------
// The shape pass

const TOP_LEVEL_FIELDS = [
  "format",
  "name",
  "description",
  "protocol",
  "memory",
  "wordsPerPage",
  "buffers",
  "processes",
  "setup",
  "threads",
  "expect",
  "explore",
] as const;

const MEMORY_DEFAULTS = { system: 64, tt: 32, vram: 32 } as const;

function parseScenario(document: unknown, source: Scenario["source"]): Scenario {
  const noWords: Context = { wordsPerPage: 1 };
  const top = Fields.open(document, "", "the scenario", noWords);
  // The format tag is checked before unknown fields: a document of another format, or of a later
  // version with fields this one does not know, is best told so directly.
  top.required("format", (value, path) =>
    value === SCENARIO_FORMAT
      ? value
      : fail(path, `expected ${JSON.stringify(SCENARIO_FORMAT)}, got ${describe(value)}`),
  );
  top.allowOnly(TOP_LEVEL_FIELDS);

  const scenarioName = top.required("name", (value, path, context) => {
    const s = string(value, path, context);
    if (!SCENARIO_NAME_RE.test(s))
      fail(
        path,
        `${JSON.stringify(s)} is not a valid scenario name (use lowercase letters, digits and -, not starting with -)`,
      );
    return s;
  });
  const description = top.optional("description", string);
  const protocol = top.required("protocol", readProtocol);
  const memory = top.withDefault("memory", readMemory, {
    ...MEMORY_DEFAULTS,
    visibleVram: MEMORY_DEFAULTS.vram,
  });
  const wordsPerPage = top.withDefault("wordsPerPage", positive, 1);
  const context: Context = { wordsPerPage };
  const buffers = top.withDefault("buffers", arrayOf(readBuffer), []);
  const processes = top.withDefault("processes", arrayOf(entityName), []);
  const setup = top.withDefault(
    "setup",
    arrayOf((value, path) => readOp(value, path, context, "setup")),
    [],
  );
  const threads = top.required(
    "threads",
    arrayOf((value, path) => readThread(value, path, context), {
      nonEmpty: "a scenario needs at least one thread",
    }),
  );
  const expected = top.withDefault("expect", readExpect, null);
  const explore = top.withDefault("explore", readExplore, { strategy: "exhaustive" });

  return {
    name: scenarioName,
    ...(description === undefined ? {} : { description }),
    protocol,
    memory,
    wordsPerPage,
    buffers,
    processes,
    setup,
    threads,
    expected,
    explore,
    source,
  };
}

/** An option of a protocol: how to read it, and its value when absent (the contract's first). */
interface Option<T> {
  readonly read: Reader<T>;
  readonly fallback: T;
}

type ProtocolOf<N extends ProtocolName> = Extract<ProtocolSpec, { name: N }>;

/** Every protocol's options. The type makes each entry list exactly its protocol's options. */
const PROTOCOL_OPTIONS: {
  readonly [N in ProtocolName]: {
    readonly [K in Exclude<keyof ProtocolOf<N>, "name">]: Option<ProtocolOf<N>[K]>;
  };
} = {
  "lock-all-mmap": {
    order: { read: oneOf(["registration", "sorted"] as const), fallback: "registration" },
    recheck: { read: boolean, fallback: false },
    objectFirst: { read: boolean, fallback: false },
  },
  nopage: { truncateCheck: { read: boolean, fallback: true } },
  nopfn: {},
  "insert-pfn": {},
  "remap-in-fault": {},
  ttm: {
    prefault: { read: positive, fallback: 16 },
    pipelined: { read: boolean, fallback: true },
  },
};

const protocolName = oneOf(PROTOCOL_NAMES);

/**
 * `protocol` is a bare name, or `{ "name": ..., ...options }`. The name is read first because it
 * decides which options the object may have.
 */
const readProtocol: Reader<ProtocolSpec> = (value, path, context) => {
  let protocol: ProtocolName;
  let fields: Fields | undefined;
  if (typeof value === "string") {
    protocol = protocolName(value, path, context);
  } else {
    if (!isObject(value))
      fail(path, `expected a protocol name or { "name": ..., ...options }, got ${describe(value)}`);
    protocol = Fields.open(value, path, "the protocol", context).required("name", protocolName);
    fields = Fields.open(value, path, `the ${protocol} protocol`, context).allowOnly([
      "name",
      ...Object.keys(PROTOCOL_OPTIONS[protocol]),
    ]);
  }
  const options: Readonly<Record<string, Option<unknown>>> = PROTOCOL_OPTIONS[protocol];
  const spec: Record<string, unknown> = { name: protocol };
  for (const [key, option] of Object.entries(options))
    spec[key] = fields?.withDefault(key, option.read, option.fallback) ?? option.fallback;
  return spec as ProtocolSpec;
};

const readMemory: Reader<MemorySpec> = (value, path, context) => {
  const fields = Fields.open(value, path, "memory", context).allowOnly([
    "system",
    "tt",
    "vram",
    "visibleVram",
  ]);
  const system = fields.withDefault("system", positive, MEMORY_DEFAULTS.system);
  const tt = fields.withDefault("tt", count, MEMORY_DEFAULTS.tt);
  const vram = fields.withDefault("vram", count, MEMORY_DEFAULTS.vram);
  const visibleVram = fields.withDefault(
    "visibleVram",
    integer({ min: 0, max: { value: vram, why: "the visible part of VRAM cannot exceed vram" } }),
    vram,
  );
  return { system, tt, vram, visibleVram };
};

const readBuffer: Reader<BufferSpec> = (value, path, context) => {
  const fields = Fields.open(value, path, "a buffer", context).allowOnly([
    "name",
    "pages",
    "placement",
    "pinned",
  ]);
  return {
    name: fields.required("name", entityName),
    pages: fields.required("pages", positive),
    placement: fields.required("placement", placement),
    pinned: fields.withDefault("pinned", boolean, false),
  };
};

const readThread: Reader<ThreadSpec> = (value, path, context) => {
  const fields = Fields.open(value, path, "a thread", context).allowOnly([
    "name",
    "process",
    "ops",
  ]);
  const threadName = fields.required("name", entityName);
  const process = fields.optional("process", entityName);
  const ops = fields.required(
    "ops",
    arrayOf(
      (op, opPath) => readOp(op, opPath, context, process === undefined ? "kernel" : "user"),
      {
        nonEmpty: "a thread needs at least one op",
      },
    ),
  );
  return { name: threadName, ...(process === undefined ? {} : { process }), ops };
};

/** A field of an op: how to read it, and whether it may be omitted (and then its default). */
type OpField<T> =
  | { readonly read: Reader<T>; readonly presence: "required" }
  | { readonly read: Reader<T>; readonly presence: "optional" }
  | { readonly read: Reader<T>; readonly presence: "default"; readonly fallback: T };

const req = <T>(read: Reader<T>): OpField<T> => ({ read, presence: "required" });
const opt = <T>(read: Reader<T>): OpField<T> => ({ read, presence: "optional" });
const dflt = <T>(read: Reader<T>, fallback: T): OpField<T> => ({
  read,
  presence: "default",
  fallback,
});

type OpOf<N extends OpName> = Extract<Op, { op: N }>;

const PAGE = req(count);
const WORD = dflt(word, 0);
const VALUE = req(anyInteger);
const BUFFER = req(entityName);
const MAP = req(entityName);
const BUFFER_LIST = req(arrayOf(entityName, { nonEmpty: "expected at least one buffer name" }));

/**
 * Every op, whether it is a user op, and its fields in the order they are checked. The type makes
 * each entry list exactly the fields of its op in scenario.ts.
 */
const OPS: {
  readonly [N in OpName]: {
    readonly user: OpOf<N> extends UserOp ? true : false;
    readonly fields: { readonly [K in Exclude<keyof OpOf<N>, "op">]-?: OpField<OpOf<N>[K]> };
  };
} = {
  mmap: { user: true, fields: { buffer: BUFFER, as: req(entityName) } },
  munmap: { user: true, fields: { map: MAP } },
  store: { user: true, fields: { map: MAP, page: PAGE, value: VALUE, word: WORD } },
  load: { user: true, fields: { map: MAP, page: PAGE, word: WORD, expect: opt(anyInteger) } },
  fork: { user: true, fields: { child: req(entityName) } },
  exit: { user: true, fields: {} },
  "read-into": {
    user: true,
    fields: { map: MAP, page: PAGE, buffer: BUFFER, bufferPage: PAGE },
  },
  create: {
    user: false,
    fields: { buffer: BUFFER, pages: req(positive), placement: req(placement) },
  },
  move: { user: false, fields: { buffer: BUFFER, to: req(placement) } },
  evict: { user: false, fields: { buffer: BUFFER } },
  swapout: { user: false, fields: { buffer: BUFFER } },
  destroy: { user: false, fields: { buffer: BUFFER } },
  "gpu-write": { user: false, fields: { buffer: BUFFER, page: PAGE, value: VALUE, word: WORD } },
  "gpu-read": { user: false, fields: { buffer: BUFFER, page: PAGE, word: WORD } },
  "wait-idle": { user: false, fields: { buffer: BUFFER } },
  "kernel-write": {
    user: false,
    fields: { buffer: BUFFER, page: PAGE, value: VALUE, word: WORD },
  },
  "kernel-read": { user: false, fields: { buffer: BUFFER, page: PAGE, word: WORD } },
  reserve: { user: false, fields: { buffers: BUFFER_LIST, ticket: dflt(boolean, false) } },
  unreserve: { user: false, fields: { buffers: BUFFER_LIST } },
};

const OP_NAMES = Object.keys(OPS) as OpName[];

/**
 * Where an op runs: in `setup` (user ops name their process there), on a kernel thread (no user
 * ops), or on a user thread (any op).
 */
type OpSite = "setup" | "kernel" | "user";

const opName: Reader<OpName> = (value, path) =>
  typeof value === "string" && Object.hasOwn(OPS, value)
    ? (value as OpName)
    : fail(
        path,
        `unknown op ${typeof value === "string" ? JSON.stringify(value) : describe(value)}; ` +
          `known ops: ${OP_NAMES.join(", ")}`,
      );

function readOp(value: unknown, path: string, context: Context, site: OpSite): SetupOp {
  const name = Fields.open(value, path, "an op", context).required("op", opName);
  const spec = OPS[name];
  const withProcess = site === "setup" && spec.user;
  const fields = Fields.open(value, path, `op ${JSON.stringify(name)}`, context).allowOnly(
    ["op", ...Object.keys(spec.fields), ...(withProcess ? ["process"] : [])],
    {
      process:
        site === "setup"
          ? `"process" is allowed only on user ops in setup, and ${name} is a driver op`
          : `"process" belongs on the thread, not on its ops`,
    },
  );
  if (site === "kernel" && spec.user)
    fail(
      fields.at("op"),
      `${name} is a user op, so its thread needs a "process" (this one is a kernel thread)`,
    );
  const op: Record<string, unknown> = { op: name };
  if (withProcess) op.process = fields.required("process", entityName);
  const entries: [string, OpField<unknown>][] = Object.entries(spec.fields);
  for (const [key, field] of entries) {
    if (field.presence === "required") op[key] = fields.required(key, field.read);
    else if (field.presence === "default")
      op[key] = fields.withDefault(key, field.read, field.fallback);
    else if (fields.has(key)) op[key] = fields.required(key, field.read);
  }
  return op as SetupOp;
}

const findingKind = oneOf(FINDING_KINDS);
const okOrFindingKind = oneOf(["ok", ...FINDING_KINDS] as const);

/** `"ok"`, one finding kind, or a non-empty array of distinct finding kinds. */
const readExpect: Reader<"ok" | readonly FindingKind[]> = (value, path, context) => {
  if (typeof value === "string") {
    const given = okOrFindingKind(value, path, context);
    return given === "ok" ? "ok" : [given];
  }
  if (!Array.isArray(value))
    fail(
      path,
      `expected "ok", a finding kind or an array of finding kinds, got ${describe(value)}`,
    );
  const kinds = arrayOf(findingKind, {
    nonEmpty: `expected at least one finding kind (write "ok" to expect no finding)`,
  })(value, path, context);
  kinds.forEach((kind, i) => {
    if (kinds.indexOf(kind) !== i)
      fail(indexPath(path, i), `${JSON.stringify(kind)} is listed twice`);
  });
  return kinds;
};

const readExplore: Reader<ExploreSpec> = (value, path, context) => {
  const fields = Fields.open(value, path, "explore", context).allowOnly([
    "strategy",
    "preemptionBound",
    "executions",
    "seed",
    "depth",
  ]);
  const strategy = fields.required("strategy", oneOf(STRATEGIES));
  const preemptionBound = fields.optional("preemptionBound", count);
  const executions = fields.optional("executions", positive);
  const seed = fields.optional("seed", count);
  const depth = fields.optional("depth", positive);
  return {
    strategy,
    ...(preemptionBound === undefined ? {} : { preemptionBound }),
    ...(executions === undefined ? {} : { executions }),
    ...(seed === undefined ? {} : { seed }),
    ...(depth === undefined ? {} : { depth }),
  };
};

// ---------------------------------------------------------------------------------------------
// The reference pass
//
// Names may be defined after their uses (a thread may use a buffer another thread creates), so
// the pass first collects every definition with its position in the document, then walks the
// document in order and checks each node against the collected tables. A name defined twice is
// reported at the later definition.
//
// Approximations, all on the side of accepting: a thread may use any mapping that its process
// makes anywhere (in setup or in any of its threads), at any time, even after an munmap; a fork in
// a thread gives the child a copy of every mapping the parent makes anywhere, even after the fork.
// Setup is checked exactly, because it runs in order: a setup op sees only processes and mappings
// that earlier setup ops made. Buffers are looked up in the whole scenario, as the contract says,
// so a setup op may name a buffer that only a thread creates; the simulation refuses that op.

/** Where a name is defined: the position of the defining node in document order, and its path. */
interface Site {
  readonly seq: number;
  readonly path: string;
}

interface Mapping {
  readonly site: Site;
  readonly process: string;
  readonly buffer: string;
}

/** A process: declared, or created by a fork in setup or in a thread (`forkedInThread`). */
interface Process {
  readonly site: Site;
  readonly forkedInThread: boolean;
}

/** One node of the document that defines or uses names. */
type Node =
  | { readonly kind: "buffer"; readonly path: string; readonly buffer: BufferSpec }
  | { readonly kind: "process"; readonly path: string; readonly process: string }
  | { readonly kind: "thread"; readonly path: string; readonly thread: ThreadSpec }
  | OpNode;

interface OpNode {
  readonly kind: "op";
  readonly path: string;
  readonly op: Op;
  /** The process the op runs in; undefined for a driver op on a kernel thread or in setup. */
  readonly process: string | undefined;
  readonly inSetup: boolean;
}

/** The nodes of the scenario in document order; a node's index is its `seq`. */
function nodesOf(scenario: Scenario): Node[] {
  const nodes: Node[] = [];
  scenario.buffers.forEach((buffer, i) => {
    nodes.push({ kind: "buffer", path: indexPath("buffers", i), buffer });
  });
  scenario.processes.forEach((process, i) => {
    nodes.push({ kind: "process", path: indexPath("processes", i), process });
  });
  scenario.setup.forEach((op, i) => {
    nodes.push({ kind: "op", path: indexPath("setup", i), op, process: op.process, inSetup: true });
  });
  scenario.threads.forEach((thread, t) => {
    const path = indexPath("threads", t);
    nodes.push({ kind: "thread", path, thread });
    thread.ops.forEach((op, i) => {
      const opPath = indexPath(`${path}.ops`, i);
      nodes.push({ kind: "op", path: opPath, op, process: thread.process, inSetup: false });
    });
  });
  return nodes;
}

/** Definitions of one kind of name; the earliest in document order owns the name. */
class Table<T extends { readonly site: Site }> {
  private readonly owners = new Map<string, T>();

  define(key: string, entry: T): void {
    const owner = this.owners.get(key);
    if (owner === undefined || entry.site.seq < owner.site.seq) this.owners.set(key, entry);
  }

  get(key: string): T | undefined {
    return this.owners.get(key);
  }

  entries(): IterableIterator<[string, T]> {
    return this.owners.entries();
  }
}

/** Fails unless the node at `seq` owns `key` in `table`, that is, defines it first. */
function checkOwner<T extends { readonly site: Site }>(
  table: Table<T>,
  key: string,
  seq: number,
  path: string,
  kind: string,
): void {
  const owner = table.get(key);
  if (owner !== undefined && owner.site.seq !== seq)
    fail(path, `${kind} ${JSON.stringify(key)} is already defined at ${owner.site.path}`);
}

/** A fork's copy of one parent mapping: the child's `m@child` for the parent's `m`. */
interface Copy {
  readonly name: string;
  readonly of: string;
}

interface Tables {
  readonly buffers: Table<{ readonly site: Site; readonly pages: number }>;
  readonly processes: Table<Process>;
  readonly threads: Table<{ readonly site: Site }>;
  readonly mappings: Table<Mapping>;
  /** The copies each fork makes, by the fork's seq. */
  readonly copies: ReadonlyMap<number, readonly Copy[]>;
  /** Thread forks whose child can never be created, because its parent descends from it. */
  readonly cyclicForks: ReadonlySet<number>;
}

interface Fork {
  readonly site: Site;
  readonly parent: string;
  readonly child: string;
}

function collectTables(nodes: readonly Node[]): Tables {
  const buffers = new Table<{ readonly site: Site; readonly pages: number }>();
  const processes = new Table<Process>();
  const threads = new Table<{ readonly site: Site }>();
  const mappings = new Table<Mapping>();
  const copies = new Map<number, Copy[]>();

  /** Gives the fork's child a copy of each mapping its parent owns now. */
  const copyMappings = (fork: Fork): void => {
    const made: (Copy & { readonly buffer: string })[] = [];
    for (const [key, m] of mappings.entries())
      if (m.process === fork.parent)
        made.push({ name: `${key}@${fork.child}`, of: key, buffer: m.buffer });
    for (const { name, buffer } of made)
      mappings.define(name, { site: fork.site, process: fork.child, buffer });
    copies.set(fork.site.seq, made);
  };

  const threadForks: Fork[] = [];
  nodes.forEach((node, seq) => {
    const site = { seq, path: node.path };
    if (node.kind === "buffer")
      buffers.define(node.buffer.name, { site, pages: node.buffer.pages });
    else if (node.kind === "process")
      processes.define(node.process, { site, forkedInThread: false });
    else if (node.kind === "thread") threads.define(node.thread.name, { site });
    else {
      const { op, process } = node;
      if (op.op === "create") buffers.define(op.buffer, { site, pages: op.pages });
      if (op.op === "mmap" && process !== undefined)
        mappings.define(op.as, { site, process, buffer: op.buffer });
      if (op.op === "fork" && process !== undefined) {
        const fork = {
          site: { seq, path: `${node.path}.child` },
          parent: process,
          child: op.child,
        };
        processes.define(op.child, { site, forkedInThread: !node.inSetup });
        // Setup runs in order, so a setup fork copies exactly what its parent has mapped so far:
        // every node collected until now precedes it, and thread mappings come later.
        if (node.inSetup) copyMappings(fork);
        else threadForks.push(fork);
      }
    }
  });

  // A thread fork copies the parent's mappings once the parent has all of its own, which for a
  // parent forked by a thread means after that fork's copies. A chain of such forks that comes
  // back to itself has no starting point: its processes can never exist.
  const done = new Set<number>();
  const inProgress = new Set<number>();
  const cyclicForks = new Set<number>();
  const forkOf = (process: string): Fork | undefined => {
    const origin = processes.get(process);
    if (origin?.forkedInThread !== true) return undefined;
    return threadForks.find((f) => f.site.seq === origin.site.seq);
  };
  const copyAfterParent = (fork: Fork): void => {
    const seq = fork.site.seq;
    if (done.has(seq)) return;
    if (inProgress.has(seq)) {
      cyclicForks.add(seq);
      return;
    }
    inProgress.add(seq);
    const parentFork = forkOf(fork.parent);
    if (parentFork !== undefined) {
      copyAfterParent(parentFork);
      if (cyclicForks.has(parentFork.site.seq)) cyclicForks.add(seq);
    }
    inProgress.delete(seq);
    done.add(seq);
    copyMappings(fork);
  };
  for (const fork of threadForks) copyAfterParent(fork);
  return { buffers, processes, threads, mappings, copies, cyclicForks };
}

/** Checks every name and page index of a scenario the shape pass accepted. */
function checkReferences(scenario: Scenario): void {
  const nodes = nodesOf(scenario);
  const tables = collectTables(nodes);
  // The processes that exist at the current point of setup: declared ones, then setup forks.
  const setupProcesses = new Set(scenario.processes);
  nodes.forEach((node, seq) => {
    switch (node.kind) {
      case "buffer":
        checkOwner(tables.buffers, node.buffer.name, seq, `${node.path}.name`, "buffer");
        return;
      case "process":
        checkOwner(tables.processes, node.process, seq, node.path, "process");
        return;
      case "thread": {
        const { name, process } = node.thread;
        checkOwner(tables.threads, name, seq, `${node.path}.name`, "thread");
        if (process !== undefined && tables.processes.get(process) === undefined)
          fail(`${node.path}.process`, unknownProcess(process));
        return;
      }
      case "op":
        checkOp(node, seq, tables, setupProcesses);
        return;
    }
  });
}

function unknownProcess(process: string): string {
  return `unknown process ${JSON.stringify(process)}; declare it in "processes" or create it with a fork`;
}

function checkOp(node: OpNode, seq: number, tables: Tables, setupProcesses: Set<string>): void {
  const { op, path, process } = node;
  const at = (key: string): string => fieldPath(path, key);

  if (node.inSetup && process !== undefined && !setupProcesses.has(process)) {
    const origin = tables.processes.get(process);
    fail(
      at("process"),
      origin === undefined
        ? unknownProcess(process)
        : `process ${JSON.stringify(process)} does not exist yet at this point of setup ` +
            `(it is created at ${origin.site.path})`,
    );
  }

  const pagesOf = (buffer: string): number | undefined => tables.buffers.get(buffer)?.pages;
  const checkPage = (buffer: string, page: number, pagePath: string): void => {
    const pages = pagesOf(buffer);
    // An unknown buffer is reported where it is named; here there is nothing to compare with.
    if (pages !== undefined && page >= pages)
      fail(
        pagePath,
        `page ${page} is out of range: buffer ${JSON.stringify(buffer)} has ${pages} ` +
          `page${pages === 1 ? "" : "s"}, numbered from 0`,
      );
  };
  const checkBuffer = (buffer: string, bufferPath: string): void => {
    if (pagesOf(buffer) === undefined)
      fail(
        bufferPath,
        `unknown buffer ${JSON.stringify(buffer)}; declare it in "buffers" or create it with a create op`,
      );
  };

  if ("map" in op) {
    const mapping = visibleMapping(op.map, at("map"), node, seq, tables);
    if ("page" in op) checkPage(mapping.buffer, op.page, at("page"));
  }
  if ("buffer" in op) {
    if (op.op === "create") checkOwner(tables.buffers, op.buffer, seq, at("buffer"), "buffer");
    else checkBuffer(op.buffer, at("buffer"));
    if (!("map" in op) && "page" in op) checkPage(op.buffer, op.page, at("page"));
    if ("bufferPage" in op) checkPage(op.buffer, op.bufferPage, at("bufferPage"));
  }
  if ("buffers" in op)
    op.buffers.forEach((buffer, i) => {
      checkBuffer(buffer, indexPath(at("buffers"), i));
    });
  if (op.op === "mmap") checkOwner(tables.mappings, op.as, seq, at("as"), "mapping");
  if (op.op === "fork") {
    checkOwner(tables.processes, op.child, seq, at("child"), "process");
    if (tables.cyclicForks.has(seq))
      fail(
        at("child"),
        `process ${JSON.stringify(op.child)} can never be created: the thread that forks it ` +
          `belongs to ${JSON.stringify(process)}, which descends from it`,
      );
    for (const copy of tables.copies.get(seq) ?? []) {
      const owner = tables.mappings.get(copy.name);
      if (owner !== undefined && owner.site.seq !== seq)
        fail(
          at("child"),
          `the child's copy of mapping ${JSON.stringify(copy.of)} is named ` +
            `${JSON.stringify(copy.name)}, which is already defined at ${owner.site.path}`,
        );
    }
    if (node.inSetup) setupProcesses.add(op.child);
  }
}

/** The mapping `map` names, which must belong to the op's process and, in setup, exist already. */
function visibleMapping(
  map: string,
  mapPath: string,
  node: OpNode,
  seq: number,
  tables: Tables,
): Mapping {
  const mapping = tables.mappings.get(map);
  if (mapping === undefined)
    fail(
      mapPath,
      `unknown mapping ${JSON.stringify(map)}; an mmap op's "as" names a mapping, ` +
        `and a fork names the child's copy of mapping m "m@child"`,
    );
  if (mapping.process !== node.process)
    fail(
      mapPath,
      `mapping ${JSON.stringify(map)} belongs to process ${JSON.stringify(mapping.process)}, ` +
        `not to ${JSON.stringify(node.process)} (mappings are per process)`,
    );
  if (node.inSetup && mapping.site.seq > seq)
    fail(
      mapPath,
      `mapping ${JSON.stringify(map)} does not exist yet at this point of setup ` +
        `(it is made at ${mapping.site.path})`,
    );
  return mapping;
}
