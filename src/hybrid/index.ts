export { DEFAULT_RRF_K, fuse, normalize, type FusedHit, type FusionOptions, type LinearOptions, type Normalization, type Ranking, type RrfOptions } from './fusion.ts';
export { DEFAULT_LEXICAL_GATE, lexicalGateFactor, type LexicalGate } from './gate.ts';
