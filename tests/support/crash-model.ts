// What the crash tests write and what they expect to read back: a seeded PRNG, generated report texts
// (each report with a marker word of its own), and a model of which writes were acknowledged and
// which were still in flight when the server was killed.
import { mulberry32 as uniform } from '../../src/core/index.ts';

/** A seeded pseudo-random source (mulberry32): the same seed gives the same sequence. */
export interface Rng {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max] (both included). */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32 (Tommy Ettinger's 32-bit generator): small, fast, and good enough to pick test cases. */
export function mulberry32(seed: number): Rng {
  const next = uniform(seed);
  return {
    seed: seed >>> 0,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)]!,
    chance: (p) => next() < p,
  };
}

/** A seed for one run of one scenario, derived from the base seed (FNV-1a over the parts). */
export function deriveSeed(base: number, ...parts: Array<string | number>): number {
  let h = 0x811c9dc5 ^ (base >>> 0);
  for (const ch of parts.join('/')) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** In every paragraph of every report: a query for it pages through the whole index. */
export const COMMON_WORD = 'ledger';
/** In every paragraph of the report files of set A (B): a search result never holds both. */
export const SET_WORD = { A: 'qqalpha', B: 'qqbravo' } as const;
export type SetName = keyof typeof SET_WORD;

const VOCABULARY = [
  'harbour', 'dredging', 'berth', 'channel', 'pilot', 'wool', 'auction', 'fleece', 'shearing', 'grain', 'harvest',
  'wheat', 'export', 'silo', 'drought', 'ferry', 'passengers', 'reef', 'coast', 'guard', 'election', 'ballot',
  'turnout', 'coalition', 'minister', 'council', 'bridge', 'railway', 'timber', 'orchard', 'cattle', 'market',
  'storm', 'flood', 'tariff', 'copper', 'mine', 'school', 'hospital', 'festival', 'river', 'valley', 'fishery',
  'quota', 'airport', 'runway', 'budget', 'court', 'inquiry', 'strike', 'union', 'pension', 'village', 'museum',
];
// Letters without vowels, y or s: Porter stemming leaves such a word alone, so markers never merge.
const MARKER_LETTERS = 'bcdfghjklmnpqrtvwxz';

/** A word found nowhere else: `prefix` plus `n` in base 19 over consonants (prefix: consonants too). */
export function markerWord(prefix: string, n: number): string {
  let s = '';
  let v = n;
  for (let i = 0; i < 5; i++) {
    s = MARKER_LETTERS[v % MARKER_LETTERS.length] + s;
    v = Math.floor(v / MARKER_LETTERS.length);
  }
  return prefix + s;
}

/** One version of a report: what a GET must return, paragraph by paragraph. */
export interface Version {
  title: string;
  date: string;
  paragraphs: string[];
}

/**
 * A new version of a report: 1–3 paragraphs of 8–14 words (so the splitter keeps them as they are),
 * each holding the report's marker, {@link COMMON_WORD} and the `extra` words.
 */
export function makeVersion(rng: Rng, title: string, marker: string, extra: readonly string[] = []): Version {
  const paragraphs = Array.from({ length: rng.int(1, 3) }, () => {
    const words = Array.from({ length: rng.int(6, 12) }, () => rng.pick(VOCABULARY));
    for (const w of [marker, COMMON_WORD, ...extra]) words.splice(rng.int(0, words.length), 0, w);
    return `${words.join(' ')}.`;
  });
  return { title, date: `2024-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')}`, paragraphs };
}

/** A report as `POST /reports` takes it. */
export function reportJson(id: string, v: Version): { id: string; title: string; body: string; date: string } {
  return { id, title: v.title, body: v.paragraphs.join('\n\n'), date: v.date };
}

/** A report as a JSON Lines report file holds it. */
export function reportLine(id: string, v: Version): string {
  return JSON.stringify({ id, title: v.title, text: v.paragraphs.join('\n\n'), date: v.date });
}

/** A report as `GET /reports/{id}` returns it; null for 404. */
export interface Observed {
  title: string;
  date?: string;
  paragraphs: Array<{ key: string; ordinal: number; text: string }>;
}

/** True when a report read back is exactly `v` (null: absent). */
export function sameVersion(id: string, observed: Observed | null, v: Version | null): boolean {
  if (v === null || observed === null) return v === observed;
  return observed.title === v.title && observed.date === v.date && observed.paragraphs.length === v.paragraphs.length &&
    observed.paragraphs.every((p, i) => p.key === `${id}#${i}` && p.ordinal === i && p.text === v.paragraphs[i]);
}

/** A hit as `GET /search` returns it (the fields the tests read). */
export interface Hit {
  key: string;
  title: string;
  reportId: string;
  ordinal: number;
  text: string;
}

/** True when the hits of a marker search are exactly the paragraphs of `v` (null: no hits). */
export function hitsAreVersion(id: string, hits: readonly Hit[], v: Version | null): boolean {
  if (v === null) return hits.length === 0;
  if (hits.length !== v.paragraphs.length) return false;
  const byOrdinal = [...hits].sort((a, b) => a.ordinal - b.ordinal);
  return byOrdinal.every((h, i) => h.reportId === id && h.key === `${id}#${i}` && h.ordinal === i && h.title === v.title && h.text === v.paragraphs[i]);
}

/** One write sent to the server: a batch (`POST /reports`), a replacement (`PUT`) or a delete. */
export interface WriteOp {
  n: number;
  kind: 'batch' | 'put' | 'delete';
  ids: string[];
  before: Map<string, Version | null>;
  after: Map<string, Version | null>;
  /** In every paragraph the batch writes (a search for it finds all of the batch or none). */
  batchMarker?: string;
  /** Acknowledged (2xx received); in flight: sent, no answer before the kill. */
  state: 'sent' | 'acked' | 'in-flight' | 'resolved';
  /** A later write to one of its reports was sent: its marker no longer finds all of it. */
  superseded: boolean;
  /** For a write that was in flight at a kill: whether the restarted server shows it. */
  applied?: boolean;
}

/** A report the model tracks. */
export interface TrackedReport {
  id: string;
  marker: string;
  /** The latest acknowledged version (null: absent or deleted). */
  acked: Version | null;
  /** The write to it sent and not yet acknowledged (at most one at a time). */
  pending?: WriteOp;
  /** Every state it ever had or was sent (what a concurrent search may see). */
  history: Array<Version | null>;
  /** Writes sent to it so far. */
  writes: number;
}

/**
 * The writes made through the API and what each report must look like: the latest acknowledged
 * version, or for a report with a write in flight at a kill, that version or the one in flight. At
 * most one write per report is in flight at a time, so "the latest acknowledged version" is defined.
 */
export class WriteModel {
  readonly reports = new Map<string, TrackedReport>();
  readonly ops: WriteOp[] = [];
  private markers = 0;
  private versions = 0;

  constructor(private readonly idPrefix: string, private readonly markerPrefix = 'zq') {}

  /** A report that exists before any write (from a report file). */
  addExisting(id: string, marker: string, v: Version): void {
    this.reports.set(id, { id, marker, acked: v, history: [v], writes: 0 });
  }

  /** Picks and records the next write: a batch of new reports (sometimes with a replacement), a PUT or a DELETE. */
  plan(rng: Rng, mix: { put: number; delete: number } = { put: 0.3, delete: 0.2 }): WriteOp {
    const idle = [...this.reports.values()].filter((r) => r.pending === undefined && r.acked !== null);
    const roll = rng.next();
    if (idle.length > 0 && roll < mix.delete) return this.record('delete', [[rng.pick(idle), null]]);
    if (idle.length > 0 && roll < mix.delete + mix.put) {
      const r = rng.pick(idle);
      return this.record('put', [[r, this.nextVersion(rng, r)]]);
    }
    const batchMarker = markerWord('xk', this.markers++);
    const entries: Array<[TrackedReport, Version | null]> = [];
    for (let i = rng.int(1, 4); i > 0; i--) {
      const id = `${this.idPrefix}${String(this.reports.size).padStart(4, '0')}`;
      const r: TrackedReport = { id, marker: markerWord(this.markerPrefix, this.markers++), acked: null, history: [null], writes: 0 };
      this.reports.set(id, r);
      entries.push([r, this.nextVersion(rng, r, [batchMarker])]);
    }
    if (idle.length > 0 && rng.chance(0.3)) {
      const r = rng.pick(idle);
      entries.push([r, this.nextVersion(rng, r, [batchMarker])]);
    }
    return this.record('batch', entries, batchMarker);
  }

  /** Records a 2xx answer. */
  ack(op: WriteOp): void {
    op.state = 'acked';
    for (const id of op.ids) {
      const r = this.reports.get(id)!;
      r.acked = op.after.get(id)!;
      delete r.pending;
    }
  }

  /** The server died before answering: the write may or may not have been made. */
  inFlight(op: WriteOp): void {
    op.state = 'in-flight';
  }

  /** After a restart: the in-flight write was made (or not); its reports now hold that state. */
  resolve(op: WriteOp, applied: boolean): void {
    op.state = 'resolved';
    op.applied = applied;
    for (const id of op.ids) {
      const r = this.reports.get(id)!;
      r.acked = (applied ? op.after : op.before).get(id)!;
      delete r.pending;
    }
  }

  /** Writes still waiting for an answer or a resolution. */
  unresolved(): WriteOp[] {
    return this.ops.filter((op) => op.state === 'in-flight' || op.state === 'sent');
  }

  private nextVersion(rng: Rng, r: TrackedReport, extra: readonly string[] = []): Version {
    return makeVersion(rng, `report ${r.id} version ${++this.versions}`, r.marker, extra);
  }

  private record(kind: WriteOp['kind'], entries: Array<[TrackedReport, Version | null]>, batchMarker?: string): WriteOp {
    const op: WriteOp = {
      n: this.ops.length, kind, ids: entries.map(([r]) => r.id), before: new Map(), after: new Map(), state: 'sent', superseded: false,
      ...(batchMarker ? { batchMarker } : {}),
    };
    for (const [r, v] of entries) {
      op.before.set(r.id, r.acked);
      op.after.set(r.id, v);
      for (const earlier of this.ops) if (earlier.ids.includes(r.id)) earlier.superseded = true;
      r.pending = op;
      r.history.push(v);
      r.writes++;
    }
    this.ops.push(op);
    return op;
  }
}
