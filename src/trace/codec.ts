// Encoding and decoding of whole traces. The encoded form is JSON with one event per line, so
// that two traces of the same schedule can be compared byte for byte and diffed by line.

import { TRACE_EVENT_TYPES, TRACE_FORMAT, type TraceEvent } from "./events.js";

/** A recorded execution: the events in order, plus free-form metadata (scenario, token). */
export interface Trace {
  readonly format: typeof TRACE_FORMAT;
  readonly meta: Readonly<Record<string, string | number | boolean>>;
  readonly events: readonly TraceEvent[];
}

/**
 * Encodes a trace as text: a header line, then one JSON event per line. Key order follows
 * construction order, which the kernel keeps fixed, so equal traces encode to equal bytes.
 */
export function encodeTrace(trace: Trace): string {
  const lines = [JSON.stringify({ format: trace.format, meta: trace.meta })];
  for (const event of trace.events) lines.push(JSON.stringify(event));
  return `${lines.join("\n")}\n`;
}

/** Thrown by decodeTrace with a message that names the line at fault. */
export class TraceFormatError extends Error {
  override readonly name = "TraceFormatError";
}

const KNOWN_TYPES = new Set<string>(TRACE_EVENT_TYPES);

/** Decodes what encodeTrace wrote. Throws TraceFormatError on anything else. */
export function decodeTrace(text: string): Trace {
  const lines = text.split("\n").filter((line) => line.length > 0);
  const head = parseLine(lines[0], 1);
  if (head.format !== TRACE_FORMAT) {
    throw new TraceFormatError(
      `line 1: expected format "${TRACE_FORMAT}", found ${JSON.stringify(head.format)}`,
    );
  }
  const meta = (head.meta ?? {}) as Trace["meta"];
  const events: TraceEvent[] = [];
  for (let i = 1; i < lines.length; i++) {
    const event = parseLine(lines[i], i + 1);
    if (typeof event.type !== "string" || !KNOWN_TYPES.has(event.type)) {
      throw new TraceFormatError(`line ${i + 1}: unknown event type ${JSON.stringify(event.type)}`);
    }
    if (
      typeof event.step !== "number" ||
      typeof event.task !== "number" ||
      typeof event.site !== "string"
    ) {
      throw new TraceFormatError(
        `line ${i + 1}: an event needs numeric step and task and a string site`,
      );
    }
    events.push(event as unknown as TraceEvent);
  }
  return { format: TRACE_FORMAT, meta, events };
}

function parseLine(line: string | undefined, lineNo: number): Record<string, unknown> {
  if (line === undefined) throw new TraceFormatError("empty trace");
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new TraceFormatError(`line ${lineNo}: not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TraceFormatError(`line ${lineNo}: expected a JSON object`);
  }
  return value as Record<string, unknown>;
}
