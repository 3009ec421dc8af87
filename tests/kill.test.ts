// Crash safety, with real processes: the server and the rebuild (`node scripts/shoal.js ...`) are
// SIGKILLed at seeded random moments (during batch writes, during a rebuild) or at failpoints around
// the pointer switch (`SHOAL_FAILPOINT`, src/core/failpoint.ts), and restarted. Checked: every
// acknowledged write is visible with exactly its acknowledged content (and stays so across rebuilds);
// a batch in flight at the kill is all there or not at all; a killed rebuild leaves the previous
// generation or the whole new one, never a mix, and its leftovers do not break the next one; writes a
// killed `--discard-writes` rebuild dropped stay dropped; torn files are refused with INDEX_CORRUPT;
// searches running meanwhile never fail and never return a paragraph twice; writes killed while the
// journal is compacted in the background (scenario f) are kept as well.
//
// The base seed is random unless SHOAL_KILL_SEED is set; every failure message names it. SHOAL_KILL_ROUNDS
// sets how many seeded runs each random scenario makes (default 5). Timing is
// the machine's, so a seed reproduces the choices (writes, kill points, corruptions), not the exact
// interleaving. Nothing here is timed: waits end on events, and the limits only catch hangs.
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isSearchError } from '../src/core/errors.ts';
import { Engine, openIndex } from '../src/engine/index.ts';
import { readCurrent } from '../src/storage/index.ts';
import {
  COMMON_WORD, deriveSeed, hitsAreVersion, makeVersion, markerWord, mulberry32, reportJson, reportLine, sameVersion, SET_WORD,
  WriteModel, type Hit, type Observed, type Rng, type SetName, type TrackedReport, type Version, type WriteOp,
} from './support/crash-model.ts';
import { call, killAllShoal, mapLimit, restartServerChild, spawnShoal, startServerChild, type Answer, type Exit, type ServerChild, type ServerOptions } from './support/shoal-process.ts';

const BASE_SEED = process.env.SHOAL_KILL_SEED !== undefined ? Number(process.env.SHOAL_KILL_SEED) >>> 0 : randomBytes(4).readUInt32LE(0);
// Runs per scenario (each seeded): 5 keeps the file under a minute on two cores in `npm test`;
// SHOAL_KILL_ROUNDS=N runs each N times (a soak).
const ROUNDS = process.env.SHOAL_KILL_ROUNDS !== undefined ? Math.max(1, Number(process.env.SHOAL_KILL_ROUNDS)) : 5;
const WRITE_KILLS = ROUNDS;
const REBUILD_KILLS = ROUNDS;
const FAILPOINTS_BEFORE_SWITCH = ['snapshot:after-files', 'snapshot:before-pointer', 'atomic:after-temp:CURRENT'] as const;
// Polls wait for an event (a reload, the engine opening); this only bounds a hang.
const POLL_LIMIT_MS = 60_000;

let root: string;
let baseIndex: string;
const setDirs = {} as Record<SetName, string>;
/** The report files of sets A and B: A's ids f000–f029, B's f015–f044 (f015–f029 in both, as other versions). */
const files = { A: new Map<string, Version>(), B: new Map<string, Version>() };
const fileMarkers = new Map<string, string>();

/** Appends the seed to a message, so a failure can be reproduced. */
function sayer(run: string, seed: number): (what: string) => string {
  return (what) => `${what}\n  [${run}, run seed ${seed}; reproduce with SHOAL_KILL_SEED=${BASE_SEED} npx vitest run tests/kill.test.ts]`;
}

const adminKey = (): string => randomBytes(16).toString('hex');
const other = (s: SetName): SetName => (s === 'A' ? 'B' : 'A');

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'shoal-kill-'));
  const rng = mulberry32(deriveSeed(BASE_SEED, 'files'));
  for (let i = 0; i < 45; i++) {
    const id = `f${String(i).padStart(3, '0')}`;
    const marker = markerWord('zf', i);
    fileMarkers.set(id, marker);
    if (i < 30) files.A.set(id, makeVersion(rng, `file report ${id} of set A`, marker, [SET_WORD.A]));
    if (i >= 15) files.B.set(id, makeVersion(rng, `file report ${id} of set B`, marker, [SET_WORD.B]));
  }
  for (const set of ['A', 'B'] as const) {
    setDirs[set] = join(root, `reports-${set}`);
    mkdirSync(setDirs[set]);
    writeFileSync(join(setDirs[set], 'reports.jsonl'), [...files[set]].map(([id, v]) => reportLine(id, v)).join('\n') + '\n');
  }
  baseIndex = join(root, 'base-index');
  const build = spawnShoal(['index', setDirs.A, '--index', baseIndex, '--no-embeddings']);
  const exit = await build.exited;
  if (exit.code !== 0) throw new Error(`building the base index failed: ${JSON.stringify(exit)}\n${build.output()}`);
});

afterEach(async () => {
  await killAllShoal();
});

