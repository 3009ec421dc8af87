// Loaded with `node --import` ahead of the CLI: the packages named in SHOAL_OMITTED_PACKAGES (comma
// separated) resolve as absent, as in an install with `npm install --omit=dev`.
import { register } from 'node:module';

register('./omit-dev-hooks.mjs', import.meta.url, { data: (process.env.SHOAL_OMITTED_PACKAGES ?? '').split(',').filter(Boolean) });
