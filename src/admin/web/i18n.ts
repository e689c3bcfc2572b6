// The admin UI speaks Swedish by default (the books are Swedish) and English on request.
// Adding a language means adding one more dictionary of the same shape.

const sv = {
  'app.name': 'Klarna → Spiris',
  'app.tagline': 'Bokför Klarnas utbetalningar i Visma Spiris',
  'nav.label': 'Huvudmeny',
  'nav.integrations': 'Integrationer',
  'nav.tokens': 'API-nycklar',
  'nav.password': 'Lösenord',
  'nav.apiDocs': 'API',
  'nav.logout': 'Logga ut',
  'nav.skip': 'Hoppa till innehållet',
  'nav.language': 'Språk',
  'nav.breadcrumb': 'Brödsmulor',

  'login.title': 'Logga in',
  'login.intro': 'Logga in med administratörslösenordet.',
  'login.password': 'Lösenord',
  'login.submit': 'Logga in',
  'login.wrong': 'Fel lösenord.',
  'login.tooMany': 'För många misslyckade inloggningsförsök. Vänta {minutes} minuter och försök igen.',
  'login.afterSetup': 'Lösenordet är sparat. Logga in för att fortsätta.',
  'login.loggedOut': 'Du är utloggad.',
  'login.expired': 'Din session har gått ut. Logga in igen.',

  'setup.title': 'Välj administratörslösenord',
  'setup.intro':
    'Det här är första starten. Välj lösenordet som skyddar administrationen. Det går att byta senare, eller sättas via miljövariabeln KLARNA_SPIRIS_ADMIN_PASSWORD.',
  'setup.password': 'Nytt lösenord',
  'setup.confirm': 'Upprepa lösenordet',
  'setup.hint': 'Minst {min} tecken. En mening fungerar bra.',
  'setup.submit': 'Spara lösenord',

  'password.too_short': 'Lösenordet är för kort: minst {min} tecken.',
  'password.too_long': 'Lösenordet är för långt.',
  'password.mismatch': 'Lösenorden stämmer inte överens.',
  'password.title': 'Byt lösenord',
  'password.current': 'Nuvarande lösenord',
  'password.wrongCurrent': 'Det nuvarande lösenordet är fel.',
  'password.changed': 'Lösenordet är bytt. Andra inloggade sessioner har loggats ut.',
  'password.submit': 'Byt lösenord',
  'password.fromEnv':
    'Lösenordet styrs av miljövariabeln KLARNA_SPIRIS_ADMIN_PASSWORD och återställs till den vid nästa omstart.',

  'csrf.title': 'Formuläret har gått ut',
  'csrf.message': 'Formuläret kunde inte verifieras. Ladda om sidan och försök igen.',

  'error.notFound': 'Sidan finns inte.',
  'error.server': 'Något gick fel hos oss. Försök igen om en stund.',
  'error.title': 'Fel',
  'error.back': 'Till startsidan',

  'integrations.title': 'Integrationer',
  'integrations.intro': 'Varje integration kopplar ett Klarna-konto till ett företag i Visma Spiris.',
  'integrations.caption': 'Integrationer och deras status',
  'integrations.empty': 'Inga integrationer ännu. Skapa den första nedan.',
  'integrations.col.name': 'Namn',
  'integrations.col.mode': 'Läge',
  'integrations.col.health': 'Hälsa',
  'integrations.col.lastRun': 'Senaste körning',
  'integrations.col.lastSuccess': 'Senast lyckad',
  'integrations.col.klarna': 'Klarna',
  'integrations.col.spiris': 'Spiris',
  'integrations.col.attention': 'Behöver åtgärd',
  'integrations.create.title': 'Ny integration',
  'integrations.create.name': 'Namn',
  'integrations.create.hint': 'Till exempel butikens eller företagets namn.',
  'integrations.create.submit': 'Skapa integration',
  'integrations.name.invalid': 'Ange ett namn på 1–100 tecken.',
  'integrations.name.taken': 'Det finns redan en integration med det namnet.',
  'integrations.notConnected': 'Inte ansluten',

  'mode.off': 'Av',
  'mode.test': 'Test',
  'mode.live': 'Live',

  'health.ok': 'OK',
  'health.attention': 'Behöver åtgärd',
  'health.failing': 'Senaste körningen misslyckades',
  'health.setup': 'Inte färdigkonfigurerad',
  'health.paused': 'Avstängd',
  'health.error': 'Fel',

  'run.running': 'Pågår',
  'run.succeeded': 'Lyckades',
  'run.failed': 'Misslyckades',
  'run.never': 'Aldrig',

  'detail.tabs': 'Avsnitt',
  'tab.overview': 'Översikt',
  'tab.setup': 'Kom igång',
  'tab.connections': 'Anslutningar',
  'tab.mapping': 'Kontering',
  'tab.preview': 'Förhandsgranska',
  'tab.go-live': 'Gå live',
  'tab.payouts': 'Utbetalningar',
  'tab.runs': 'Körningar',
  'tab.events': 'Händelselogg',

  'overview.status': 'Status',
  'overview.rename': 'Byt namn',
  'overview.rename.submit': 'Spara namn',
  'overview.renamed': 'Namnet är sparat.',
  'overview.created': 'Integrationen är skapad.',
  'overview.connections': 'Anslutningar',
  'overview.payoutSummary': 'Utbetalningar per status',
  'overview.noPayouts': 'Inga utbetalningar hämtade ännu.',

  'connection.kind.klarna': 'Klarna',
  'connection.kind.spiris': 'Visma Spiris',
  'connection.environment': 'Miljö',
  'connection.key': 'Nyckel',
  'connection.status': 'Status',
  'connection.company': 'Företag',
  'connection.updated': 'Uppdaterad',
  'connection.none': 'Ingen anslutning ännu.',

  'placeholder.soon': 'Kommer snart',
  'placeholder.setup':
    'En guide som leder genom Klarna-nyckeln, inloggningen till Spiris, konteringen och en provkörning, i den ordningen.',
  'placeholder.connections':
    'Testa anslutningarna till Klarna och Spiris: att nyckeln gäller rätt miljö och att räkenskapsår, verifikationsserie, konton och momskoder finns.',
  'placeholder.mapping':
    'Vilka konton försäljning, returer, Klarnas avgifter, moms på avgifter, reserverade belopp och utbetalningen bokas på.',
  'placeholder.preview':
    'Se exakt vilka verifikationer som skulle skapas för de senaste utbetalningarna, och varför en utbetalning stoppas, innan något bokförs.',
  'placeholder.go-live':
    'Byt från test till live när anslutningstesterna och en förhandsgranskning är godkända. Bytet loggas.',

  'payouts.caption': 'Utbetalningar från Klarna',
  'payouts.empty': 'Inga utbetalningar hämtade ännu.',
  'payouts.col.date': 'Utbetalningsdag',
  'payouts.col.reference': 'Referens',
  'payouts.col.amount': 'Belopp',
  'payouts.col.transactions': 'Transaktioner',
  'payouts.col.state': 'Status',
  'payouts.col.voucher': 'Verifikation',

  'state.discovered': 'Hämtad',
  'state.ready': 'Redo',
  'state.posting': 'Bokförs',
  'state.booked': 'Bokförd',
  'state.attached': 'Bokförd med underlag',
  'state.needs_attention': 'Behöver åtgärd',
  'state.skipped': 'Överhoppad',
  'state.reversing': 'Vänds',
  'state.reversed': 'Vänd',

  'runs.caption': 'Körningar, senaste först',
  'runs.empty': 'Inga körningar ännu.',
  'runs.col.started': 'Start',
  'runs.col.finished': 'Klar',
  'runs.col.kind': 'Typ',
  'runs.col.status': 'Status',
  'runs.col.error': 'Fel',

  'events.caption': 'Händelser, senaste först',
  'events.empty': 'Inga händelser ännu.',
  'events.col.at': 'Tid',
  'events.col.actor': 'Av',
  'events.col.kind': 'Typ',
  'events.col.message': 'Meddelande',

  'pager.label': 'Sidor',
  'pager.newer': 'Nyare',
  'pager.older': 'Äldre',
  'pager.position': '{from}–{to} av {total}',

  'tokens.title': 'API-nycklar',
  'tokens.intro':
    'API-nycklar ger skript och övervakning åtkomst till /api/v1 med rubriken Authorization: Bearer <nyckel>. En nyckel visas bara när den skapas.',
  'tokens.name': 'Namn',
  'tokens.name.hint': 'Vad nyckeln används till, t.ex. "övervakning".',
  'tokens.name.invalid': 'Ange ett namn på 1–100 tecken.',
  'tokens.create': 'Skapa nyckel',
  'tokens.created': 'Kopiera nyckeln nu. Den visas inte igen.',
  'tokens.createdLabel': 'Ny API-nyckel för {name}',
  'tokens.copy': 'Kopiera',
  'tokens.copied': 'Kopierad',
  'tokens.caption': 'API-nycklar',
  'tokens.empty': 'Inga API-nycklar ännu.',
  'tokens.col.name': 'Namn',
  'tokens.col.hint': 'Nyckel',
  'tokens.col.created': 'Skapad',
  'tokens.col.lastUsed': 'Senast använd',
  'tokens.col.status': 'Status',
  'tokens.col.actions': 'Åtgärder',
  'tokens.active': 'Aktiv',
  'tokens.revoked': 'Återkallad {at}',
  'tokens.revoke': 'Återkalla',
  'tokens.revokeConfirm': 'Återkalla nyckeln {name}? Skript som använder den slutar fungera.',
  'tokens.revokedNotice': 'Nyckeln är återkallad.',

  'apiDocs.title': 'API',
  'apiDocs.intro':
    'JSON-API för automation. Alla anrop under /api/v1 kräver en API-nyckel. Den fullständiga beskrivningen finns som OpenAPI-dokument.',
  'apiDocs.openapi': 'OpenAPI-dokument (JSON)',
  'apiDocs.caption': 'Anrop',
  'apiDocs.col.method': 'Metod',
  'apiDocs.col.path': 'Sökväg',
  'apiDocs.col.summary': 'Beskrivning',
} as const;

