// Replay tokens: one line that reproduces a finding. A token names the scenario (its name,
// where it was loaded from and the hash of its text, so that a changed file is refused), the
// schedule (the index chosen at each scheduling decision) and what the execution looked like
// (its step count and a fingerprint of every step's task), so that replay can tell at once
// when it diverges.
//
//   fl1.<scenario>.<content hash>.<source, base64url>.<steps>.<fingerprint>.<schedule>
//
// The schedule is one base-36 digit per decision; a run of four or more equal digits is
// written "d_<count in base 36>_".

export const TOKEN_VERSION = "fl1";

export interface ReplayToken {
  readonly scenario: string;
  readonly hash: string;
  /** Where the scenario came from: a file path, or "litmus:<name>" for the built-in library. */
  readonly source: string;
  readonly steps: number;
  readonly fingerprint: string;
  /** The index chosen at each decision. */
  readonly schedule: readonly number[];
}

/** Thrown by decodeToken with a message that says what is wrong with the token. */
export class TokenError extends Error {
  override readonly name = "TokenError";
}

export function encodeSchedule(schedule: readonly number[]): string {
  let out = "";
  for (let i = 0; i < schedule.length; ) {
    const d = schedule[i]!;
    if (!(Number.isInteger(d) && d >= 0 && d < 36))
      throw new RangeError(`schedule choice ${d} is not a base-36 digit`);
    let run = 1;
    while (schedule[i + run] === d) run++;
    const c = d.toString(36);
    out += run >= 4 ? `${c}_${run.toString(36)}_` : c.repeat(run);
    i += run;
  }
  return out;
}

export function decodeSchedule(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; ) {
    const d = Number.parseInt(text[i]!, 36);
    if (Number.isNaN(d)) throw new TokenError(`bad schedule character "${text[i]}" at ${i}`);
    i++;
    if (text[i] === "_") {
      const end = text.indexOf("_", i + 1);
      const count = end < 0 ? Number.NaN : Number.parseInt(text.slice(i + 1, end), 36);
      if (!(count >= 4)) throw new TokenError(`bad run length in schedule at ${i}`);
      for (let k = 0; k < count; k++) out.push(d);
      i = end + 1;
    } else {
      out.push(d);
    }
  }
  return out;
}

function base64url(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unbase64url(text: string): string {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder("utf-8", { fatal: true }).decode(
    Uint8Array.from(binary, (c) => c.charCodeAt(0)),
  );
}

export function encodeToken(t: ReplayToken): string {
  return [
    TOKEN_VERSION,
    t.scenario,
    t.hash,
    base64url(t.source),
    t.steps,
    t.fingerprint,
    encodeSchedule(t.schedule),
  ].join(".");
}

export function decodeToken(text: string): ReplayToken {
  const parts = text.trim().split(".");
  if (parts[0] !== TOKEN_VERSION) {
    throw new TokenError(
      `not a faultline replay token (expected it to start with "${TOKEN_VERSION}.")`,
    );
  }
  if (parts.length !== 7)
    throw new TokenError(
      `a ${TOKEN_VERSION} token has 7 fields separated by ".", this one has ${parts.length}`,
    );
  const [, scenario, hash, source, steps, fingerprint, schedule] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (!/^[a-z0-9][a-z0-9-]*$/.test(scenario)) throw new TokenError("bad scenario name in token");
  if (!/^[0-9a-f]{16}$/.test(hash)) throw new TokenError("bad scenario hash in token");
  if (!/^[0-9a-f]{16}$/.test(fingerprint)) throw new TokenError("bad fingerprint in token");
  const stepCount = Number(steps);
  if (!Number.isSafeInteger(stepCount) || stepCount < 0)
    throw new TokenError("bad step count in token");
  let sourceText: string;
  try {
    sourceText = unbase64url(source);
  } catch {
    throw new TokenError("bad scenario source in token");
  }
  return {
    scenario,
    hash,
    source: sourceText,
    steps: stepCount,
    fingerprint,
    schedule: decodeSchedule(schedule),
  };
}
