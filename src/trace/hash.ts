// FNV-1a 64: a small, deterministic, dependency-free hash for content hashes (scenario files
// named in replay tokens) and execution fingerprints. The 64-bit state is kept in two 32-bit
// lanes because every intermediate product then stays exact in a double.

export class Fnv1a64 {
  // Offset basis 0xcbf29ce484222325; prime 0x100000001b3 = 2^40 + 0x1b3.
  private hi = 0xcbf29ce4;
  private lo = 0x84222325;

  /** Mixes in one byte. */
  byte(byte: number): this {
    this.lo = (this.lo ^ (byte & 0xff)) >>> 0;
    // h * 2^40 moves lo's low 24 bits into hi's top 24 bits; hi's own shift leaves the 64 bits.
    const loProduct = this.lo * 0x1b3;
    const carry = Math.floor(loProduct / 0x100000000);
    this.hi = (this.hi * 0x1b3 + carry + ((this.lo << 8) >>> 0)) >>> 0;
    this.lo = loProduct >>> 0;
    return this;
  }

  /** Mixes in a 32-bit unsigned integer, little-endian. */
  u32(n: number): this {
    return this.byte(n)
      .byte(n >>> 8)
      .byte(n >>> 16)
      .byte(n >>> 24);
  }

  /** Mixes in the UTF-8 bytes of `text` (a lone surrogate counts as U+FFFD, as TextEncoder). */
  text(text: string): this {
    for (const ch of text) {
      let cp = ch.codePointAt(0)!;
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
      if (cp < 0x80) {
        this.byte(cp);
      } else if (cp < 0x800) {
        this.byte(0xc0 | (cp >> 6)).byte(0x80 | (cp & 0x3f));
      } else if (cp < 0x10000) {
        this.byte(0xe0 | (cp >> 12))
          .byte(0x80 | ((cp >> 6) & 0x3f))
          .byte(0x80 | (cp & 0x3f));
      } else {
        this.byte(0xf0 | (cp >> 18))
          .byte(0x80 | ((cp >> 12) & 0x3f))
          .byte(0x80 | ((cp >> 6) & 0x3f))
          .byte(0x80 | (cp & 0x3f));
      }
    }
    return this;
  }

  /** The hash as 16 lowercase hex digits. */
  hex(): string {
    return this.hi.toString(16).padStart(8, "0") + this.lo.toString(16).padStart(8, "0");
  }
}

/** FNV-1a 64 of the UTF-8 bytes of `text`, as 16 hex digits. */
export function fnv1a64(text: string): string {
  return new Fnv1a64().text(text).hex();
}
