import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseServerConfig } from './config.ts';
import { createLogger, type LogFormat } from './logger.ts';

/** A logger writing into an array, its destination a terminal or not; `settled` waits for the pretty stream to pass a line on. */
function capture(format: LogFormat, isTTY: boolean, colorize?: boolean) {
  const lines: string[] = [];
  const destination = Object.assign(new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      done();
    },
  }), { isTTY });
  const log = createLogger({ level: 'info', format, destination, ...(colorize === undefined ? {} : { colorize }) });
  const settled = async (count: number): Promise<string[]> => {
    // The pretty format goes through a stream: a line arrives a few turns of the event loop later.
    for (let turn = 0; turn < 1_000 && lines.length < count; turn++) await new Promise((resolve) => setImmediate(resolve));
    return lines;
  };
  return { log, settled };
}

const request = { requestId: 'trace-42', method: 'GET', path: '/search', status: 200, durationMs: 4.21 };

describe('the log format', () => {
  it('is JSON lines when the destination is not a terminal (auto), and when asked (json)', async () => {
    for (const [format, isTTY] of [['auto', false], ['json', true]] as const) {
      const { log, settled } = capture(format, isTTY);
      log.info(request, 'request');
      const [line] = await settled(1);
      expect(JSON.parse(line!)).toMatchObject({ level: 30, service: 'shoal', ...request, msg: 'request' });
    }
  });

  it('is one readable line per record on a terminal (auto), and when asked (pretty)', async () => {
    for (const [format, isTTY] of [['auto', true], ['pretty', false]] as const) {
      const { log, settled } = capture(format, isTTY);
      log.info(request, 'request');
      log.info({ url: 'http://127.0.0.1:8787' }, 'listening');
      log.warn('the embedding model is unavailable');
      const lines = await settled(3);
      expect(lines).toEqual([
        expect.stringMatching(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: GET \/search 200 4\.21 ms \[trace-42\]$/),
        expect.stringMatching(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: listening \{"url":"http:\/\/127\.0\.0\.1:8787"\}$/),
        expect.stringMatching(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: the embedding model is unavailable$/),
      ]);
    }
  });

  it('names the request an error belongs to, and prints its stack', async () => {
    const { log, settled } = capture('pretty', false);
    log.error({ err: new Error('the disk caught fire'), requestId: 'trace-43', method: 'GET', path: '/search' }, 'unhandled error');
    const text = (await settled(2)).join('\n');
    expect(text).toMatch(/ERROR: unhandled error GET \/search \[trace-43\]/);
    expect(text).toMatch(/Error: the disk caught fire\n\s+at /);
  });

  it('colours the level and the status only when told to (a terminal that takes colours)', async () => {
    const plain = capture('pretty', true, false);
    plain.log.info({ ...request, status: 503 }, 'request');
    expect((await plain.settled(1))[0]).not.toContain('\x1b[');
    const coloured = capture('pretty', true, true);
    coloured.log.info({ ...request, status: 503 }, 'request');
    expect((await coloured.settled(1))[0]).toContain('\x1b[31m503');
  });

  it('never writes a key, in either format', async () => {
    for (const format of ['json', 'pretty'] as const) {
      const { log, settled } = capture(format, false);
      log.info({ config: { adminKey: 'admin-key-0123456789abcdef', readKey: 'read-key-0123456789abcdef' }, headers: { authorization: 'Bearer read-key-0123456789abcdef' } }, 'settings');
      const [line] = await settled(1);
      expect(line).not.toMatch(/0123456789abcdef/);
      expect(line).toContain('[Redacted]');
    }
  });
});

describe('the log settings', () => {
  it('come from --log-format / SHOAL_LOG_FORMAT (auto by default) and --log-level / SHOAL_LOG_LEVEL', () => {
    expect(parseServerConfig({}, {}, { indexDir: 'x' })).toMatchObject({ logFormat: 'auto', logLevel: 'info' });
    expect(parseServerConfig({}, { SHOAL_LOG_FORMAT: 'json', SHOAL_LOG_LEVEL: 'warn' }, { indexDir: 'x' })).toMatchObject({ logFormat: 'json', logLevel: 'warn' });
    expect(parseServerConfig({ 'log-format': 'pretty' }, { SHOAL_LOG_FORMAT: 'json' }, { indexDir: 'x' }).logFormat).toBe('pretty');
    expect(() => parseServerConfig({}, { SHOAL_LOG_FORMAT: 'xml' }, { indexDir: 'x' })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', details: { field: 'SHOAL_LOG_FORMAT' } }));
  });
});