export type MessageKey = keyof typeof sv;
export type Lang = 'sv' | 'en';
export const LANGS: readonly Lang[] = ['sv', 'en'];
export const DEFAULT_LANG: Lang = 'sv';

const en: Record<MessageKey, string> = {
  'app.name': 'Klarna → Spiris',
  'app.tagline': 'Books Klarna payouts into Visma Spiris',
  'nav.label': 'Main menu',
  'nav.integrations': 'Integrations',
  'nav.tokens': 'API tokens',
  'nav.password': 'Password',
  'nav.apiDocs': 'API',
  'nav.logout': 'Log out',
  'nav.skip': 'Skip to content',
  'nav.language': 'Language',
  'nav.breadcrumb': 'Breadcrumb',

  'login.title': 'Log in',
  'login.intro': 'Log in with the admin password.',
  'login.password': 'Password',
  'login.submit': 'Log in',
  'login.wrong': 'Wrong password.',
  'login.tooMany': 'Too many failed login attempts. Wait {minutes} minutes and try again.',
  'login.afterSetup': 'The password is saved. Log in to continue.',
  'login.loggedOut': 'You are logged out.',
  'login.expired': 'Your session has expired. Please log in again.',

  'setup.title': 'Choose the admin password',
  'setup.intro':
    'This is the first start. Choose the password that protects the admin pages. You can change it later, or set it with the KLARNA_SPIRIS_ADMIN_PASSWORD environment variable.',
  'setup.password': 'New password',
  'setup.confirm': 'Repeat the password',
  'setup.hint': 'At least {min} characters. A sentence works well.',
  'setup.submit': 'Save password',

  'password.too_short': 'The password is too short: at least {min} characters.',
  'password.too_long': 'The password is too long.',
  'password.mismatch': 'The passwords do not match.',
  'password.title': 'Change password',
  'password.current': 'Current password',
  'password.wrongCurrent': 'The current password is wrong.',
  'password.changed': 'The password is changed. Other sessions have been logged out.',
  'password.submit': 'Change password',
  'password.fromEnv':
    'The password is managed by the KLARNA_SPIRIS_ADMIN_PASSWORD environment variable and resets to it on the next restart.',

  'csrf.title': 'The form has expired',
  'csrf.message': 'The form could not be verified. Reload the page and try again.',

  'error.notFound': 'The page does not exist.',
  'error.server': 'Something went wrong on our side. Try again in a moment.',
  'error.title': 'Error',
  'error.back': 'Back to the start page',

  'integrations.title': 'Integrations',
  'integrations.intro': 'Each integration connects one Klarna account to one company in Visma Spiris.',
  'integrations.caption': 'Integrations and their health',
  'integrations.empty': 'No integrations yet. Create the first one below.',
  'integrations.col.name': 'Name',
  'integrations.col.mode': 'Mode',
  'integrations.col.health': 'Health',
  'integrations.col.lastRun': 'Last run',
  'integrations.col.lastSuccess': 'Last success',
  'integrations.col.klarna': 'Klarna',
  'integrations.col.spiris': 'Spiris',
  'integrations.col.attention': 'Needs attention',
  'integrations.create.title': 'New integration',
  'integrations.create.name': 'Name',
  'integrations.create.hint': 'For example the shop or company name.',
  'integrations.create.submit': 'Create integration',
  'integrations.name.invalid': 'Enter a name of 1–100 characters.',
  'integrations.name.taken': 'There is already an integration with that name.',
  'integrations.notConnected': 'Not connected',

  'mode.off': 'Off',
  'mode.test': 'Test',
  'mode.live': 'Live',

  'health.ok': 'OK',
  'health.attention': 'Needs attention',
  'health.failing': 'Last run failed',
  'health.setup': 'Setup incomplete',
  'health.paused': 'Off',
  'health.error': 'Error',

  'run.running': 'Running',
  'run.succeeded': 'Succeeded',
  'run.failed': 'Failed',
  'run.never': 'Never',

  'detail.tabs': 'Sections',
  'tab.overview': 'Overview',
  'tab.setup': 'Get started',
  'tab.connections': 'Connections',
  'tab.mapping': 'Account mapping',
  'tab.preview': 'Preview',
  'tab.go-live': 'Go live',
  'tab.payouts': 'Payouts',
  'tab.runs': 'Runs',
  'tab.events': 'Event log',

  'overview.status': 'Status',
  'overview.rename': 'Rename',
  'overview.rename.submit': 'Save name',
  'overview.renamed': 'The name is saved.',
  'overview.created': 'The integration is created.',
  'overview.connections': 'Connections',
  'overview.payoutSummary': 'Payouts by state',
  'overview.noPayouts': 'No payouts fetched yet.',

  'connection.kind.klarna': 'Klarna',
  'connection.kind.spiris': 'Visma Spiris',
  'connection.environment': 'Environment',
  'connection.key': 'Key',
  'connection.status': 'Status',
  'connection.company': 'Company',
  'connection.updated': 'Updated',
  'connection.none': 'No connection yet.',

  'placeholder.soon': 'Coming soon',
  'placeholder.setup':
    'A guide through the Klarna key, the Spiris login, the account mapping and a trial run, in that order.',
  'placeholder.connections':
    'Test the Klarna and Spiris connections: that the key is for the right environment and that the fiscal year, voucher series, accounts and VAT codes exist.',
  'placeholder.mapping':
    'Which accounts sales, returns, Klarna fees, VAT on fees, holdbacks and the payout itself are booked to.',
  'placeholder.preview':
    'See exactly which vouchers would be created for recent payouts, and why a payout is held back, before anything is booked.',
  'placeholder.go-live':
    'Switch from test to live once the connection tests and a preview have passed. The switch is logged.',

  'payouts.caption': 'Payouts from Klarna',
  'payouts.empty': 'No payouts fetched yet.',
  'payouts.col.date': 'Payout date',
  'payouts.col.reference': 'Reference',
  'payouts.col.amount': 'Amount',
  'payouts.col.transactions': 'Transactions',
  'payouts.col.state': 'State',
  'payouts.col.voucher': 'Voucher',

  'state.discovered': 'Fetched',
  'state.ready': 'Ready',
  'state.posting': 'Posting',
  'state.booked': 'Booked',
  'state.attached': 'Booked with attachment',
  'state.needs_attention': 'Needs attention',
  'state.skipped': 'Skipped',
  'state.reversing': 'Reversing',
  'state.reversed': 'Reversed',

  'runs.caption': 'Runs, latest first',
  'runs.empty': 'No runs yet.',
  'runs.col.started': 'Started',
  'runs.col.finished': 'Finished',
  'runs.col.kind': 'Kind',
  'runs.col.status': 'Status',
  'runs.col.error': 'Error',

  'events.caption': 'Events, latest first',
  'events.empty': 'No events yet.',
  'events.col.at': 'Time',
  'events.col.actor': 'By',
  'events.col.kind': 'Kind',
  'events.col.message': 'Message',

  'pager.label': 'Pages',
  'pager.newer': 'Newer',
  'pager.older': 'Older',
  'pager.position': '{from}–{to} of {total}',

  'tokens.title': 'API tokens',
  'tokens.intro':
    'API tokens give scripts and monitoring access to /api/v1 with the header Authorization: Bearer <token>. A token is shown only when it is created.',
  'tokens.name': 'Name',
  'tokens.name.hint': 'What the token is for, e.g. "monitoring".',
  'tokens.name.invalid': 'Enter a name of 1–100 characters.',
  'tokens.create': 'Create token',
  'tokens.created': 'Copy the token now. It will not be shown again.',
  'tokens.createdLabel': 'New API token for {name}',
  'tokens.copy': 'Copy',
  'tokens.copied': 'Copied',
  'tokens.caption': 'API tokens',
  'tokens.empty': 'No API tokens yet.',
  'tokens.col.name': 'Name',
  'tokens.col.hint': 'Token',
  'tokens.col.created': 'Created',
  'tokens.col.lastUsed': 'Last used',
  'tokens.col.status': 'Status',
  'tokens.col.actions': 'Actions',
  'tokens.active': 'Active',
  'tokens.revoked': 'Revoked {at}',
  'tokens.revoke': 'Revoke',
  'tokens.revokeConfirm': 'Revoke the token {name}? Scripts that use it will stop working.',
  'tokens.revokedNotice': 'The token is revoked.',

  'apiDocs.title': 'API',
  'apiDocs.intro':
    'JSON API for automation. Every call under /api/v1 needs an API token. The full description is an OpenAPI document.',
  'apiDocs.openapi': 'OpenAPI document (JSON)',
  'apiDocs.caption': 'Operations',
  'apiDocs.col.method': 'Method',
  'apiDocs.col.path': 'Path',
  'apiDocs.col.summary': 'Summary',
};

const DICTIONARIES: Record<Lang, Record<MessageKey, string>> = { sv, en };

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

export function translator(lang: Lang): Translate {
  const dict = DICTIONARIES[lang];
  return (key, vars) => {
    const text = dict[key] ?? sv[key] ?? key;
    return vars
      ? text.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m))
      : text;
  };
}

export function isLang(value: unknown): value is Lang {
  return typeof value === 'string' && (LANGS as readonly string[]).includes(value);
}

/** Labels for values that come from the store (states, modes); unknown values show as they are. */
export function labelFor(
  t: Translate,
  prefix: 'state' | 'mode' | 'run' | 'health' | 'tab',
  value: string,
): string {
  const key = `${prefix}.${value}` as MessageKey;
  return key in sv ? t(key) : value;
}
