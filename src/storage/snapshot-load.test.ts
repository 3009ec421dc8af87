import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Paragraph } from '../core/types.ts';
import { thrownSearchError } from '../../tests/support/errors.ts';
import { decodeParagraphs, encodeParagraphs } from './paragraph-store.ts';
import { readHashed } from './read-hashed.ts';
import { loadSnapshot, loadSnapshotAsync, saveSnapshot, startSnapshotLoad } from './snapshot.ts';

// Loading without blocking the event loop: the same contents and the same refusals as loadSnapshot.

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'shoal-snapshot-load-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

// Large enough to be read on a worker thread (4 MiB and up), and small ones read on this thread.
function files(): Map<string, Uint8Array> {
  return new Map<string, Uint8Array>([
    ['paragraphs.jsonl', Buffer.from('{"key":"r#0","text":"one"}\n', 'utf8')],
    ['big.bin', randomBytes(5 << 20)],
    ['graph.bin', randomBytes(6 << 20)],
    ['empty.bin', new Uint8Array(0)],
  ]);
}

describe('readHashed', () => {
  it('reads and hashes small files here and large ones on worker threads, keeping only what is asked', async () => {
    const small = join(dir, 'small');
    const large = join(dir, 'large');
    writeFileSync(small, 'small file');
    writeFileSync(large, randomBytes((4 << 20) + 3)); // not a multiple of 4: the transferred buffer is exact
    const [a, b, c, d] = await Promise.all(readHashed([
      { path: small, keep: true }, { path: large, keep: true }, { path: large, keep: false }, { path: small, keep: false },
    ]));
    expect(a).toEqual({ bytes: 10, sha256: sha256(readFileSync(small)), data: readFileSync(small) });
    expect(b!.data!.equals(readFileSync(large))).toBe(true);
    expect(b).toMatchObject({ bytes: (4 << 20) + 3, sha256: sha256(readFileSync(large)) });
    expect(c).toEqual({ bytes: (4 << 20) + 3, sha256: sha256(readFileSync(large)) });
    expect(d).toEqual({ bytes: 10, sha256: sha256(readFileSync(small)) });
  });

  it('rejects with the file system code for a missing file, on either path', async () => {
    const results = await Promise.allSettled(readHashed([{ path: join(dir, 'absent'), keep: true }, { path: dir, keep: false }]));
    expect(results[0]).toMatchObject({ status: 'rejected', reason: { code: 'ENOENT' } });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: 'EISDIR' } });
  });
});

describe('startSnapshotLoad / loadSnapshotAsync', () => {
  it('gives the contents loadSnapshot gives, each file as soon as it is verified', async () => {
    const written = files();
    saveSnapshot(dir, written, { label: 'x' });
    const sync = loadSnapshot<{ label: string }>(dir);
    const loaded = await loadSnapshotAsync<{ label: string }>(dir);
    expect(loaded.manifest).toEqual(sync.manifest);
    expect([...loaded.files.keys()].sort()).toEqual([...written.keys()].sort());
    for (const [name, data] of written) expect(loaded.files.get(name)!.equals(Buffer.from(data)), name).toBe(true);

    const load = startSnapshotLoad(dir, { verifyOnly: ['graph.bin'], first: ['graph.bin'] });
    expect(await load.file('graph.bin')).toBeUndefined(); // verified, not kept
    expect((await load.file('big.bin'))!.equals(Buffer.from(written.get('big.bin')!))).toBe(true);
    await load.done;
    await expect(load.file('unlisted.bin')).rejects.toMatchObject({ code: 'INDEX_CORRUPT', message: expect.stringContaining('manifest lists no unlisted.bin') });
  });

  it.each(['paragraphs.jsonl', 'big.bin', 'graph.bin'])('refuses a flipped byte, a truncation or a missing %s as loadSnapshot does', async (name) => {
    const manifest = saveSnapshot(dir, files(), { label: 'x' });
    const path = join(dir, manifest.generation, name);
    const original = readFileSync(path);
    const refusals = async () => {
      const sync = thrownSearchError(() => loadSnapshot(dir));
      await expect(loadSnapshotAsync(dir)).rejects.toMatchObject({ code: sync.code, message: sync.message });
      const load = startSnapshotLoad(dir, { verifyOnly: ['graph.bin'] });
      await expect(load.file(name)).rejects.toMatchObject({ code: 'INDEX_CORRUPT' });
      await expect(load.done).rejects.toMatchObject({ code: 'INDEX_CORRUPT' });
      return sync.message;
    };
    const altered = Buffer.from(original);
    altered[original.length >> 1]! ^= 0x01;
    writeFileSync(path, altered);
    expect(await refusals()).toMatch(/checksum mismatch/);
    writeFileSync(path, original.subarray(0, original.length - 1));
    expect(await refusals()).toMatch(/checksum mismatch/);
    rmSync(path);
    expect(await refusals()).toContain(`missing file ${name}`);
  });

  it('refuses a missing index or an altered manifest at once, as loadSnapshot does', () => {
    expect(thrownSearchError(() => startSnapshotLoad(dir)).code).toBe('INDEX_NOT_FOUND');
    const manifest = saveSnapshot(dir, files(), { label: 'x' });
    const path = join(dir, manifest.generation, 'manifest.json');
    writeFileSync(path, readFileSync(path, 'utf8').replace('"x"', '"y"'));
    expect(thrownSearchError(() => startSnapshotLoad(dir)).message).toMatch(/manifest.*checksum mismatch/);
  });
});

