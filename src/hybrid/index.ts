export { DEFAULT_RRF_K, fuse, normalize, type FusedHit, type FusionOptions, type LinearOptions, type Ranking, type RrfOptions } from './fusion.ts';
