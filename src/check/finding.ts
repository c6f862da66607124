// What the checker reports. `check/` knows nothing of TTM: a finding is a kind (one of the
// contract's kinds, chosen by whoever detected it), a one-line message, the step where it was
// detected and, where one applies, a kernel-style report (a lockdep splat, a hung-task report).

export interface Finding {
  readonly kind: string;
  /** One line, for the summary and the JSON output. */
  readonly message: string;
  /** The step at which it was detected (-1 when detected after the run). */
  readonly step: number;
  /** A multi-line kernel-style report, when one applies. */
  readonly report?: string;
}

/** The key under which findings of one execution are considered the same. */
export function findingKey(f: Finding): string {
  return f.kind;
}
