import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, expect, it, vi } from 'vitest';
import { createMetrics } from './metrics.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

afterEach(() => vi.restoreAllMocks());

const value = (text: string, name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

async function majorGc(): Promise<void> {
  gc();
  // Performance observers are called after the collection, on a later turn of the event loop.
  await new Promise((r) => setTimeout(r, 100));
}

it('the garbage-collection observer survives a resident-set read that fails (EMFILE) and keeps the last value', async () => {
  const metrics = createMetrics(() => undefined);
  await majorGc();
  const before = await metrics.registry.metrics();
  expect(value(before, 'shoal_process_rss_after_major_gc_bytes')).toBeGreaterThan(0);
  // Out of file descriptors, Node cannot read /proc/self/stat: this threw outside any handler and ended the process.
  vi.spyOn(process.memoryUsage, 'rss').mockImplementation(() => {
    throw Object.assign(new Error('EMFILE: too many open files, uv_resident_set_memory'), { code: 'EMFILE' });
  });
  await majorGc();
  const after = await metrics.registry.metrics();
  expect(value(after, 'shoal_process_major_gcs_total')).toBeGreaterThan(value(before, 'shoal_process_major_gcs_total'));
  expect(value(after, 'shoal_process_rss_after_major_gc_bytes')).toBe(value(before, 'shoal_process_rss_after_major_gc_bytes'));
});

it('a gauge that cannot be read keeps its last value instead of failing the scrape', async () => {
  let broken = false;
  const metrics = createMetrics(() => {
    if (broken) throw new Error('stats unavailable');
    return { reports: 3, paragraphs: 7, deletedParagraphs: 0, writesSinceBuild: 0 } as never;
  });
  expect(value(await metrics.registry.metrics(), 'shoal_index_paragraphs')).toBe(7);
  broken = true;
  expect(value(await metrics.registry.metrics(), 'shoal_index_paragraphs')).toBe(7);
});
