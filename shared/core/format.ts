/**
 * A count and its noun, plural only when plural: "1 page", "0 pages", "2 users". Used by every
 * message that counts something.
 */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
