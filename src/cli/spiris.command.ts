import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import type { App } from '../app.ts';
import { minorToDecimalString } from '../spiris/amount.ts';
import type { SpirisClient } from '../spiris/spiris.client.ts';
import { openSpirisConnection, type SpirisConnectionHandle } from '../spiris/spiris.connection.ts';
import type { AttachmentContentType, BookedVoucher, SpirisFiscalYear } from '../spiris/spiris.types.ts';
import { parseVoucherFile, VoucherFileError } from '../spiris/voucher-file.ts';
import {
  ensureDefaultIntegration,
  findIntegration,
  listIntegrations,
} from '../store/integrations.repository.ts';
import { type CliContext, CliError, emit, type RegisterCommands } from './context.ts';

const PRODUCT_VARIANTS: Record<number, string> = {
  1: 'Standard',
  2: 'Invoicing',
  3: 'Bookkeeping',
  4: 'Solo',
  5: 'Pro',
  6: 'Invoicing collaboration',
  8: 'Cloud payroll',
};
const BOOKKEEPING_METHODS: Record<number, string> = {
  0: 'invoice method',
  1: 'cash method',
  2: 'no bookkeeping',
};

interface Common {
  integration?: string;
  json?: boolean;
}

export const registerSpirisCommands: RegisterCommands = (program, ctx) => {
  const spiris = program
    .command('spiris')
    .description('Look at the connected Spiris company and post vouchers by hand.');

  const common = (c: Command) =>
    c
      .option('--integration <name>', 'integration whose Spiris connection to use')
      .option('--json', 'print JSON');

  common(spiris.command('company'))
    .description('Company settings: name, organisation number, subscription, locks')
    .action(async (o: Common) => {
      await withSpiris(ctx, o, async ({ client }) => {
        const c = await client.getCompanySettings();
        emit(ctx, !!o.json, c, () =>
          [
            `${c.Name}${c.CorporateIdentityNumber ? ` (${c.CorporateIdentityNumber})` : ''}`,
            `  subscription:   ${c.ProductVariant != null ? (PRODUCT_VARIANTS[c.ProductVariant] ?? c.ProductVariant) : 'unknown'}`,
            `  currency:       ${c.CurrencyCode ?? '-'}  country: ${c.CountryCode ?? '-'}`,
            `  locked through: ${c.AccountingLockedTo ? c.AccountingLockedTo.slice(0, 10) : 'nothing locked'}`,
            `  automatic VAT:  ${c.UseAutomaticVatCalculation ? 'on' : 'off'}`,
          ].join('\n'),
        );
      });
    });

  common(spiris.command('fiscal-years'))
    .description('Fiscal years (räkenskapsår) with their lock state and bookkeeping method')
    .action(async (o: Common) => {
      await withSpiris(ctx, o, async ({ client }) => {
        const years = await collect(client.listFiscalYears());
        emit(ctx, !!o.json, years, () =>
          table(
            ['ID', 'START', 'END', 'LOCKED', 'METHOD'],
            years.map((y) => [
              y.Id,
              y.StartDate.slice(0, 10),
              y.EndDate.slice(0, 10),
              y.IsLockedForAccounting ? 'yes' : 'no',
              BOOKKEEPING_METHODS[y.BookkeepingMethod] ?? String(y.BookkeepingMethod),
            ]),
          ),
        );
      });
    });

  common(spiris.command('accounts'))
    .description('Chart of accounts of one fiscal year (default: the year covering today)')
    .option('--fiscal-year <id>', 'fiscal year id')
    .option('--date <yyyy-mm-dd>', 'the fiscal year covering this date')
    .action(async (o: Common & { fiscalYear?: string; date?: string }) => {
      await withSpiris(ctx, o, async ({ client }) => {
        const fy = await pickFiscalYear(client, o);
        const accounts = await collect(client.listAccounts(fy.Id));
        emit(
          ctx,
          !!o.json,
          accounts,
          () =>
            `Fiscal year ${fy.StartDate.slice(0, 10)} – ${fy.EndDate.slice(0, 10)}\n` +
            table(
              ['NUMBER', 'NAME', 'ACTIVE', 'VAT'],
              accounts.map((a) => [a.Number, a.Name, a.IsActive ? 'yes' : 'no', a.VatCodeDescription ?? '']),
            ),
        );
      });
    });

  common(spiris.command('vatcodes'))
    .description('VAT codes and the accounts they relate to')
    .action(async (o: Common) => {
      await withSpiris(ctx, o, async ({ client }) => {
        const codes = await collect(client.listVatCodes());
        emit(ctx, !!o.json, codes, () =>
          table(
            ['CODE', 'RATE', 'DESCRIPTION', 'ACCOUNTS'],
            codes.map((v) => [
              v.Code,
              `${Math.round(v.VatRate * 10000) / 100} %`,
              v.Description,
              [
                v.RelatedAccounts?.AccountNumber1,
                v.RelatedAccounts?.AccountNumber2,
                v.RelatedAccounts?.AccountNumber3,
              ]
                .filter((n) => n != null)
                .join(', '),
            ]),
          ),
        );
      });
    });

  common(spiris.command('bank-accounts'))
    .description('Bank accounts and their ledger accounts')
    .action(async (o: Common) => {
      await withSpiris(ctx, o, async ({ client }) => {
        const accounts = await collect(client.listBankAccounts());
        emit(ctx, !!o.json, accounts, () =>
          table(
            ['NAME', 'LEDGER', 'TYPE', 'ACTIVE'],
            accounts.map((b) => [
              b.Name,
              String(b.LedgerAccountNumber),
              String(b.BankAccountType),
              b.IsActive ? 'yes' : 'no',
            ]),
          ),
        );
      });
    });

  const voucher = spiris.command('voucher').description('Create, read and list vouchers (verifikationer)');

  common(voucher.command('create'))
    .description('Post a balanced voucher from a JSON file, optionally with a PDF attached')
    .requiredOption(
      '--file <voucher.json>',
      'the voucher, in the API shape or {date, text, rows:[{account, debit|credit, text}]}',
    )
    .option('--attach <file>', 'a PDF (or JPEG/PNG/TIFF) to upload and link to the voucher')
    .action(async (o: Common & { file: string; attach?: string }) => {
      let draft: ReturnType<typeof parseVoucherFile>;
      try {
        draft = parseVoucherFile(JSON.parse(await readFile(o.file, 'utf8')));
      } catch (err) {
        if (err instanceof VoucherFileError || err instanceof SyntaxError)
          throw new CliError(`${o.file}: ${err.message}`, 2);
        throw err;
      }
      const attachment = o.attach ? await readAttachment(o.attach) : undefined;
      await withSpiris(ctx, o, async ({ client }) => {
        // Upload first: a file Spiris refuses should stop us before a voucher exists.
        const uploaded = attachment ? await client.uploadAttachment(attachment) : undefined;
        const created = await client.createVoucher(draft);
        let linked = false;
        if (uploaded) {
          try {
            await client.linkAttachments({ documentId: created.id, attachmentIds: [uploaded.Id] });
            linked = true;
          } catch (err) {
            throw new CliError(
              `Voucher ${created.number ?? created.id} was created, but linking attachment ${uploaded.Id} failed: ${(err as Error).message}`,
            );
          }
        }
        const out = { ...voucherJson(created), attachmentId: uploaded?.Id ?? null, attachmentLinked: linked };
        emit(
          ctx,
          !!o.json,
          out,
          () =>
            `Created voucher ${created.number ?? ''} (${created.id})` +
            (uploaded ? ` with ${attachment!.fileName} attached` : '') +
            `\n${describeVoucher(created)}`,
        );
      });
    });

  common(voucher.command('get'))
    .description('Read one voucher back')
    .argument('<id>', 'voucher id')
    .option('--fiscal-year <id>', 'fiscal year id')
    .option('--date <yyyy-mm-dd>', "a date in the voucher's fiscal year")
    .action(async (id: string, o: Common & { fiscalYear?: string; date?: string }) => {
      await withSpiris(ctx, o, async ({ client }) => {
        if (!o.fiscalYear && !o.date)
          throw new CliError('Give --fiscal-year or --date: vouchers are read per fiscal year.', 2);
        const fy = await pickFiscalYear(client, o);
        const v = await client.getVoucher(fy.Id, id);
        emit(ctx, !!o.json, voucherJson(v), () => describeVoucher(v));
      });
    });

  common(voucher.command('list'))
    .description('Vouchers of one day')
    .requiredOption('--date <yyyy-mm-dd>', 'voucher date')
    .action(async (o: Common & { date: string }) => {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(o.date)) throw new CliError('--date must be yyyy-mm-dd', 2);
      await withSpiris(ctx, o, async ({ client }) => {
        const vouchers = await client.findVouchersByDate(o.date);
        emit(ctx, !!o.json, vouchers.map(voucherJson), () =>
          vouchers.length === 0 ? `No vouchers dated ${o.date}.` : vouchers.map(describeVoucher).join('\n\n'),
        );
      });
    });
};

