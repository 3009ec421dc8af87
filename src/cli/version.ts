import { readFileSync } from 'node:fs';

/** shoal's version, from its package.json (what `shoal --version` prints and the server reports). */
export const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
