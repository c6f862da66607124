// The one source of randomness below cli/: a seeded PRNG (xoshiro128**, seeded through
// splitmix32). Everything that needs a random choice receives a Prng; the same seed always gives
// the same sequence on every platform, because only 32-bit integer arithmetic is used.

/** A seeded, deterministic pseudo-random number generator. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Seeds from any 32-bit integer (other numbers are truncated to 32 bits). */
  constructor(readonly seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.b << 9) >>> 0;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** A uniformly distributed integer in [0, n). `n` must be a positive integer below 2^32. */
  below(n: number): number {
    if (!(n > 0 && n <= 0x100000000 && Number.isInteger(n))) {
      throw new RangeError(`Prng.below: n must be an integer in [1, 2^32], got ${n}`);
    }
    // Rejection sampling keeps the distribution exactly uniform.
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** A number in [0, 1) with 32 bits of randomness. */
  nextFloat(): number {
    return this.nextU32() / 0x100000000;
  }

  /** A fresh generator whose sequence is a deterministic function of this one's next output. */
  fork(): Prng {
    return new Prng(this.nextU32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
