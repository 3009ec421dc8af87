// Python's tiktoken downloads cl100k_base's ranks from openaipublic.blob.core.windows.net the first time
// an encoding is used, and LangChain's OpenAIEmbeddings tokenizes with it. The client tests run offline,
// so they give tiktoken a cache folder (TIKTOKEN_CACHE_DIR) that already holds the file, written from the
// ranks js-tiktoken bundles: the same ranks, in the file's own format, byte for byte.
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import cl100k from 'js-tiktoken/ranks/cl100k_base';

// Where tiktoken fetches the file from (tiktoken_ext/openai_public.py), and the SHA-256 it checks the
// file against: a cached file with another digest is deleted and downloaded again.
const URL = 'https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken';
const SHA256 = '223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7';

/**
 * Writes cl100k_base.tiktoken into `dir` under the name tiktoken's cache gives it (the SHA-1 of its
 * URL) and returns `dir`, for `TIKTOKEN_CACHE_DIR`. Throws when the ranks do not reproduce the file.
 */
export function tiktokenCache(dir: string): string {
  // js-tiktoken's compact form: lines of "<prefix> <first rank> <base64 token> <base64 token> …", the
  // tokens taking consecutive ranks; the .tiktoken file has one "<base64 token> <rank>" line per token.
  const lines: string[] = [];
  for (const line of cl100k.bpe_ranks.split('\n')) {
    if (line === '') continue;
    const [, first, ...tokens] = line.split(' ');
    tokens.forEach((token, i) => lines.push(`${token} ${Number(first) + i}\n`));
  }
  const file = lines.join('');
  const digest = createHash('sha256').update(file).digest('hex');
  if (digest !== SHA256) throw new Error(`cl100k_base rebuilt from js-tiktoken has SHA-256 ${digest}, not tiktoken's ${SHA256}: tiktoken would try to download it`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, createHash('sha1').update(URL).digest('hex'));
  writeFileSync(`${path}.${process.pid}.tmp`, file);
  renameSync(`${path}.${process.pid}.tmp`, path);
  return dir;
}