describe('decodeParagraphs', () => {
  const p = (i: number, text: string): Paragraph => ({ key: `r#${i}`, reportId: 'r', ordinal: i, title: 'T', text, start: 0, end: text.length } as Paragraph);

  it('decodes what encodeParagraphs wrote, line by line (multi-byte text included)', () => {
    const paragraphs = [p(0, 'plain'), p(1, 'ünïcödé — 東京 🚢'), p(2, 'line\nbreak inside the JSON string')];
    expect(decodeParagraphs(encodeParagraphs(paragraphs))).toEqual(paragraphs);
    expect(decodeParagraphs(encodeParagraphs([]))).toEqual([]);
    const many = Array.from({ length: 1000 }, (_, i) => p(i, `paragraph ${i}`));
    expect(decodeParagraphs(encodeParagraphs(many))).toEqual(many);
    // Without the final newline, the last line still counts.
    expect(decodeParagraphs(encodeParagraphs(paragraphs).subarray(0, -1))).toEqual(paragraphs);
  });

  it('lets the paragraphs of a report share its fields, never across reports, and takes a paragraph without tags', () => {
    const a = { ...p(0, 'one'), tags: ['x'] };
    const b = { ...p(1, 'two'), tags: ['x'] };
    const c = { ...p(0, 'three'), key: 's#0', reportId: 's', tags: ['x'] };
    const [da, db, dc] = decodeParagraphs(encodeParagraphs([a, b, c]));
    expect([da, db, dc]).toEqual([a, b, c]);
    expect(db!.tags).toBe(da!.tags); // one list for the report
    expect(dc!.tags).not.toBe(db!.tags);
    const untagged = Buffer.from('{"key":"r#0","reportId":"r","text":"a"}\n{"key":"r#1","reportId":"r","text":"b"}\n', 'utf8');
    expect(decodeParagraphs(untagged).map((x) => x.text)).toEqual(['a', 'b']);
  });

  it('names the first bad line, empty lines included', () => {
    const good = encodeParagraphs([p(0, 'a'), p(1, 'b')]).toString('utf8');
    const cases: Array<[string, number]> = [['\n', 1], [`${good}\n`, 3], [`${good}{"key":1}\n`, 3], [`${good.replace('\n', '\n\n')}`, 2], ['not json', 1]];
    for (const [text, line] of cases) {
      const error = thrownSearchError(() => decodeParagraphs(Buffer.from(text, 'utf8'), 'p.jsonl'));
      expect(error.code).toBe('INDEX_CORRUPT');
      expect(error.message).toBe(`p.jsonl: line ${line} is not a paragraph`);
    }
  });
});
