/**
 * mulberry32: a small seeded generator, so a fuzz or property test sends the same inputs on every run and a failure
 * repeats.
 *
 * @example
 * const random = seededRandom(20261205);
 * random(); // a number in [0, 1), the same sequence for the same seed
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
