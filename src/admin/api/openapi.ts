import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import type { OpenAPIV3_1 } from 'openapi-types';
import { html } from '../web/html.ts';
import { sendPage } from '../web/layout.ts';

const DOCUMENTED = (url: string) => url.startsWith('/api/v1/') || url === '/healthz';

/**
 * The OpenAPI document is generated from the route schemas, so it cannot drift from
 * what the server accepts. Must be registered before the routes it describes.
 */
export async function registerOpenApi(server: FastifyInstance, version: string): Promise<void> {
  await server.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'klarna-spiris API',
        version,
        description:
          'Automation API of klarna-spiris, which books Klarna settlements into Visma Spiris. ' +
          'Authenticate with an API token (admin page "API tokens" or `klarna-spiris admin token create NAME`). ' +
          'Errors are `{ "error": { "code", "message" } }`.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token, ks_…' },
        },
      },
      tags: [
        { name: 'integrations', description: 'Integrations and their health' },
        { name: 'connections', description: 'Klarna and Spiris connections: create, rotate, test' },
        { name: 'mapping', description: 'Which accounts the vouchers book to' },
        { name: 'booking', description: 'Preview, sync now, payouts with retry, skip and reverse' },
        { name: 'mode', description: 'Off, test and live, through the go-live gate' },
        { name: 'history', description: 'Audit log and sync runs' },
        { name: 'ops', description: 'Health and monitoring' },
      ],
    },
    transform: (args) => {
      if (!DOCUMENTED(args.url)) return { schema: { ...args.schema, hide: true }, url: args.url };
      return jsonSchemaTransform(args);
    },
  });
}

export function openApiDocument(server: FastifyInstance): OpenAPIV3_1.Document {
  return server.swagger() as OpenAPIV3_1.Document;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export async function registerOpenApiRoutes(server: FastifyInstance): Promise<void> {
  server.get('/api/openapi.json', { schema: { hide: true } }, async () => openApiDocument(server));

  // A readable index of the same document; the JSON is what tools should consume.
  server.get('/api/docs', { schema: { hide: true } }, async (request, reply) => {
    const t = request.t;
    const doc = openApiDocument(server);
    const ops = Object.entries(doc.paths ?? {}).flatMap(([p, item]) =>
      METHODS.filter((m) => item?.[m]).map((m) => ({
        method: m.toUpperCase(),
        path: p,
        summary: item![m]!.summary ?? '',
      })),
    );
    return sendPage(request, reply, {
      title: t('apiDocs.title'),
      nav: 'apiDocs',
      body: html`<div class="page-head"><h1>${t('apiDocs.title')}</h1><p class="lead">${t('apiDocs.intro')}</p></div>
        <p><a class="btn" href="/api/openapi.json">${t('apiDocs.openapi')}</a></p>
        <div class="table-wrap"><table>
          <caption>${t('apiDocs.caption')}</caption>
          <thead><tr><th scope="col">${t('apiDocs.col.method')}</th><th scope="col">${t('apiDocs.col.path')}</th><th scope="col">${t('apiDocs.col.summary')}</th></tr></thead>
          <tbody>${ops.map(
            (o) =>
              html`<tr><td><span class="method method-${o.method.toLowerCase()}">${o.method}</span></td><td><code>${o.path}</code></td><td>${o.summary}</td></tr>`,
          )}</tbody>
        </table></div>`,
    });
  });
}
