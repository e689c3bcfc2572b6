import { type MerchantSpec, startKlarnaSimulator } from '../src/simulators/klarna/index.ts';
import { startSpirisSimulator } from '../src/simulators/spiris/index.ts';

// Both simulators in a process of their own, so the benchmark's memory figure is the
// syncing process alone. Prints one JSON line with where to reach them, then serves
// until its parent closes stdin.

const spec = JSON.parse(process.env.BENCH_MERCHANT_SPEC ?? '{}') as MerchantSpec;
const klarna = await startKlarnaSimulator({ rateLimitPerSecond: 0, merchants: [spec] });
const spiris = await startSpirisSimulator({
  today: '2026-06-15',
  rateLimitPerMinute: 0,
  requestLogLimit: 10,
});
const merchant = klarna.merchants[0]!;
const tokens = spiris.issueTokens();
const largest = merchant.payouts.reduce(
  (max, p) => Math.max(max, merchant.transactionCountFor(p.payment_reference)),
  0,
);

process.stdout.write(
  `${JSON.stringify({
    klarnaUrl: klarna.url,
    apiKey: merchant.credentials.apiKey,
    username: merchant.credentials.username,
    merchantId: merchant.merchantId,
    payouts: merchant.payouts.map((p) => p.payment_reference),
    transactionCount: merchant.transactionCount,
    largestPayout: largest,
    spirisApiBaseUrl: spiris.apiBaseUrl,
    spirisIdentityBaseUrl: spiris.identityBaseUrl,
    spirisClientId: spiris.clientId,
    spirisClientSecret: spiris.clientSecret,
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    // For checking the books afterwards, apart from the token pair the sync rotates.
    checkAccessToken: spiris.issueTokens().accessToken,
    settlements: Object.fromEntries(
      merchant.payouts.map((p) => [p.payment_reference, p.totals.settlement_amount]),
    ),
  })}\n`,
);

process.stdin.resume();
process.stdin.on('end', async () => {
  process.stdout.write(`${JSON.stringify({ spirisVouchers: spiris.vouchers.length })}\n`);
  await Promise.all([klarna.close(), spiris.close()]);
  process.exit(0);
});