async function withSpiris(
  ctx: CliContext,
  o: Common,
  fn: (handle: SpirisConnectionHandle, app: App) => Promise<void>,
): Promise<void> {
  const app = await ctx.app();
  const integrationName = o.integration;
  const integration = integrationName
    ? await findIntegration(app.store.db, integrationName)
    : (await listIntegrations(app.store.db)).length > 0
      ? await ensureDefaultIntegration(app.store.db)
      : undefined;
  if (integrationName && !integration) throw new CliError(`No integration named "${integrationName}".`);
  if (!integration?.spirisConnectionId) {
    throw new CliError('No Spiris company is connected yet: run `klarna-spiris connect spiris` first.');
  }
  const handle = await openSpirisConnection(app.store, app.sealer, integration.spirisConnectionId, {
    actor: 'cli',
    onRetry: (info) => app.logger.warn(info, 'retrying a Spiris request'),
  });
  await fn(handle, app);
}

async function pickFiscalYear(
  client: SpirisClient,
  o: { fiscalYear?: string; date?: string },
): Promise<SpirisFiscalYear> {
  if (o.fiscalYear) return client.getFiscalYear(o.fiscalYear);
  const date = o.date ?? new Date().toISOString().slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new CliError('--date must be yyyy-mm-dd', 2);
  const fy = await client.findFiscalYearForDate(date);
  if (!fy) throw new CliError(`Spiris has no fiscal year covering ${date}; create it in Spiris first.`);
  return fy;
}