afterAll(async () => {
  await killAllShoal();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** A fresh index folder holding the base generation (set A, no journal). */
function copyIndex(name: string): string {
  const dir = join(root, name);
  cpSync(baseIndex, dir, { recursive: true });
  return dir;
}

// ---- reading the server

// Markers are rare words one letter apart: searched as written (typos=false), a marker finds its own
// report only, never its neighbours' markers as typo expansions.
async function search(url: string, q: string, offset = 0): Promise<Hit[]> {
  const answer = await call<{ hits: Hit[] }>(url, `/search?q=${encodeURIComponent(q)}&mode=bm25&typos=false&k=100&offset=${offset}`);
  if (answer.status !== 200) throw new Error(`search ${q}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
  return answer.body.hits;
}

async function getReport(url: string, id: string): Promise<Observed | null> {
  const answer = await call<Observed>(url, `/reports/${encodeURIComponent(id)}`);
  if (answer.status === 404) return null;
  if (answer.status !== 200) throw new Error(`GET /reports/${id}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
  return answer.body;
}

async function observeAll(url: string, ids: readonly string[]): Promise<Map<string, Observed | null>> {
  const observed = await mapLimit(ids, 8, (id) => getReport(url, id));
  return new Map(ids.map((id, i) => [id, observed[i]!]));
}

function describeVersion(v: Version | null): string {
  return v === null ? 'absent' : `"${v.title}" (${v.paragraphs.length} paragraphs)`;
}

function describeObserved(o: Observed | null | undefined): string {
  return o == null ? 'absent' : `"${o.title}" (${o.paragraphs.length} paragraphs)`;
}

function asVersion(o: Observed | null): Version | null {
  return o === null ? null : { title: o.title, date: o.date ?? '', paragraphs: o.paragraphs.map((p) => p.text) };
}

/**
 * Search agrees with the reports read back: each marker finds exactly its report's paragraphs, and
 * paging through everything (the word every paragraph holds) lists each live paragraph once.
 */
async function checkSearch(url: string, observed: Map<string, Observed | null>, markerOf: (id: string) => string): Promise<string[]> {
  const problems: string[] = [];
  await mapLimit([...observed.keys()], 8, async (id) => {
    const o = observed.get(id)!;
    const hits = await search(url, markerOf(id));
    if (!hitsAreVersion(id, hits, asVersion(o))) {
      problems.push(`search for ${id}'s marker found [${hits.map((h) => h.key).join(', ')}] but GET /reports/${id} gave ${describeObserved(o)}`);
    }
  });
  const keys: string[] = [];
  for (let offset = 0; ; offset += 100) {
    const page = await search(url, COMMON_WORD, offset);
    keys.push(...page.map((h) => h.key));
    if (page.length < 100) break;
  }
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key)) problems.push(`paragraph ${key} listed twice when paging through "${COMMON_WORD}"`);
    seen.add(key);
  }
  const expected = new Set([...observed.values()].flatMap((o) => o?.paragraphs.map((p) => p.key) ?? []));
  const missing = [...expected].filter((k) => !seen.has(k));
  const extra = [...seen].filter((k) => !expected.has(k));
  if (missing.length > 0) problems.push(`paging through "${COMMON_WORD}" misses live paragraphs: ${missing.slice(0, 10).join(', ')}`);
  if (extra.length > 0) problems.push(`paging through "${COMMON_WORD}" lists paragraphs of no live report: ${extra.slice(0, 10).join(', ')}`);
  return problems;
}

async function waitUntilServing(server: ServerChild, generation: string, say: (what: string) => string): Promise<void> {
  const until = Date.now() + POLL_LIMIT_MS;
  let last: unknown;
  while (Date.now() < until) {
    const ready = await call<{ generation?: string }>(server.url, '/readyz');
    last = ready.body;
    if (ready.status === 200 && ready.body.generation === generation) return;
    await sleep(20);
  }
  throw new Error(say(`the server never switched to ${generation}; /readyz: ${JSON.stringify(last)}`));
}

// ---- searches running alongside (scenario e)

/** One search of the loop and how to judge its hits (called when the answer arrives). */
interface QueryPlan {
  q: string;
  judge(hits: Hit[]): string | undefined;
}

interface QueryLoop {
  /** Resolves once `n` more searches have been answered. */
  more(n: number): Promise<void>;
  /** Stops the loop; resolves with what went wrong. */
  stop(): Promise<string[]>;
}

/**
 * Searches one after another on `lanes` connections (default 2), `pauseMs` apart (default 0; a pause
 * leaves the cores to the processes under test), until stopped. Every answer must be 200 with no
 * paragraph twice and no mix of set A's and set B's paragraphs, and pass the plan's own judgement.
 * Network errors count unless `serverKilled()` (the test killed the server: the lane ends).
 */
