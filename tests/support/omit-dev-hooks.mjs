// Module resolution hooks for omit-dev.mjs: a package it names (or a subpath of one) is not found.
let omitted = new Set();

export function initialize(names) {
  omitted = new Set(names);
}

export function resolve(specifier, context, next) {
  const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
  if (omitted.has(name)) {
    throw Object.assign(new Error(`Cannot find package '${name}' (left out as by --omit=dev)`), { code: 'ERR_MODULE_NOT_FOUND' });
  }
  return next(specifier, context);
}