const CONTENT_TYPES: Record<string, AttachmentContentType> = {
  '.pdf': 'application/pdf',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
};

async function readAttachment(path: string) {
  const contentType = CONTENT_TYPES[extname(path).toLowerCase()];
  if (!contentType)
    throw new CliError(`${path}: Spiris accepts only PDF, JPEG, PNG and TIFF attachments.`, 2);
  const data = await readFile(path);
  // Spiris' limit for one file in Sweden.
  if (data.length > 20 * 1024 * 1024) throw new CliError(`${path}: larger than the 20 MB Spiris accepts.`, 2);
  return { fileName: basename(path), contentType, data };
}

/** The öre view without the wire copy; `--json` users who want the API shape have the API. */
function voucherJson(v: BookedVoucher): Omit<BookedVoucher, 'raw'> {
  const { raw: _raw, ...rest } = v;
  return rest;
}

function describeVoucher(v: BookedVoucher): string {
  const rows = table(
    ['ACCOUNT', 'DEBIT', 'CREDIT', 'TEXT'],
    v.rows.map((r) => [
      String(r.accountNumber),
      r.debitMinor ? minorToDecimalString(r.debitMinor) : '',
      r.creditMinor ? minorToDecimalString(r.creditMinor) : '',
      r.text ?? '',
    ]),
  );
  const attachments = v.attachmentIds.length > 0 ? `\n  attachments: ${v.attachmentIds.join(', ')}` : '';
  return `${v.number ?? '(no number)'}  ${v.date}  ${v.text}  [${v.id}]${attachments}\n${rows}`;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

async function collect<T>(iter: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iter) out.push(x);
  return out;
}
