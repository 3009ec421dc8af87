import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { EmbeddingsRequestSchema, EmbeddingsResponseSchema } from '../../api/index.ts';
import { SearchError } from '../../core/errors.ts';
import { engineOf } from '../engine-state.ts';
import { createRouter, ERROR_RESPONSES, jsonResponse } from '../openapi.ts';
import type { RouteDeps } from './deps.ts';

/** `POST /v1/embeddings`: OpenAI's embeddings API, answered by the model shoal indexes with. */
export function embeddingsRoutes({ state, metrics }: RouteDeps): OpenAPIHono {
  const app = createRouter();
  app.openapi(createRoute({
    method: 'post', path: '/v1/embeddings', summary: 'Embeddings with the loaded model (OpenAI-compatible)',
    operationId: 'createEmbedding', tags: ['openai'],
    description: 'The request and response of OpenAI\'s embeddings API, answered by the model shoal indexes with, so a chat stack embeds as shoal does. Vectors are L2-normalised.',
    request: { body: { content: { 'application/json': { schema: EmbeddingsRequestSchema } }, required: true } },
    responses: { 200: jsonResponse(EmbeddingsResponseSchema, 'One embedding per input, in order'), ...ERROR_RESPONSES },
  }), async (c) => {
    const body = c.req.valid('json');
    const engine = engineOf(state);
    const model = engine.model;
    if (!model) throw new SearchError('MODEL_UNAVAILABLE', 'no embedding model is loaded');
    if (body.model !== undefined && body.model !== model.name && body.model !== model.id) {
      throw new SearchError('INVALID_ARGUMENT', `model "${body.model}" is not loaded; this server embeds with ${model.name} (${model.id})`, { details: { field: 'model' } });
    }
    if (body.dimensions !== undefined && body.dimensions !== model.dimension) {
      throw new SearchError('INVALID_ARGUMENT', `dimensions must be ${model.dimension} (${model.name} vectors are not truncated)`, { details: { field: 'dimensions' } });
    }
    const inputs = typeof body.input === 'string' ? [body.input] : body.input;
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
  return app;
}
