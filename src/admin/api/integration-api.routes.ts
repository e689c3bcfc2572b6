import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { configuredAccounts } from '../../booking/mapping.ts';
import { evaluateGoLive, gatherGoLiveFacts } from '../../setup/go-live.ts';
import { listPayoutsForIntegration } from '../../store/admin.repository.ts';
import { getConnection } from '../../store/connections.repository.ts';
import { readIntegrationSettings } from '../../sync/integration-settings.ts';
import { PAYOUT_STATES } from '../../sync/payout-state.ts';
import type { SyncPayoutLine } from '../../sync/sync.service.ts';
import type { AdminContext } from '../context.ts';
import { asApi } from '../domain-errors.ts';
import {
  COMMON_ERROR_RESPONSES,
  ErrorBodySchema,
  GateCheckSchema,
  GoLiveRefusedBodySchema,
} from '../errors.ts';
import {
  changeMode,
  connectKlarnaKey,
  connectSpirisIssued,
  previewNow,
  requireIntegration,
  retry,
  reverse,
  saveIntegrationMapping,
  skip,
  testConnections,
} from '../operations.ts';
import { ConnectionSchema, IdParams, security, Timestamp, toConnectionView } from './api.routes.ts';

// /api/v1 routes that act on one integration: connections (create, rotate, test), the
// mapping, preview, mode (through the go-live gate), sync now and its progress, payouts
// with retry, skip and reverse. Each calls the same operation as the admin page.

const RefParams = IdParams.extend({ ref: z.string().min(1).max(200) });
const DateText = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date like 2026-03-01');
const Minor = z.number().int().describe('Minor units (öre) of the currency');

const errors = (...codes: Array<404 | 409 | 422 | 502 | 503>) =>
  Object.fromEntries(codes.map((c) => [c, ErrorBodySchema])) as Record<number, typeof ErrorBodySchema>;

const PayoutLineSchema = z.object({
  paymentReference: z.string(),
  payoutDate: z.string(),
  currencyCode: z.string(),
  settlementAmount: Minor,
  state: z.enum(PAYOUT_STATES),
  voucherNumber: z.string().nullable(),
  reason: z.string().nullable(),
});

const PayoutItemSchema = z.object({
  paymentReference: z.string(),
  payoutDate: Timestamp,
  currencyCode: z.string(),
  settlementAmount: Minor,
  transactionCount: z.number().int().nullable(),
  state: z.string().describe(`One of ${PAYOUT_STATES.join(', ')}`),
  reason: z.string().nullable().describe('Why it waits, was skipped or needs a look'),
  voucherNumber: z.string().nullable(),
});

const CheckSchema = z.object({
  id: z.string(),
  side: z.enum(['klarna', 'spiris', 'integration']),
  status: z.enum(['pass', 'warn', 'fail']),
  title: z.string(),
  message: z.string(),
  fix: z.string().nullable(),
});

const VoucherRowSchema = z.object({
  account: z.string(),
  text: z.string(),
  debitMinor: Minor,
  creditMinor: Minor,
  source: z.string(),
  originalMinor: Minor.optional(),
});

const FailureSchema = z.object({ code: z.string(), message: z.string(), action: z.string() });

const ProgressSchema = z.object({
  integrationId: z.string(),
  running: z.boolean(),
  via: z.enum(['scheduler', 'background', 'elsewhere']).nullable(),
  purpose: z.string().nullable(),
  startedAt: Timestamp.nullable(),
  phase: z
    .object({ name: z.string(), done: z.number().int(), total: z.number().int().nullable() })
    .nullable(),
  counts: z.object({
    fetched: z.number().int().describe('Payouts fetched since the run started'),
    booked: z.number().int().describe('Payouts booked since the run started'),
    waiting: z.number().int().describe('Payouts not booked yet (discovered, ready, posting)'),
    needsAttention: z.number().int(),
  }),
  lastRun: z
    .object({
      id: z.string(),
      kind: z.string(),
      status: z.enum(['running', 'succeeded', 'failed']),
      startedAt: Timestamp,
      finishedAt: Timestamp.nullable(),
      error: z.string().nullable(),
    })
    .nullable(),
  nextRunAt: Timestamp.nullable(),
});

