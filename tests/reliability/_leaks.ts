/**
 * The leak scan's pure part: unique secrets that cannot occur by chance, and a search
 * for them (whole, or any long enough piece of one) in everything a run produced.
 *
 * @module
 */

/**
 * Lowercase consonants only: no hex digit (`a`-`f`, `0`-`9`), so ids, hashes and
 * timestamps never contain a piece of a secret, and no vowel but `u`/`y`, so words do not.
 */
const ALPHABET = "ghjkmnpqrstvwxz";

/** The shortest piece of a secret the scan looks for (a quoted snippet of it is a leak too). */
export const PIECE_CHARS = 8;

/** A fresh secret of `length` characters from {@linkcode ALPHABET}. */
export function newSecret(length = 32): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join("");
}

/** Something a run produced, named for the report. */
export interface Output {
  where: string;
  text: string;
}

/** A secret found in an output. */
export interface Leak {
  secret: string;
  where: string;
  /** The text around the finding, with the secret's piece shown. */
  context: string;
}

/**
 * Every output holding a secret or a piece of one at least {@linkcode PIECE_CHARS} long.
 * `secrets` maps a name (for the report) to the value.
 */
export function findLeaks(outputs: readonly Output[], secrets: Record<string, string>): Leak[] {
  const leaks: Leak[] = [];
  for (const [name, value] of Object.entries(secrets)) {
    const pieces = new Set<string>();
    for (let i = 0; i + PIECE_CHARS <= value.length; i++) {
      pieces.add(value.slice(i, i + PIECE_CHARS));
    }
    for (const { where, text } of outputs) {
      for (const piece of pieces) {
        const at = text.indexOf(piece);
        if (at < 0) continue;
        leaks.push({
          secret: name,
          where,
          context: text.slice(Math.max(0, at - 60), at + PIECE_CHARS + 60),
        });
        break;
      }
    }
  }
  return leaks;
}
