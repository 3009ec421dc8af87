import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../core/errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { CURRENT_FILE, INDEX_FORMAT_VERSION, loadSnapshot, MANIFEST_FILE, readCurrent, saveSnapshot, type Manifest } from './snapshot.ts';
import { thrownSearchError } from '../../tests/support/errors.ts';

interface Meta {
  label: string;
  counts: { docs: number };
}

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'shoal-snapshot-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function filesOf(seed: number): Map<string, Uint8Array> {
  const bytes = new Uint8Array(4096);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + seed * 7) & 0xff;
  return new Map<string, Uint8Array>([
    ['paragraphs.jsonl', Buffer.from(`{"key":"r#0","text":"generation ${seed}"}\n`, 'utf8')],
    ['lexical-0.seg', bytes],
    ['empty.bin', new Uint8Array(0)],
  ]);
}

function generations(indexDir: string): string[] {
  return readdirSync(indexDir).filter((n) => n.startsWith('gen-')).sort();
}

function expectCode(fn: () => unknown, code: ErrorCode): string {
  const error = thrownSearchError(fn);
  expect(error.code).toBe(code);
  return error.message;
}

describe('saveSnapshot / loadSnapshot', () => {
  it('round-trips files and meta', () => {
    const files = filesOf(1);
    const meta: Meta = { label: 'first', counts: { docs: 3 } };
    const manifest = saveSnapshot(dir, files, meta);
    expect(manifest.format).toBe('shoal-index');
    expect(manifest.formatVersion).toBe(INDEX_FORMAT_VERSION);
    expect(manifest.generation).toMatch(/^gen-\d{8}-\d{6}-[0-9a-f]{8}$/);
    expect(manifest.files['lexical-0.seg']).toEqual({ bytes: 4096, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(manifest.files['empty.bin']!.sha256).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(readCurrent(dir)).toBe(manifest.generation);

    const loaded = loadSnapshot<Meta>(dir);
    expect(loaded.dir).toBe(join(dir, manifest.generation));
    expect(loaded.manifest).toEqual(manifest);
    expect(loaded.manifest.meta).toEqual(meta);
    expect([...loaded.files.keys()].sort()).toEqual([...files.keys()].sort());
    for (const [name, data] of files) expect(Buffer.from(data).equals(loaded.files.get(name)!)).toBe(true);
  });

  it('creates the index folder when it does not exist', () => {
    const nested = join(dir, 'a', 'b');
    saveSnapshot(nested, filesOf(2), { label: 'x', counts: { docs: 0 } });
    expect(loadSnapshot<Meta>(nested).manifest.meta.label).toBe('x');
  });

  it('switches CURRENT on a second save and keeps only the newest two generations', () => {
    const first = saveSnapshot(dir, filesOf(1), { label: 'one', counts: { docs: 1 } });
    const second = saveSnapshot(dir, filesOf(2), { label: 'two', counts: { docs: 2 } });
    expect(second.generation).not.toBe(first.generation);
    expect(readFileSync(join(dir, CURRENT_FILE), 'utf8')).toMatch(new RegExp(`^${second.generation} [0-9a-f]{64}\\n$`));
    expect(loadSnapshot<Meta>(dir).manifest.meta.label).toBe('two');
    expect(loadSnapshot<Meta>(dir).files.get('paragraphs.jsonl')!.toString('utf8')).toContain('generation 2');
    expect(generations(dir)).toEqual([first.generation, second.generation].sort());

    const third = saveSnapshot(dir, filesOf(3), { label: 'three', counts: { docs: 3 } });
    expect(readCurrent(dir)).toBe(third.generation);
    expect(generations(dir)).toEqual([second.generation, third.generation].sort());
    expect(existsSync(join(dir, first.generation))).toBe(false);
    // The previous generation is still complete for readers that opened it.
    expect(existsSync(join(dir, second.generation, MANIFEST_FILE))).toBe(true);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it.each(['paragraphs.jsonl', 'lexical-0.seg'])('gives INDEX_CORRUPT when one byte of %s is flipped', (name) => {
    const manifest = saveSnapshot(dir, filesOf(1), { label: 'x', counts: { docs: 1 } });
    const path = join(dir, manifest.generation, name);
    const original = readFileSync(path);
    for (const at of [0, Math.floor(original.length / 2), original.length - 1]) {
      const altered = Buffer.from(original);
      altered[at] = altered[at]! ^ 0x01;
      writeFileSync(path, altered);
      const message = expectCode(() => loadSnapshot(dir), 'INDEX_CORRUPT');
      expect(message).toContain(name);
      expect(message).toMatch(/checksum mismatch/);
    }
    writeFileSync(path, original);
    expect(loadSnapshot(dir).files.get(name)!.equals(original)).toBe(true);
  });

  it('gives INDEX_CORRUPT for a truncated file, a missing file or an unreadable manifest', () => {
    const manifest = saveSnapshot(dir, filesOf(1), { label: 'x', counts: { docs: 1 } });
    const gen = join(dir, manifest.generation);
    const seg = readFileSync(join(gen, 'lexical-0.seg'));
    writeFileSync(join(gen, 'lexical-0.seg'), seg.subarray(0, seg.length - 1));
    expectCode(() => loadSnapshot(dir), 'INDEX_CORRUPT');
    rmSync(join(gen, 'lexical-0.seg'));
    expect(expectCode(() => loadSnapshot(dir), 'INDEX_CORRUPT')).toMatch(/missing file lexical-0\.seg/);
    writeFileSync(join(gen, 'lexical-0.seg'), seg);
    const manifestText = readFileSync(join(gen, MANIFEST_FILE));
    const altered = Buffer.from(manifestText);
    altered[0] = altered[0]! ^ 0x01; // '{' becomes 'z'
    writeFileSync(join(gen, MANIFEST_FILE), altered);
    expectCode(() => loadSnapshot(dir), 'INDEX_CORRUPT');
    rmSync(join(gen, MANIFEST_FILE));
    expectCode(() => loadSnapshot(dir), 'INDEX_CORRUPT');
  });

  it('gives INDEX_CORRUPT for a manifest altered into other valid JSON', () => {
    const manifest = saveSnapshot(dir, filesOf(1), { label: 'x', counts: { docs: 1 } });
    const path = join(dir, manifest.generation, MANIFEST_FILE);
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Manifest<{ label: string }>;
    writeFileSync(path, JSON.stringify({ ...parsed, meta: { ...parsed.meta, label: 'y' } }, null, 2) + '\n');
    expect(expectCode(() => loadSnapshot(dir), 'INDEX_CORRUPT')).toMatch(/manifest.*checksum mismatch/);
  });

  it('gives INDEX_CORRUPT when CURRENT names no valid generation', () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, CURRENT_FILE), '../../etc\n');
    expectCode(() => loadSnapshot(dir), 'INDEX_CORRUPT');
    writeFileSync(join(dir, CURRENT_FILE), 'gen-20250101-000000-deadbeef\n');
    expectCode(() => loadSnapshot(dir), 'INDEX_CORRUPT');
  });

  it('gives INDEX_NOT_FOUND when CURRENT is missing', () => {
    expect(expectCode(() => loadSnapshot(dir), 'INDEX_NOT_FOUND')).toContain(dir);
    expectCode(() => loadSnapshot(join(dir, 'never-created')), 'INDEX_NOT_FOUND');
    const manifest = saveSnapshot(dir, filesOf(1), { label: 'x', counts: { docs: 1 } });
    rmSync(join(dir, CURRENT_FILE));
    expect(existsSync(join(dir, manifest.generation, MANIFEST_FILE))).toBe(true);
    expectCode(() => loadSnapshot(dir), 'INDEX_NOT_FOUND');
    expect(readCurrent(dir)).toBeUndefined();
  });

  it('gives INDEX_INCOMPATIBLE for a manifest with another formatVersion', () => {
    const manifest = saveSnapshot(dir, filesOf(1), { label: 'x', counts: { docs: 1 } });
    const path = join(dir, manifest.generation, MANIFEST_FILE);
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Manifest<Meta>;
    writeFileSync(path, JSON.stringify({ ...parsed, formatVersion: INDEX_FORMAT_VERSION + 1 }));
    expect(expectCode(() => loadSnapshot(dir), 'INDEX_INCOMPATIBLE')).toMatch(/rebuild/);
    writeFileSync(path, JSON.stringify({ ...parsed, format: 'something-else' }));
    expectCode(() => loadSnapshot(dir), 'INDEX_CORRUPT');
  });
});

describe('writeFileAtomic', () => {
  it('writes and replaces a file, leaving no temporary files behind', () => {
    const path = join(dir, 'CURRENT');
    writeFileAtomic(path, 'first\n');
    expect(readFileSync(path, 'utf8')).toBe('first\n');
    writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    for (let i = 0; i < 5; i++) writeFileAtomic(path, `round ${i}`);
    expect(readFileSync(path, 'utf8')).toBe('round 4');
    expect(readdirSync(dir)).toEqual(['CURRENT']);
  });
});
