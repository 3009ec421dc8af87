/**
 * The one rule for text that enters shoal, whatever the door (HTTP bodies and query strings, MCP tool
 * calls, report files): bytes must be valid UTF-8, and strings must be well-formed UTF-16. Nothing is
 * replaced with U+FFFD or passed through: a report is stored, indexed and served as it was sent, or
 * refused with a message that says why.
 */

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8 bytes (a leading byte-order mark is dropped); undefined when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

// With the `u` flag a surrogate pair is one code point (not Cs), so only a lone surrogate matches.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * True when a string is well-formed UTF-16: no lone surrogate (half of a pair, as a JSON `"\ud800"`
 * escape or a YAML `"\ud800"` makes). A lone surrogate has no UTF-8 form: it cannot be stored as
 * written, percent-encoded into a URL or sent back in a JSON answer unchanged.
 */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** What a refusal of a lone surrogate says, after the field's name. */
export const NOT_WELL_FORMED = 'must be well-formed Unicode (it holds a lone surrogate, such as a "\\ud800" escape, which has no UTF-8 form)';
