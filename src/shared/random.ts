import { randomFillSync } from 'node:crypto';

/**
 * Randomness. Every consumer (initialization, sampling, noise, the simulator)
 * takes a `Random` as an argument so that runs are reproducible. `createRandom`
 * is seeded (mulberry32); `cryptoRandom` draws from the OS CSPRNG and is what
 * differential-privacy noise uses outside tests.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Standard normal. */
  normal(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** Build a `Random` from a uniform source: normals by Box-Muller, cached in pairs. */
function fromUniform(next: () => number): Random {
  let spare: number | null = null;
  const normal = (): number => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  return { next, normal, int: (n: number) => Math.floor(next() * n) };
}

/** Seeded generator (mulberry32): same seed, same sequence. */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  return fromUniform(() => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  });
}

const CRYPTO_BATCH_WORDS = 65_536; // 256 KiB per call to the CSPRNG: 32,768 doubles

/**
 * Uniform doubles in [0, 1) with 53 random bits each, from the operating
 * system's CSPRNG (node:crypto). Words are drawn in large batches: one call per
 * draw costs ten times more, and Skellam noise for a model update needs
 * millions of draws.
 */
export function cryptoUniform(): () => number {
  const words = new Uint32Array(CRYPTO_BATCH_WORDS);
  let index = CRYPTO_BATCH_WORDS;
  return () => {
    if (index >= CRYPTO_BATCH_WORDS) {
      randomFillSync(words);
      index = 0;
    }
    // 53 random bits from two 32-bit words
    const hi = words[index++] >>> 5;
    const lo = words[index++] >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  };
}

/**
 * A `Random` backed by the operating system's CSPRNG. Noise from a guessable
 * seed could be regenerated and subtracted by whoever reads the delta.
 */
export function cryptoRandom(): Random {
  return fromUniform(cryptoUniform());
}

/** Derive a seed for a sub-stream (e.g. per participant) from a base seed and a label. */
export function deriveSeed(seed: number, label: string): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h >>> 0;
}