function startQueryLoop(url: string, plan: () => QueryPlan, options: { serverKilled?: () => boolean; lanes?: number; pauseMs?: number } = {}): QueryLoop {
  const serverKilled = options.serverKilled ?? (() => false);
  const problems: string[] = [];
  let stopping = false;
  let answered = 0;
  const waiters: Array<{ at: number; resolve: () => void }> = [];
  const note = (problem: string): void => {
    if (problems.length < 20) problems.push(problem);
  };
  const lane = async (): Promise<void> => {
    while (!stopping) {
      const p = plan();
      let answer: Answer<{ hits: Hit[] }>;
      try {
        answer = await call<{ hits: Hit[] }>(url, `/search?q=${encodeURIComponent(p.q)}&mode=bm25&typos=false&k=100`);
      } catch (error) {
        if (!serverKilled()) note(`search "${p.q}" failed: ${(error as Error).message} (${String((error as Error).cause ?? '')})`);
        return;
      }
      if (answer.status !== 200) {
        note(`search "${p.q}" answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
      } else {
        const hits = answer.body.hits;
        const keys = hits.map((h) => h.key);
        if (new Set(keys).size !== keys.length) note(`search "${p.q}" returned a paragraph twice: ${keys.join(', ')}`);
        const sets = new Set(hits.flatMap((h) => (['A', 'B'] as const).filter((s) => h.text.includes(SET_WORD[s]))));
        if (sets.size > 1) note(`search "${p.q}" mixes paragraphs of generations A and B`);
        const why = p.judge(hits);
        if (why) note(why);
      }
      answered++;
      if (options.pauseMs) await sleep(options.pauseMs);
      for (const w of [...waiters]) {
        if (answered >= w.at) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    }
  };
  const running = Promise.all(Array.from({ length: options.lanes ?? 2 }, lane));
  return {
    more: (n) => new Promise<void>((resolve, reject) => {
      waiters.push({ at: answered + n, resolve });
      // A lane that ended (its server is gone) would never answer: fail instead of waiting forever.
      void running.then(() => reject(new Error(`the search loop ended before ${n} more answers: ${problems.join('; ')}`)));
    }),
    stop: async () => {
      stopping = true;
      await running;
      return problems;
    },
  };
}

/**
 * A search for a report's marker: its paragraphs come from one version it had (never parts of two),
 * and from its acknowledged version when no write to it was sent while the search ran.
 */
function reportQuery(r: TrackedReport): QueryPlan {
  const idle = r.pending === undefined;
  const writes = r.writes;
  const acked = r.acked;
  return {
    q: r.marker,
    judge: (hits) => {
      if (!r.history.some((v) => hitsAreVersion(r.id, hits, v))) {
        return `search for ${r.id}'s marker found [${hits.map((h) => `${h.key} "${h.title}"`).join(', ')}]: no version of it (a half-applied write?)`;
      }
      if (idle && r.pending === undefined && r.writes === writes && !hitsAreVersion(r.id, hits, acked)) {
        return `search for ${r.id}'s marker (no write to it in flight) does not show its acknowledged version ${describeVersion(acked)}`;
      }
      return undefined;
    },
  };
}

/**
 * Searches for scenario a: a report's marker ({@link reportQuery}), a batch's marker (all of the batch
 * or none; all once acknowledged), or the word every paragraph holds.
 */
function writeQueries(model: WriteModel, rng: Rng): () => QueryPlan {
  return () => {
    const roll = rng.next();
    const batches = model.ops.filter((op) => op.kind === 'batch');
    if (roll < 0.45 || batches.length === 0) return reportQuery(rng.pick([...model.reports.values()]));
    if (roll < 0.8) {
      const op = rng.pick(batches);
      const ackedBefore = op.state === 'acked' || (op.state === 'resolved' && op.applied === true);
      return {
        q: op.batchMarker!,
        judge: (hits) => {
          if (op.superseded) return undefined; // a later write replaced part of it
          const all = new Set(op.ids.flatMap((id) => op.after.get(id)!.paragraphs.map((_, i) => `${id}#${i}`)));
          const got = new Set(hits.map((h) => h.key));
          const whole = got.size === all.size && [...all].every((k) => got.has(k));
          if (ackedBefore && !whole) return `acknowledged batch ${op.n} (${op.ids.join(', ')}): its marker finds ${got.size} of its ${all.size} paragraphs`;
          if (!whole && got.size > 0) return `batch ${op.n} (${op.ids.join(', ')}) is half visible: ${[...got].join(', ')} of ${[...all].join(', ')}`;
          return undefined;
        },
      };
    }
    return { q: COMMON_WORD, judge: () => undefined };
  };
}

// ---- scenario a: the server SIGKILLed during writes

function sendWrite(server: ServerChild, op: WriteOp): Promise<Answer> {
  const key = server.options.adminKey;
  const id = op.ids[0]!;
  if (op.kind === 'batch') return call(server.url, '/reports', { method: 'POST', key, body: { reports: op.ids.map((i) => reportJson(i, op.after.get(i)!)) } });
  if (op.kind === 'delete') return call(server.url, `/reports/${encodeURIComponent(id)}`, { method: 'DELETE', key });
  const { title, body, date } = reportJson(id, op.after.get(id)!);
  return call(server.url, `/reports/${encodeURIComponent(id)}`, { method: 'PUT', key, body: { title, body, date } });
}

/**
 * Writers send batches, replacements and deletes (a few at a time) while searches run; after a seeded
 * number of acknowledgements and a seeded delay the server is SIGKILLed. Returns what went wrong
 * before the kill, and counts.
 */
async function writeUntilKilled(server: ServerChild, model: WriteModel, rng: Rng): Promise<{ problems: string[]; queryProblems: string[]; acked: number; inFlight: number }> {
  const ackTarget = rng.int(2, 16);
  const killDelayMs = rng.int(0, 15);
  const writers = rng.int(2, 4);
  const problems: string[] = [];
  let killed = false;
  let killing: Promise<unknown> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let acked = 0;
  let inFlight = 0;
  const kill = (): void => {
    if (killed) return;
    killed = true; // before the signal: every network error from here on is the kill's
    killing = server.child.kill();
  };
  const queries = startQueryLoop(server.url, writeQueries(model, mulberry32(rng.int(0, 2 ** 31))), { serverKilled: () => killed, pauseMs: 1 });
  await Promise.all(Array.from({ length: writers }, async () => {
    while (!killed) {
      const op = model.plan(rng);
      let answer: Answer;
      try {
        answer = await sendWrite(server, op);
      } catch (error) {
        model.inFlight(op); // unanswered: made or not, all of it or none
        inFlight++;
        if (!killed) {
          problems.push(`write ${op.n} (${op.kind} ${op.ids.join(', ')}) failed before the kill: ${(error as Error).message}`);
          kill();
        }
        return;
      }
      if (answer.status >= 200 && answer.status < 300) {
        model.ack(op);
        acked++;
        if (acked >= ackTarget && timer === undefined) timer = setTimeout(kill, killDelayMs);
      } else {
        model.inFlight(op);
        inFlight++;
        problems.push(`write ${op.n} (${op.kind} ${op.ids.join(', ')}) answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
        kill();
      }
    }
  }));
  await killing;
  return { problems, queryProblems: await queries.stop(), acked, inFlight };
}

/**
 * After a restart: every report is at its acknowledged version, or, with a write in flight at the
 * kill, at that version or the one in flight, the same way for every report of the write. Resolves
 * the in-flight writes in the model by what the server shows.
 */
async function checkAfterRestart(server: ServerChild, model: WriteModel): Promise<string[]> {
  const observed = await observeAll(server.url, [...model.reports.keys()]);
  const problems: string[] = [];
  for (const r of model.reports.values()) {
    const o = observed.get(r.id)!;
    const op = r.pending;
    if (op === undefined) {
      if (!sameVersion(r.id, o, r.acked)) problems.push(`${r.id}: acknowledged ${describeVersion(r.acked)}, read ${describeObserved(o)}`);
    } else if (!sameVersion(r.id, o, op.before.get(r.id)!) && !sameVersion(r.id, o, op.after.get(r.id)!)) {
      problems.push(`${r.id}: with ${op.kind} ${op.n} in flight, read ${describeObserved(o)}: neither ${describeVersion(op.before.get(r.id)!)} nor ${describeVersion(op.after.get(r.id)!)}`);
    }
  }
  for (const op of model.unresolved()) {
    const made = op.ids.filter((id) => sameVersion(id, observed.get(id)!, op.after.get(id)!));
    const notMade = op.ids.filter((id) => sameVersion(id, observed.get(id)!, op.before.get(id)!));
    if (made.length === op.ids.length) model.resolve(op, true);
    else if (notMade.length === op.ids.length) model.resolve(op, false);
    else problems.push(`${op.kind} ${op.n} in flight at the kill is half made: made for ${made.join(', ')}, not for ${notMade.join(', ')}`);
  }
  problems.push(...await checkSearch(server.url, observed, (id) => model.reports.get(id)!.marker));
  return problems;
}

/**
 * Scenarios a and f: rounds of writes until a seeded SIGKILL, each followed by a restart and a check
 * that every acknowledged write is there. Returns the index folder.
 */
async function writeKillRounds(name: string, options: Pick<ServerOptions, 'compactAfterWrites'>): Promise<string> {
  const dir = copyIndex(name);
  const first = readCurrent(dir);
  const model = new WriteModel(name[0]!);
  for (const [id, v] of files.A) model.addExisting(id, fileMarkers.get(id)!, v);
  let server = await startServerChild(dir, { adminKey: adminKey(), ...options });
  for (let run = 0; run < WRITE_KILLS; run++) {
    const seed = deriveSeed(BASE_SEED, name, run);
    const say = sayer(`${name}, kill ${run}`, seed);
    const result = await writeUntilKilled(server, model, mulberry32(seed));
    expect(result.problems, say('writes before the kill')).toEqual([]);
    expect(result.queryProblems, say('searches during the writes')).toEqual([]);
    server = await startServerChild(dir, server.options);
    expect(await checkAfterRestart(server, model), say(`after the restart (${result.acked} writes acknowledged, ${result.inFlight} in flight at the kill)`)).toEqual([]);
  }
  if (options.compactAfterWrites !== undefined) {
    // Whether a compaction finished between the kills is up to timing; this part is not: write until
    // one switches the served generation, then every acknowledged write must still read back.
    const say = sayer(`${name}, after the kills`, BASE_SEED);
    const rng = mulberry32(deriveSeed(BASE_SEED, name, 'final'));
    const served = async () => (await call<{ generation?: string }>(server.url, '/readyz')).body.generation;
    const start = await served();
    const until = Date.now() + POLL_LIMIT_MS;
    while ((await served()) === start && Date.now() < until) {
      const op = model.plan(rng);
      const answer = await sendWrite(server, op);
      expect(answer.status, say(`write ${op.n}: ${JSON.stringify(answer.body).slice(0, 300)}`)).toBeLessThan(300);
      model.ack(op);
      await sleep(20);
    }
    expect(await served(), say('a background compaction switched the served generation')).not.toBe(start);
    expect(readCurrent(dir)).not.toBe(first);
    expect(await checkAfterRestart(server, model), say('after the compaction')).toEqual([]);
  }
  await server.child.kill();
  return dir;
}

// ---- scenarios b and c: the rebuild killed

/**
 * An index folder that is rebuilt from the report files of set A or B while reports are written through
 * the API: new reports (batches and replacements, in `api`) and replacements and deletes of the report
 * files' ids (`overrides`), which win over whatever a rebuild reads from the files.
 */
interface RebuildWorld {
  dir: string;
  /** The set each generation was built from. */
  labels: Map<string, SetName>;
  api: WriteModel;
  /** The latest acknowledged API write of a report file's id (null: deleted). */
  overrides: Map<string, Version | null>;
  /** Every version a report file's id had or was sent (what a concurrent search may see). */
  fileHistory: Map<string, Array<Version | null>>;
}

function rebuildWorld(name: string): RebuildWorld {
  const dir = copyIndex(name);
  const fileHistory = new Map([...fileMarkers.keys()].map((id) => [id, [files.A.get(id) ?? null, files.B.get(id) ?? null]]));
  return { dir, labels: new Map([[readCurrent(dir)!, 'A']]), api: new WriteModel('api', 'zw'), overrides: new Map(), fileHistory };
}

/**
 * `n` writes through the API, one after another, each acknowledged: new reports and replacements
 * (the model's plan), replacements of report files' ids, and deletes of report files' ids present in
 * both sets (so whichever generation the server has switched to holds them).
 */
async function apiWrites(server: ServerChild, world: RebuildWorld, rng: Rng, n: number, say: (what: string) => string): Promise<void> {
  const key = server.options.adminKey;
  for (let i = 0; i < n; i++) {
    const roll = rng.next();
    const deletable = [...fileMarkers.keys()].filter((id) => (world.overrides.has(id) ? world.overrides.get(id) !== null : files.A.has(id) && files.B.has(id)));
    if (roll < 0.25) {
      const id = rng.pick([...fileMarkers.keys()]);
      const v = makeVersion(rng, `report ${id} rewritten through the API ${world.overrides.size}.${i}`, fileMarkers.get(id)!);
      world.fileHistory.get(id)!.push(v);
      const { title, body, date } = reportJson(id, v);
      const answer = await call(server.url, `/reports/${id}`, { method: 'PUT', key, body: { title, body, date } });
      expect(answer.status, say(`PUT /reports/${id}: ${JSON.stringify(answer.body).slice(0, 300)}`)).toBe(200);
      world.overrides.set(id, v);
    } else if (roll < 0.35 && deletable.length > 0) {
      const id = rng.pick(deletable);
      world.fileHistory.get(id)!.push(null);
      const answer = await call(server.url, `/reports/${id}`, { method: 'DELETE', key });
      expect(answer.status, say(`DELETE /reports/${id}: ${JSON.stringify(answer.body).slice(0, 300)}`)).toBe(200);
      world.overrides.set(id, null);
    } else {
      const op = world.api.plan(rng, { put: 0.4, delete: 0 });
      const answer = await sendWrite(server, op);
      expect(answer.status, say(`API write ${op.n}: ${JSON.stringify(answer.body).slice(0, 300)}`)).toBeLessThan(300);
      world.api.ack(op);
    }
  }
}

/**
 * Searches for scenarios b and c: a report file's marker (one version it had: from A, from B or from
 * the API, never parts of two), an API report's marker ({@link reportQuery}), the two set words (one
 * generation answers), or everything.
 */
function rebuildQueries(world: RebuildWorld, rng: Rng): () => QueryPlan {
  const fileIds = [...fileMarkers.keys()];
  return () => {
    const roll = rng.next();
    if (roll < 0.4) {
      const id = rng.pick(fileIds);
      const history = world.fileHistory.get(id)!;
      return {
        q: fileMarkers.get(id)!,
        judge: (hits) => history.some((v) => hitsAreVersion(id, hits, v)) ? undefined
          : `search for ${id}'s marker found [${hits.map((h) => `${h.key} "${h.title}"`).join(', ')}]: no version it ever had`,
      };
    }
    if (roll < 0.6 && world.api.reports.size > 0) return reportQuery(rng.pick([...world.api.reports.values()]));
    if (roll < 0.8) return { q: `${SET_WORD.A} ${SET_WORD.B}`, judge: () => undefined };
    return { q: COMMON_WORD, judge: () => undefined };
  };
}

/**
 * The server serves exactly one generation: every report file the API did not touch at its version
 * in `set` (absent when `set` lacks it), never a mix of A and B; the generation `CURRENT` names; and
 * every acknowledged API write on top, whatever the rebuilds read from the files.
 */
async function checkServes(server: ServerChild, world: RebuildWorld, set: SetName, say: (what: string) => string): Promise<void> {
  const ready = await call<{ generation?: string }>(server.url, '/readyz');
  expect(ready.status, say(`/readyz: ${JSON.stringify(ready.body)}`)).toBe(200);
  expect(ready.body.generation, say('the served generation is the one CURRENT names')).toBe(readCurrent(world.dir));
  const fileIds = [...fileMarkers.keys()];
  const observed = await observeAll(server.url, [...fileIds, ...world.api.reports.keys()]);
  const untouched = fileIds.filter((id) => !world.overrides.has(id));
  const differ = (s: SetName) => untouched.filter((id) => !sameVersion(id, observed.get(id)!, files[s].get(id) ?? null));
  const notA = differ('A');
  const notB = differ('B');
  expect(notA.length === 0 || notB.length === 0, say(`a mix of generations is served: ${notA.length} report files differ from set A (${notA.slice(0, 5).join(', ')}), ${notB.length} from set B (${notB.slice(0, 5).join(', ')})`)).toBe(true);
  expect(notA.length === 0 ? 'A' : 'B', say('the generation served')).toBe(set);
  const lost = [
    ...[...world.overrides].filter(([id, v]) => !sameVersion(id, observed.get(id)!, v)).map(([id, v]) => [id, v] as const),
    ...[...world.api.reports.values()].filter((r) => !sameVersion(r.id, observed.get(r.id)!, r.acked)).map((r) => [r.id, r.acked] as const),
  ].map(([id, v]) => `${id}: acknowledged ${describeVersion(v)}, read ${describeObserved(observed.get(id))}`);
  expect(lost, say(`API writes: what was acknowledged differs from what generation ${ready.body.generation} (set ${set}) serves`)).toEqual([]);
  const markerOf = (id: string) => fileMarkers.get(id) ?? world.api.reports.get(id)!.marker;
  expect(await checkSearch(server.url, observed, markerOf), say('search agrees with the reports served')).toEqual([]);
}

function generations(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.startsWith('gen-')).sort();
}

describe('crash safety with SIGKILL (seeded; SHOAL_KILL_SEED reproduces a run)', () => {
  it('a, e: SIGKILL during writes: acknowledged writes survive at their latest version, a batch in flight is all or nothing, searches never fail', async () => {
    await writeKillRounds('writes', {});
  }, 240_000);

  it('f: SIGKILL during writes while the journal is compacted in the background: nothing acknowledged is lost, the compacted generations serve', async () => {
    // A compaction after every few writes, so kills land before, during and after them.
    const dir = await writeKillRounds('compaction', { compactAfterWrites: 4 });
    expect(generations(dir).length, 'the live and the previous generation, and at most one a killed compaction left').toBeLessThanOrEqual(3);
  }, 240_000);

  it('b, e: a rebuild SIGKILLed at a random moment leaves the previous generation or the whole new one; a finished rebuild is picked up', async () => {
    const world = rebuildWorld('rebuild');
    const { dir, labels } = world;
    let server = await startServerChild(dir, { adminKey: adminKey(), watch: true });
    await apiWrites(server, world, mulberry32(deriveSeed(BASE_SEED, 'rebuild', 'writes')), 6, sayer('rebuild, first writes', BASE_SEED));
    for (let run = 0; run <= REBUILD_KILLS; run++) {
      const finish = run === REBUILD_KILLS; // the last rebuild runs to the end
      const seed = deriveSeed(BASE_SEED, 'rebuild', run);
      const say = sayer(finish ? 'rebuild to completion' : `rebuild, kill ${run}`, seed);
      const rng = mulberry32(seed);
      const before = readCurrent(dir)!;
      const target = other(labels.get(before)!);
      const queries = startQueryLoop(server.url, rebuildQueries(world, mulberry32(rng.int(0, 2 ** 31))), { pauseMs: 5 });
      const child = spawnShoal(['index', setDirs[target], '--index', dir, '--no-embeddings']);
      await apiWrites(server, world, rng, 3, say); // while the rebuild starts
      let exit: Exit;
      if (finish) {
        exit = await child.exited;
        expect(exit, say(`the rebuild failed\n${child.output()}`)).toEqual({ code: 0, signal: null });
      } else {
        // Killed a seeded delay after it started, began reading, or began saving (the last within the
        // few milliseconds the save and the pointer switch take).
        const at = rng.pick(['start', 'reading', 'saving'] as const);
        if (at === 'reading') await child.waitFor(/reading reports…/).catch(() => undefined); // it may end first
        if (at === 'saving') await child.waitFor(/saving…/).catch(() => undefined);
        await sleep(at === 'start' ? rng.int(0, 1500) : at === 'reading' ? rng.int(0, 40) : rng.int(0, 6));
        exit = await child.kill();
        expect(exit.signal === 'SIGKILL' || exit.code === 0, say(`the rebuild ended with ${JSON.stringify(exit)}\n${child.output()}`)).toBe(true);
      }
      const now = readCurrent(dir)!;
      if (now !== before) labels.set(now, target);
      if (finish) expect(now, say('a finished rebuild switches CURRENT')).not.toBe(before);
      // The running server keeps answering, and follows the pointer when the rebuild got that far.
      await waitUntilServing(server, now, say);
      await apiWrites(server, world, rng, 1, say);
      await queries.more(20);
      expect(await queries.stop(), say(`searches while the rebuild ran (${exit.signal ?? `exit ${exit.code}`})`)).toEqual([]);
      // What is on disk opens, checksums verified: the generation CURRENT names.
      expect(openIndex(dir).generation, say('the generation on disk')).toBe(now);
      if (finish) {
        const reload = await call(server.url, '/admin/reload', { method: 'POST', key: server.options.adminKey });
        expect(reload, say('POST /admin/reload after the watcher switched')).toEqual({ status: 200, body: { reloaded: false, generation: now } });
      } else if (run === REBUILD_KILLS - 1) {
        server = await restartServerChild(server); // the same from a cold start (the other kills: the watcher's reload)
      }
      await checkServes(server, world, labels.get(now)!, say);
    }
    await server.child.kill();
  }, 240_000);

  it('c: failpoints around the pointer switch: before it the previous generation serves, after it the new one; leftovers do not break the next rebuild', async () => {
    const world = rebuildWorld('failpoints');
    const { dir, labels } = world;
    const say = sayer('failpoints', BASE_SEED);
    const rng = mulberry32(deriveSeed(BASE_SEED, 'failpoints'));
    let server = await startServerChild(dir, { adminKey: adminKey() });
    await apiWrites(server, world, rng, 6, say);
    const rebuild = async (failpoint: string | undefined): Promise<{ before: string; now: string; target: SetName; made: string[] }> => {
      const before = readCurrent(dir)!;
      const target = other(labels.get(before)!);
      const gens = new Set(generations(dir));
      const queries = startQueryLoop(server.url, rebuildQueries(world, mulberry32(rng.int(0, 2 ** 31))), { pauseMs: 5 });
      const child = spawnShoal(['index', setDirs[target], '--index', dir, '--no-embeddings'], failpoint ? { SHOAL_FAILPOINT: failpoint } : {});
      await apiWrites(server, world, rng, 2, say);
      const exit = await child.exited;
      await queries.more(10);
      expect(await queries.stop(), say(`searches while the rebuild ran (${failpoint ?? 'no failpoint'})`)).toEqual([]);
      expect(exit, say(`${failpoint ?? 'no failpoint'}: how the rebuild ended\n${child.output()}`)).toEqual(failpoint ? { code: null, signal: 'SIGKILL' } : { code: 0, signal: null });
      return { before, now: readCurrent(dir)!, target, made: generations(dir).filter((g) => !gens.has(g)) };
    };

    for (const failpoint of FAILPOINTS_BEFORE_SWITCH) {
      const step = (what: string) => say(`${failpoint}: ${what}`);
      const { before, now, made } = await rebuild(failpoint);
      expect(now, step('CURRENT still names the previous generation')).toBe(before);
      expect(made.length, step(`one new generation folder: ${made.join(', ')}`)).toBe(1);
      expect(existsSync(join(dir, made[0]!, 'manifest.json')), step('the new folder has its manifest')).toBe(failpoint !== 'snapshot:after-files');
      if (failpoint === 'atomic:after-temp:CURRENT') {
        const temps = readdirSync(dir).filter((n) => n.startsWith('.CURRENT.') && n.endsWith('.tmp'));
        expect(temps.map((t) => readFileSync(join(dir, t), 'utf8').split(' ')[0]), step('the unrenamed pointer names the new generation')).toContain(made[0]);
      }
      expect(openIndex(dir).generation, step('the generation on disk (checksums verified)')).toBe(before);
      await checkServes(server, world, labels.get(before)!, step);
    }
    // Restarted over the three leftovers: the previous generation, with every acknowledged write.
    server = await restartServerChild(server);
    await checkServes(server, world, labels.get(readCurrent(dir)!)!, say);

    // Switched, not yet pruned: the new generation is what a reload (or a restart) opens, checksums verified.
    {
      const step = (what: string) => say(`snapshot:after-pointer: ${what}`);
      const { before, now, target, made } = await rebuild('snapshot:after-pointer');
      expect(made, step('CURRENT names the new generation')).toEqual([now]);
      labels.set(now, target);
      expect(generations(dir).length, step('older generations are still there (the crash came before pruning)')).toBeGreaterThan(2);
      expect((await call<{ generation: string }>(server.url, '/readyz')).body.generation, step('the running server (no watch) still serves the previous one')).toBe(before);
      const reload = await call(server.url, '/admin/reload', { method: 'POST', key: server.options.adminKey });
      expect(reload, step('POST /admin/reload')).toEqual({ status: 200, body: { reloaded: true, generation: now } });
      await checkServes(server, world, target, step);
    }

    // A clean rebuild over the leftovers: it switches, and prunes all but the previous generation.
    {
      const step = (what: string) => say(`clean rebuild after the crashes: ${what}`);
      const { before, now, target } = await rebuild(undefined);
      labels.set(now, target);
      expect(generations(dir), step('the half-written generations are pruned')).toEqual([before, now].sort());
      const reload = await call(server.url, '/admin/reload', { method: 'POST', key: server.options.adminKey });
      expect(reload, step('POST /admin/reload')).toEqual({ status: 200, body: { reloaded: true, generation: now } });
      await checkServes(server, world, target, step);
    }

    await server.child.kill();
  }, 240_000);

  it('c: a rebuild with --discard-writes killed after its switch (before it dropped the writes from the journal): the writes it discarded stay discarded', async () => {
    const world = rebuildWorld('discard');
    const { dir, labels } = world;
    const say = sayer('--discard-writes killed at snapshot:after-pointer', BASE_SEED);
    const server = await startServerChild(dir, { adminKey: adminKey() });
    const key = server.options.adminKey;
    await apiWrites(server, world, mulberry32(deriveSeed(BASE_SEED, 'discard')), 8, say);
    const before = readCurrent(dir)!;
    const target = other(labels.get(before)!);
    const child = spawnShoal(['index', setDirs[target], '--index', dir, '--no-embeddings', '--discard-writes'], { SHOAL_FAILPOINT: 'snapshot:after-pointer' });
    expect(await child.exited, say(`how the rebuild ended\n${child.output()}`)).toEqual({ code: null, signal: 'SIGKILL' });
    const now = readCurrent(dir)!;
    expect(now, say('CURRENT names the new generation')).not.toBe(before);
    labels.set(now, target);
    // Discarded: the report files' ids read as set B has them, the API's own reports are gone.
    const discarded = [...world.overrides.keys(), ...world.api.reports.keys()];
    for (const id of world.overrides.keys()) world.fileHistory.get(id)!.push(files[target].get(id) ?? null);
    world.overrides.clear();
    for (const r of world.api.reports.values()) {
      r.acked = null;
      r.history.push(null);
    }
    expect(await call(server.url, '/admin/reload', { method: 'POST', key }), say('POST /admin/reload')).toEqual({ status: 200, body: { reloaded: true, generation: now } });
    await checkServes(server, world, target, say);

    // The next rebuild (keeping API writes, as by default) must not bring them back.
    const again = spawnShoal(['index', setDirs[target], '--index', dir, '--no-embeddings']);
    expect(await again.exited, say(`the next rebuild\n${again.output()}`)).toEqual({ code: 0, signal: null });
    expect((await call(server.url, '/admin/reload', { method: 'POST', key })).status, say('POST /admin/reload')).toBe(200);
    const observed = await observeAll(server.url, discarded);
    const back = discarded.filter((id) => !sameVersion(id, observed.get(id)!, files[target].get(id) ?? null))
      .map((id) => `${id}: read ${describeObserved(observed.get(id))}`);
    expect(back, say('API writes the killed --discard-writes rebuild discarded (and the server served without) are back after the next rebuild')).toEqual([]);
    await checkServes(server, world, target, say);
    await server.child.kill();
  }, 240_000);

  it('d: a torn or altered file of the live generation is refused with INDEX_CORRUPT, by shoal search and by the server', async () => {
    const rng = mulberry32(deriveSeed(BASE_SEED, 'torn'));
    const say = sayer('torn files', BASE_SEED);
    const generation = readCurrent(baseIndex)!;
    const kinds = [
      { file: 'lexical-0.seg', how: 'truncate' },
      { file: 'lexical-0.seg', how: 'flip' },
      { file: 'paragraphs.jsonl', how: 'flip' },
      { file: 'manifest.json', how: 'flip' },
      { file: 'manifest.json', how: 'truncate' },
      { file: 'CURRENT', how: 'flip' },
      { file: 'CURRENT', how: 'truncate' },
    ] as const;
    const damaged = kinds.map((c, i) => {
      const dir = copyIndex(`torn-${i}`);
      const path = c.file === 'CURRENT' ? join(dir, 'CURRENT') : join(dir, generation, c.file);
      const bytes = readFileSync(path);
      // CURRENT's trailing newline is not part of the pointer: losing or altering it is no damage.
      const size = c.file === 'CURRENT' ? bytes.length - 1 : bytes.length;
      let what: string;
      if (c.how === 'truncate') {
        const length = rng.int(0, size - 1);
        truncateSync(path, length);
        what = `${c.file} truncated from ${bytes.length} to ${length} bytes`;
      } else {
        // In the middle half of a file (the manifest's format version, near its start, is left alone:
        // another version is reported as INDEX_INCOMPATIBLE, as it should be).
        const at = c.file === 'CURRENT' ? rng.int(0, size - 1) : rng.int(Math.floor(size / 4), Math.floor((size * 3) / 4));
        const mask = rng.int(1, 255);
        bytes[at] = bytes[at]! ^ mask;
        writeFileSync(path, bytes);
        what = `${c.file}: byte ${at} of ${bytes.length} xor ${mask}`;
      }
      return { ...c, dir, what, names: c.file === 'CURRENT' ? /CURRENT|manifest\.json/ : new RegExp(c.file.replace('.', '\\.')) };
    });
    // Every kind, opened the way shoal search and the server open an index (in this process: cheap).
    for (const d of damaged) {
      let error: unknown;
      try {
        Engine.open({ indexDir: d.dir }).close();
      } catch (e) {
        error = e;
      }
      expect(isSearchError(error, 'INDEX_CORRUPT'), say(`${d.what}: Engine.open threw ${String(error)}`)).toBe(true);
      expect((error as Error).message, say(`${d.what}: the error names the file`)).toMatch(d.names);
    }
    // Two kinds (seeded) through shoal search as a process: exit 1, the code and the file, no results.
    const picked = [...damaged];
    for (let i = picked.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [picked[i], picked[j]] = [picked[j]!, picked[i]!];
    }
    await Promise.all(picked.slice(0, 2).map(async (d) => {
      const child = spawnShoal(['search', COMMON_WORD, '--index', d.dir, '--mode', 'bm25']);
      const exit = await child.exited;
      expect({ exit, stdout: child.stdout }, say(`${d.what}: shoal search\n${child.output()}`)).toEqual({ exit: { code: 1, signal: null }, stdout: '' });
      expect(child.stderr, say(`${d.what}: the error`)).toMatch(/error \[INDEX_CORRUPT\]/);
      expect(child.stderr, say(`${d.what}: the error names the file`)).toMatch(d.names);
    }));
    // One through the server: it stays up to say why it cannot serve, and serves nothing.
    const d = picked[2]!;
    const server = await startServerChild(d.dir, { adminKey: adminKey(), waitFor: 'listening' });
    const until = Date.now() + POLL_LIMIT_MS;
    let ready = await call<{ error?: { code: string; message: string } }>(server.url, '/readyz');
    while (ready.body.error?.code === 'UNAVAILABLE' && Date.now() < until) { // still opening
      await sleep(20);
      ready = await call(server.url, '/readyz');
    }
    expect(ready.status, say(`${d.what}: /readyz ${JSON.stringify(ready.body)}`)).toBe(503); // not ready, whatever the reason
    expect(ready.body.error?.code, say(`${d.what}: /readyz ${JSON.stringify(ready.body)}`)).toBe('INDEX_CORRUPT');
    expect(ready.body.error?.message, say(`${d.what}: /readyz names the file`)).toMatch(d.names);
    const searched = await call<{ error?: { code: string } }>(server.url, `/search?q=${COMMON_WORD}&mode=bm25`);
    expect({ status: searched.status, code: searched.body.error?.code }, say(`${d.what}: /search`)).toEqual({ status: 503, code: 'INDEX_CORRUPT' }); // not ready, with the reason's code
    await server.child.kill();
  }, 240_000);
});
