import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { EmbeddingsModelListSchema, EmbeddingsModelSchema, EmbeddingsRequestSchema, EmbeddingsResponseSchema, ErrorSchema, type EmbeddingsInput } from '../../api/index.ts';
import { SearchError } from '../../core/errors.ts';
import type { SearchEngine } from '../../engine/index.ts';
import { engineOf } from '../engine-state.ts';
import { decodeCl100k } from '../openai-tokens.ts';
import { createRouter, ERROR_RESPONSES, jsonResponse } from '../openapi.ts';
import type { RouteDeps } from './deps.ts';

type Model = NonNullable<SearchEngine['model']>;

/**
 * OpenAI's embeddings API, answered by the model shoal indexes with: `POST /v1/embeddings`, and
 * `GET /v1/models` and `GET /v1/models/{model}`, which name that model. A request's `model` is the
 * served model's id or its shoal name; any other (OpenAI's own names included) is refused, naming the
 * one that works, so a client never gets vectors of a model other than the one it asked for.
 */
export function embeddingsRoutes({ state, metrics }: RouteDeps): OpenAPIHono {
  const app = createRouter();
  // OpenAI's `created`: when this server started serving (a model here has no creation time of its own).
  const created = Math.floor(Date.now() / 1000);
  const describe = (model: Model) => ({ id: model.id, object: 'model' as const, created, owned_by: 'shoal' });
  const names = (model: Model) => (model.name === model.id ? `"${model.id}"` : `"${model.id}" (or its shoal name "${model.name}")`);

  app.openapi(createRoute({
    method: 'post', path: '/v1/embeddings', operationId: 'createEmbedding', tags: ['openai'], summary: 'Embeddings with the loaded model (OpenAI-compatible)',
    description: 'The request and response of OpenAI\'s embeddings API, answered by the model shoal indexes with, so a chat stack embeds as shoal does. '
      + 'Takes texts or cl100k_base token ids (decoded into text, as OpenAI\'s SDKs and LangChain send them). Vectors are L2-normalised.',
    request: { body: { content: { 'application/json': { schema: EmbeddingsRequestSchema } }, required: true } },
    responses: { 200: jsonResponse(EmbeddingsResponseSchema, 'One embedding per input, in order'), ...ERROR_RESPONSES },
  }), async (c) => {
    const body = c.req.valid('json');
    const engine = engineOf(state);
    const model = engine.model;
    if (!model) throw new SearchError('MODEL_UNAVAILABLE', 'no embedding model is loaded');
    if (body.model !== undefined && body.model !== model.name && body.model !== model.id) {
      throw new SearchError('INVALID_ARGUMENT', `model "${body.model}" is not served here: this server embeds with ${model.id}; send model ${names(model)}, or leave it out`, { details: { field: 'model' } });
    }
    if (body.dimensions !== undefined && body.dimensions !== model.dimension) {
      throw new SearchError('INVALID_ARGUMENT', `dimensions must be ${model.dimension} (${model.name} vectors are not truncated)`, { details: { field: 'dimensions' } });
    }
    const inputs = await textsOf(body.input);
    const t0 = performance.now();
    const { vectors, tokens } = await engine.embed(inputs, body.input_type, { signal: c.get('signal') });
    metrics.embedSeconds.observe({ kind: 'api' }, (performance.now() - t0) / 1000);
    return c.json({
      object: 'list' as const,
      data: vectors.map((v, index) => ({
        object: 'embedding' as const, index,
        embedding: body.encoding_format === 'base64' ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v),
      })),
      model: model.id,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    }, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/v1/models', operationId: 'listModels', tags: ['openai'], summary: 'The embedding model (OpenAI-compatible)',
    description: 'OpenAI\'s model list, holding the one model this server embeds with (empty when the index has no embedding model). Its id is what `model` of /v1/embeddings takes.',
    responses: { 200: jsonResponse(EmbeddingsModelListSchema, 'The served model'), ...ERROR_RESPONSES },
  }), (c) => {
    const model = engineOf(state).model;
    return c.json({ object: 'list' as const, data: model ? [describe(model)] : [] }, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/v1/models/{model}', operationId: 'retrieveModel', tags: ['openai'], summary: 'One model (OpenAI-compatible)',
    description: 'The served model, by its id or its shoal name; 404 for any other.',
    request: { params: z.object({ model: z.string().openapi({ param: { name: 'model', in: 'path', description: 'The served model\'s id, or its shoal name.' }, example: 'bge-small-en-v1.5' }) }) },
    responses: { 200: jsonResponse(EmbeddingsModelSchema, 'The model'), 404: jsonResponse(ErrorSchema, 'No such model here (the message names the one there is)'), ...ERROR_RESPONSES },
  }), (c) => {
    const { model: wanted } = c.req.valid('param');
    const model = engineOf(state).model;
    if (!model || (wanted !== model.id && wanted !== model.name)) {
      const served = model ? `this server embeds with ${model.id}` : 'this server has no embedding model loaded';
      throw new SearchError('NOT_FOUND', `model "${wanted}" is not served here: ${served}`, { details: { field: 'model' } });
    }
    return c.json(describe(model), 200);
  });
  return app;
}

/** The texts to embed: as given, or decoded from cl100k_base token ids. */
function textsOf(input: EmbeddingsInput): string[] | Promise<string[]> {
  if (typeof input === 'string') return [input];
  // The schema has checked the shape: all texts, all ids (one text's), or all arrays of ids.
  if (typeof input[0] === 'string') return input as string[];
  if (typeof input[0] === 'number') return decodeCl100k([input as number[]], (_, j) => `input.${j}`);
  return decodeCl100k(input as number[][], (i, j) => `input.${i}.${j}`);
}