const line = (p: SyncPayoutLine) => p;

export async function registerIntegrationApiRoutes(
  server: FastifyInstance,
  ctx: AdminContext,
): Promise<void> {
  const api = server.withTypeProvider<ZodTypeProvider>();
  const actor = (request: FastifyRequest) => `api:${request.apiToken?.name ?? 'unknown'}`;
  const tags = (t: string) => [t];

  api.post(
    '/integrations/:id/connections/klarna',
    {
      schema: {
        tags: tags('connections'),
        summary: 'Connect a Klarna API key, or rotate it (replaces the current key; payouts stay)',
        description:
          'The key is checked (format, then with Klarna) and stored encrypted; only its masked hint is returned. ' +
          'A test key is refused for a live integration, and a key of another merchant needs confirmMerchantChange.',
        security,
        params: IdParams,
        body: z.object({
          apiKey: z.string().min(1).max(400).describe('klarna_live_api_… or klarna_test_api_…'),
          username: z.string().max(100).optional().describe('The UUID shown next to the key (optional)'),
          region: z.enum(['eu', 'na', 'oc']).optional(),
          baseUrl: z.string().max(300).optional().describe('Another API origin, e.g. a simulator'),
          confirmMerchantChange: z.boolean().optional(),
        }),
        response: {
          201: z.object({
            connection: ConnectionSchema,
            merchantId: z.string().nullable(),
            replacedConnectionId: z.string().nullable(),
            leftLive: z.boolean().describe('The merchant changed, so a live integration went back to test'),
            warnings: z.array(z.string()),
          }),
          ...errors(404, 409, 422, 502),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const integration = await requireIntegration(ctx, request.params.id);
      const r = await connectKlarnaKey(ctx, integration, request.body, actor(request));
      return reply.status(201).send({
        connection: toConnectionView(r.connection),
        merchantId: r.merchantId,
        replacedConnectionId: r.replacedConnectionId,
        leftLive: r.leftLive,
        warnings: r.warnings,
      });
    },
  );

  api.post(
    '/integrations/:id/connections/spiris',
    {
      schema: {
        tags: tags('connections'),
        summary: 'Connect a Spiris company with issued credentials (a refresh token, or an access token)',
        description:
          'For the browser login (OAuth) use the admin page. Host presets: production, sandbox, sandbox-legacy; ' +
          'identityBaseUrl and apiBaseUrl override them. A token for another company than the pinned one is refused ' +
          'before anything is stored.',
        security,
        params: IdParams,
        body: z.object({
          environment: z.enum(['production', 'sandbox', 'sandbox-legacy']),
          grant: z.enum(['refresh_token', 'access_token']),
          clientId: z.string().max(200).optional(),
          clientSecret: z.string().max(400).optional(),
          refreshToken: z.string().max(4000).optional(),
          accessToken: z.string().max(8000).optional(),
          accessTokenExpiresAt: z.string().max(40).optional(),
          identityBaseUrl: z.string().max(300).optional(),
          apiBaseUrl: z.string().max(300).optional(),
          orgNumber: z.string().max(20).optional().describe('The company the credentials must open'),
          confirmCompanyChange: z.boolean().optional(),
        }),
        response: {
          201: z.object({
            connection: ConnectionSchema,
            companyName: z.string(),
            organisationNumber: z.string().nullable(),
            canRefresh: z.boolean(),
            leftLive: z.boolean(),
            warnings: z.array(z.string()),
          }),
          ...errors(404, 409, 422, 502),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const integration = await requireIntegration(ctx, request.params.id);
      const r = await connectSpirisIssued(ctx, integration, request.body, actor(request));
      const connection = (await getConnection(ctx.app.store.db, r.connectionId))!;
      return reply.status(201).send({
        connection: toConnectionView(connection),
        companyName: r.companyName,
        organisationNumber: r.organisationNumber,
        canRefresh: r.canRefresh,
        leftLive: r.leftLive,
        warnings: r.warnings,
      });
    },
  );

  api.post(
    '/integrations/:id/connection-test',
    {
      schema: {
        tags: tags('connections'),
        summary: 'Run the read-only connection test of both sides; one check per line, each with its fix',
        security,
        params: IdParams,
        response: {
          200: z.object({
            at: Timestamp,
            ok: z.boolean().describe('No check failed (warnings allowed)'),
            counts: z.object({ pass: z.number().int(), warn: z.number().int(), fail: z.number().int() }),
            checks: z.array(CheckSchema),
          }),
          ...errors(404),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const integration = await requireIntegration(ctx, request.params.id);
      return testConnections(ctx, integration, actor(request));
    },
  );

  const MappingView = z.object({
    mapping: z.record(z.string(), z.unknown()).describe('The mapping in effect (defaults filled in)'),
    accounts: z.array(
      z.object({
        account: z.string(),
        purpose: z.string(),
        name: z.string().nullable().describe("The account's name in the company's chart, when it was read"),
      }),
    ),
    chartProblem: z.string().nullable(),
  });

  const mappingView = async (integrationId: string) => {
    const integration = await requireIntegration(ctx, integrationId);
    const { mapping } = await asApi(async () => readIntegrationSettings(integration));
    const lookup = await ctx.accountNames.lookup(integration);
    return {
      mapping: mapping as unknown as Record<string, unknown>,
      accounts: configuredAccounts(mapping).map((a) => ({ ...a, name: lookup.names[a.account] ?? null })),
      chartProblem: lookup.problem,
    };
  };

  api.get(
    '/integrations/:id/mapping',
    {
      schema: {
        tags: tags('mapping'),
        summary: 'The account mapping in effect, each account with its name from the chart',
        security,
        params: IdParams,
        response: { 200: MappingView, ...errors(404, 422), ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => mappingView(request.params.id),
  );

  api.put(
    '/integrations/:id/mapping',
    {
      schema: {
        tags: tags('mapping'),
        summary: 'Replace the account mapping (keys left out take their default)',
        description:
          'Same shape as GET …/mapping returns: postingMode, bankAccount, foreignBankAccounts, accounts.<total>, ' +
          'fxRoundingAccount, fxRoundingLimitMinor, feeSplit, cashMethod. A change makes the last connection test ' +
          'and preview stale for going live.',
        security,
        params: IdParams,
        body: z.object({ mapping: z.record(z.string(), z.unknown()) }),
        response: {
          200: MappingView.extend({
            changes: z.array(z.object({ key: z.string(), from: z.unknown(), to: z.unknown() })),
          }),
          ...errors(404, 422),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const integration = await requireIntegration(ctx, request.params.id);
      const { changes } = await saveIntegrationMapping(
        ctx,
        integration,
        request.body.mapping,
        actor(request),
      );
      return { ...(await mappingView(integration.id)), changes };
    },
  );

  api.post(
    '/integrations/:id/preview',
    {
      schema: {
        tags: tags('booking'),
        summary: 'The vouchers the next sync would post, with every gate result; posts nothing',
        security,
        params: IdParams,
        body: z.object({ since: DateText.optional() }).optional(),
        response: {
          200: z.object({
            window: z.object({ since: z.string(), until: z.string() }),
            counts: z.object({
              payouts: z.number().int(),
              ready: z.number().int(),
              blocking: z.number().int(),
              skip: z.number().int(),
            }),
            payouts: z.array(
              z.object({
                paymentReference: z.string(),
                payoutDate: z.string(),
                currencyCode: z.string(),
                settlementAmount: Minor,
                verdict: z.enum(['ready', 'needs_attention', 'skip', 'waiting']),
                voucher: z
                  .object({ date: z.string(), text: z.string(), rows: z.array(VoucherRowSchema) })
                  .nullable(),
                failures: z.array(FailureSchema),
                warnings: z.array(z.string()),
              }),
            ),
            lockDateProblem: z.string().nullable(),
          }),
          ...errors(404, 409, 422, 502),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const integration = await requireIntegration(ctx, request.params.id);
      const r = await previewNow(ctx, integration, actor(request), request.body?.since);
      return {
        window: r.window,
        counts: r.counts,
        lockDateProblem: r.lockDateProblem,
        payouts: r.payouts.map((p) => ({
          paymentReference: p.paymentReference,
          payoutDate: p.payoutDate,
          currencyCode: p.currencyCode,
          settlementAmount: p.settlementAmount,
          verdict: p.verdict,
          voucher: p.draft
            ? { date: p.draft.voucherDate, text: p.draft.voucherText, rows: p.draft.rows }
            : null,
          failures: p.failures,
          warnings: p.warnings,
        })),
      };
    },
  );

  api.get(
    '/integrations/:id/go-live',
    {
      schema: {
        tags: tags('mode'),
        summary: 'The go-live checklist as it stands (the confirmation is given when switching)',
        security,
        params: IdParams,
        response: {
          200: z.object({
            mode: z.enum(['off', 'test', 'live']),
            ready: z.boolean().describe('Every check passes except the confirmation'),
            checks: z.array(GateCheckSchema),
          }),
          ...errors(404),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const integration = await requireIntegration(ctx, request.params.id);
      const e = evaluateGoLive(
        await gatherGoLiveFacts(ctx.app.store.db, integration.id, { confirmed: false }),
      );
      return {
        mode: integration.mode,
        ready: e.checks.every((c) => c.ok || c.id === 'confirmation'),
        checks: e.checks,
      };
    },
  );

  api.put(
    '/integrations/:id/mode',
    {
      schema: {
        tags: tags('mode'),
        summary: 'Switch the mode: off, test, or live through the go-live gate',
        description:
          'Live needs a live Klarna key, a production Spiris company, a passing connection test from the last 24 hours, ' +
          'a preview without blocking issues, and confirm: true. Otherwise 409 go_live_refused lists every check with its fix. ' +
          'Off and test are always allowed.',
        security,
        params: IdParams,
        body: z.object({
          mode: z.enum(['off', 'test', 'live']),
          confirm: z
            .boolean()
            .optional()
            .describe('Required for live: vouchers go into the production books'),
        }),
        response: {
          200: z.object({
            mode: z.enum(['off', 'test', 'live']),
            previousMode: z.enum(['off', 'test', 'live']),
            changed: z.boolean(),
            checks: z.array(GateCheckSchema).optional(),
          }),
          409: GoLiveRefusedBodySchema.or(ErrorBodySchema),
          ...errors(404),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const integration = await requireIntegration(ctx, request.params.id);
      const r = await changeMode(
        ctx,
        integration,
        { mode: request.body.mode, confirm: request.body.confirm === true },
        actor(request),
      );
      return {
        mode: r.integration.mode,
        previousMode: r.previousMode,
        changed: r.changed,
        ...(r.evaluation ? { checks: r.evaluation.checks } : {}),
      };
    },
  );

  api.post(
    '/integrations/:id/sync',
    {
      schema: {
        tags: tags('booking'),
        summary: 'Sync now: starts a run and answers at once; follow it with GET …/sync',
        security,
        params: IdParams,
        response: {
          202: z.object({ started: z.literal(true), via: z.enum(['scheduler', 'background']) }),
          ...errors(404, 409, 503),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const integration = await requireIntegration(ctx, request.params.id);
      const { via } = await ctx.jobs.start(integration.id, actor(request));
      return reply.status(202).send({ started: true as const, via });
    },
  );

  api.get(
    '/integrations/:id/sync',
    {
      schema: {
        tags: tags('booking'),
        summary: 'Whether a sync runs now, its progress, the last run and the next scheduled one',
        security,
        params: IdParams,
        response: { 200: ProgressSchema, ...errors(404), ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const integration = await requireIntegration(ctx, request.params.id);
      return ctx.jobs.progress(integration.id);
    },
  );

  api.get(
    '/integrations/:id/payouts',
    {
      schema: {
        tags: tags('booking'),
        summary: 'Payouts, newest first: state, voucher number, amount and reason',
        security,
        params: IdParams,
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(500).default(100),
          offset: z.coerce.number().int().min(0).default(0),
        }),
        response: {
          200: z.object({ items: z.array(PayoutItemSchema), total: z.number().int() }),
          ...errors(404),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const integration = await requireIntegration(ctx, request.params.id);
      const { items, total } = await listPayoutsForIntegration(
        ctx.app.store.db,
        integration.id,
        request.query,
      );
      return {
        total,
        items: items.map((p) => ({
          paymentReference: p.paymentReference,
          payoutDate: p.payoutDate,
          currencyCode: p.currencyCode,
          settlementAmount: p.settlementAmountMinor,
          transactionCount: p.transactionCount,
          state: p.state,
          reason: p.stateReason,
          voucherNumber: p.voucherNumber,
        })),
      };
    },
  );

  api.post(
    '/integrations/:id/payouts/:ref/retry',
    {
      schema: {
        tags: tags('booking'),
        summary: 'Check a waiting (or skipped, or reversed) payout again now and book it if it passes',
        security,
        params: RefParams,
        response: {
          200: z.object({ payout: PayoutLineSchema, error: z.string().nullable() }),
          ...errors(404, 409),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const integration = await requireIntegration(ctx, request.params.id);
      const r = await retry(ctx, integration, request.params.ref, actor(request));
      return { payout: line(r.payout), error: r.error ?? r.failed[0]?.error ?? null };
    },
  );

  api.post(
    '/integrations/:id/payouts/:ref/skip',
    {
      schema: {
        tags: tags('booking'),
        summary: 'Leave a payout out of the automatic booking (booked some other way); the reason is kept',
        security,
        params: RefParams,
        body: z.object({ reason: z.string().trim().min(1).max(300) }),
        response: {
          200: z.object({ payout: PayoutLineSchema }),
          ...errors(404, 409),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const integration = await requireIntegration(ctx, request.params.id);
      return {
        payout: line(await skip(ctx, integration, request.params.ref, request.body.reason, actor(request))),
      };
    },
  );

  api.post(
    '/integrations/:id/payouts/:ref/reverse',
    {
      schema: {
        tags: tags('booking'),
        summary: 'Post a reversing voucher for a booked payout (Spiris vouchers cannot be deleted)',
        description:
          'Needs confirm: true. The payout is booked again on the next sync, or at once with rebook: true.',
        security,
        params: RefParams,
        body: z.object({
          confirm: z.literal(true).describe('The reversing voucher goes into the books'),
          date: DateText.optional().describe('Voucher date of the reversal; default today (Stockholm)'),
          rebook: z.boolean().optional(),
        }),
        response: {
          200: z.object({
            payout: PayoutLineSchema,
            reversedVoucher: z.object({ id: z.string().nullable(), number: z.string().nullable() }),
            reversal: z
              .object({ id: z.string(), number: z.string().nullable(), date: z.string() })
              .nullable(),
            unresolved: z.string().nullable(),
          }),
          ...errors(404, 409),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const integration = await requireIntegration(ctx, request.params.id);
      const r = await reverse(
        ctx,
        integration,
        {
          paymentReference: request.params.ref,
          date: request.body.date,
          rebook: request.body.rebook === true,
        },
        actor(request),
      );
      return {
        payout: line(r.payout),
        reversedVoucher: r.reversedVoucher,
        reversal: r.reversal,
        unresolved: r.unresolved,
      };
    },
  );
}
