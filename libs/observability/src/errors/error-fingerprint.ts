const MAX_FINGERPRINT_LENGTH = 200;
/** Bounds the regex work on huge messages; placeholders shrink text, so keep 10x the output. */
const MAX_INPUT_LENGTH = 10 * MAX_FINGERPRINT_LENGTH;

/** Order matters: the ones whose text contains digits or quotes run before numbers and strings. */
const REPLACEMENTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  [/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/g, '<time>'],
  [/(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g, '<email>'],
  // A quote only opens or closes at a word edge, so the apostrophes in "can't" or "user's" stay.
  [/(?<!\w)'[^']*'(?!\w)/g, '<str>'],
  [/(?<!\w)"[^"]*"(?!\w)/g, '<str>'],
  // At least one digit and one letter: plain words ("deadline") stay, plain numbers become <n>.
  [/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/gi, '<hex>'],
  [/\d+(?:\.\d+)?/g, '<n>'],
  [/\s+/g, ' '],
];

/**
 * Normalises an error message so that occurrences of one error that differ only in ids,
 * numbers, times, quoted values or emails share a fingerprint.
 */
export function fingerprintOf(message: string): string {
  let fingerprint = message.slice(0, MAX_INPUT_LENGTH);
  for (const [pattern, placeholder] of REPLACEMENTS) {
    fingerprint = fingerprint.replace(pattern, placeholder);
  }
  return fingerprint.trim().slice(0, MAX_FINGERPRINT_LENGTH);
}
