import { describe, expect, it } from 'vitest';
import { decodeUtf8, isValidUtf8, isWellFormed } from './text.ts';

describe('the text rule', () => {
  it.each([
    ['a lone continuation byte', [0x61, 0x80]],
    ['an overlong "/"', [0xc0, 0xaf]],
    ['a surrogate in three bytes (CESU-8, WTF-8)', [0xed, 0xa0, 0x80]],
    ['a code point beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a cut two-byte sequence', [0x61, 0xc3]],
  ])('refuses bytes that are not UTF-8: %s', (_name, bytes) => {
    expect(isValidUtf8(Uint8Array.from(bytes))).toBe(false);
    expect(decodeUtf8(Uint8Array.from(bytes))).toBeUndefined();
  });

  it('takes UTF-8, and decodes it without a leading byte-order mark', () => {
    const bytes = Buffer.from('\ufeffcafé 🦈 港', 'utf8');
    expect(isValidUtf8(bytes)).toBe(true);
    expect(decodeUtf8(bytes)).toBe('café 🦈 港');
    expect(isValidUtf8(new Uint8Array(0))).toBe(true);
  });

  it('tells a lone surrogate from a pair', () => {
    expect(isWellFormed('shark 🦈 \ud83e\udd88')).toBe(true);
    for (const text of ['\ud800', 'a\udfffb', '\udc00\ud800', '🦈'.slice(0, 1), 'x'.repeat(1000) + '\ud83e']) expect(isWellFormed(text)).toBe(false);
  });
});
