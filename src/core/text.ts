/**
 * The one rule for text that enters shoal, whatever the door (HTTP bodies and query strings, MCP tool
 * calls, report files): bytes must be valid UTF-8, and strings must be well-formed UTF-16. Nothing is
 * replaced with U+FFFD or passed through: a report is stored, indexed and served as it was sent, or
 * refused with a message that says why.
 */
import { isUtf8 } from 'node:buffer';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * True when bytes are valid UTF-8. Node's simdutf check: 2 ms for 12 MiB, where decoding them takes
 * 60–80 ms, so a body is checked before any reader decodes it, at no real cost.
 */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return isUtf8(bytes);
}

/** Decodes UTF-8 bytes (a leading byte-order mark is dropped); undefined when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

// String.prototype.isWellFormed (ES2024: Node 20 has it, the ES2022 typings do not). On 12 MiB of
// text it takes 17–20 ms, where the regular expression /\p{Cs}/u took 45–77 ms.
const { isWellFormed: wellFormed } = String.prototype as unknown as { isWellFormed: (this: string) => boolean };

/**
 * True when a string is well-formed UTF-16: no lone surrogate (half of a pair, as a JSON `"\ud800"`
 * escape or a YAML `"\ud800"` makes). A lone surrogate has no UTF-8 form: it cannot be stored as
 * written, percent-encoded into a URL or sent back in a JSON answer unchanged.
 */
export function isWellFormed(text: string): boolean {
  return wellFormed.call(text);
}

/** What a refusal of a lone surrogate says, after the field's name. */
export const NOT_WELL_FORMED = 'must be well-formed Unicode (it holds a lone surrogate, such as a "\\ud800" escape, which has no UTF-8 form)';
