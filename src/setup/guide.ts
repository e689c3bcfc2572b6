// The guided setup path as data: the CLI prints it (`klarna-spiris setup guide`) and the
// admin UI renders it, so both say the same thing in the same order. Every step names
// the command that does it, so nobody has to translate prose into flags.

export type GuideLocale = 'en' | 'sv';
export const GUIDE_LOCALES: readonly GuideLocale[] = ['en', 'sv'];

export type Localized = Readonly<Record<GuideLocale, string>>;

export interface GuideStep {
  /** Stable id, e.g. `klarna.find-key`; the UI may link or tick steps by it. */
  readonly id: string;
  readonly title: Localized;
  readonly body: Localized;
  /** The command that performs the step, when there is one. */
  readonly command?: string;
}

export interface GuideSection {
  readonly id: 'klarna' | 'spiris' | 'go-live';
  readonly title: Localized;
  readonly intro: Localized;
  readonly steps: readonly GuideStep[];
}

const KLARNA: GuideSection = {
  id: 'klarna',
  title: { en: 'Connect Klarna', sv: 'Anslut Klarna' },
  intro: {
    en: 'Klarna uses an API key that stays valid until it is rotated, replaced or revoked. Klarna disables keys left unused for two months; the scheduled sync keeps the key in use.',
    sv: 'Klarna använder en API-nyckel som gäller tills den byts ut, ersätts eller spärras. Klarna stänger av nycklar som inte använts på två månader; den schemalagda synkroniseringen håller nyckeln i bruk.',
  },
  steps: [
    {
      id: 'klarna.get-credentials',
      title: { en: 'Get the API credentials', sv: 'Hämta API-uppgifterna' },
      body: {
        en: 'Log in to the Klarna Merchant Portal as an administrator and open Settings → API credentials, or ask Klarna merchant support for API credentials.',
        sv: 'Logga in i Klarnas Merchant Portal som administratör och öppna Inställningar → API-uppgifter, eller be Klarnas handlarsupport om API-uppgifter.',
      },
    },
    {
      id: 'klarna.find-key',
      title: { en: 'Find the key for your environment', sv: 'Hitta nyckeln för rätt miljö' },
      body: {
        en: 'Choose "Generate new API credentials". The key starts with klarna_live_api_ (production) or klarna_test_api_ (playground). Klarna shows it only once.',
        sv: 'Välj "Generate new API credentials". Nyckeln börjar med klarna_live_api_ (produktion) eller klarna_test_api_ (testmiljön playground). Klarna visar den bara en gång.',
      },
    },
    {
      id: 'klarna.save-securely',
      title: { en: 'Save the credentials securely', sv: 'Spara uppgifterna säkert' },
      body: {
        en: 'Put the key in your password manager straight away. If the portal also shows a username in UUID form, save it with the key. Do not paste the key into chat, e-mail or tickets.',
        sv: 'Lägg nyckeln i din lösenordshanterare direkt. Om portalen också visar ett användarnamn i UUID-form, spara det tillsammans med nyckeln. Klistra aldrig in nyckeln i chatt, e-post eller ärenden.',
      },
    },
    {
      id: 'klarna.confirm-environment',
      title: { en: 'Confirm the environment', sv: 'Bekräfta miljön' },
      body: {
        en: 'Use a test key (klarna_test_api_) against the playground while you set up, and a live key (klarna_live_api_) for production. An integration in live mode refuses a test key.',
        sv: 'Använd en testnyckel (klarna_test_api_) mot playground medan du sätter upp, och en livenyckel (klarna_live_api_) för produktion. En integration i live-läge tar inte emot en testnyckel.',
      },
    },
    {
      id: 'klarna.paste-key',
      title: { en: 'Paste the key', sv: 'Klistra in nyckeln' },
      body: {
        en: 'Run the command and paste the key at the hidden prompt, or pipe it in with --api-key-stdin. Add --username with the UUID only if you were asked for it. The key is checked with Klarna and stored encrypted; it is never shown again, only as klarna_test_api_…X9z.',
        sv: 'Kör kommandot och klistra in nyckeln vid den dolda prompten, eller skicka in den med --api-key-stdin. Lägg till --username med UUID:t bara om du blivit ombedd. Nyckeln kontrolleras mot Klarna och sparas krypterad; den visas aldrig igen, bara som klarna_test_api_…X9z.',
      },
      command: 'klarna-spiris klarna connect',
    },
  ],
};

const SPIRIS: GuideSection = {
  id: 'spiris',
  title: { en: 'Connect Visma Spiris', sv: 'Anslut Visma Spiris' },
  intro: {
    en: 'How Spiris credentials look depends on the agreed setup: your own OAuth login, an issued refresh token, or an issued access token.',
    sv: 'Hur Spiris-uppgifterna ser ut beror på vad ni kommit överens om: egen OAuth-inloggning, en utfärdad refresh-token eller en utfärdad access-token.',
  },
  steps: [
    {
      id: 'spiris.confirm-setup',
      title: {
        en: 'Confirm product, environment and company',
        sv: 'Bekräfta produkt, miljö och företag',
      },
      body: {
        en: 'Check that the subscription includes bookkeeping (Bokföring & Fakturering, Standard, Bokföring, Solo or Pro; Fakturering alone cannot take vouchers), whether you start in a sandbox or in production, the organisation number of the company to book into, and whether any middleware sits in between.',
        sv: 'Kontrollera att abonnemanget innehåller bokföring (Bokföring & Fakturering, Standard, Bokföring, Solo eller Pro; enbart Fakturering tar inte emot verifikationer), om ni börjar i en sandlåda eller i produktion, organisationsnumret för företaget som ska bokföras och om något mellanlager finns emellan.',
      },
    },
    {
      id: 'spiris.confirm-auth',
      title: { en: 'Confirm the authorization pattern', sv: 'Bekräfta hur behörigheten ges' },
      body: {
        en: 'OAuth: you log in to Visma and choose the company; the refresh token renews itself. Issued refresh token: someone with access hands you one; it is spent on first use and then renewed. Issued access token: works for about an hour and cannot be renewed; use it only for a first look.',
        sv: 'OAuth: du loggar in hos Visma och väljer företaget; refresh-token förnyas automatiskt. Utfärdad refresh-token: någon med behörighet ger dig en; den förbrukas vid första användningen och förnyas sedan. Utfärdad access-token: fungerar ungefär en timme och kan inte förnyas; använd den bara för en första titt.',
      },
    },
    {
      id: 'spiris.credentials',
      title: { en: 'Create or receive the credentials', sv: 'Skapa eller ta emot uppgifterna' },
      body: {
        en: 'For OAuth you need a client id and client secret from Spiris (api@spiris.se; sandbox clients come from the developer self-service). The scopes must include ea:api, offline_access, ea:accounting and ea:sales_readonly.',
        sv: 'För OAuth behövs klient-id och klienthemlighet från Spiris (api@spiris.se; sandlådeklienter fås via utvecklarportalens självbetjäning). Behörigheterna måste omfatta ea:api, offline_access, ea:accounting och ea:sales_readonly.',
      },
    },
    {
      id: 'spiris.add-credentials',
      title: {
        en: 'Add the credentials, hosts and company',
        sv: 'Lägg in uppgifter, värdar och företag',
      },
      body: {
        en: 'Run the command with --environment sandbox or production and --org-number with the company to book into; a token for another company is refused and nothing is stored. Secrets are read from a hidden prompt, standard input (--client-secret-stdin, --refresh-token-stdin, --access-token-stdin) or the environment.',
        sv: 'Kör kommandot med --environment sandbox eller production och --org-number för företaget som ska bokföras; en token för ett annat företag nekas och inget sparas. Hemligheter läses från en dold prompt, standard in (--client-secret-stdin, --refresh-token-stdin, --access-token-stdin) eller miljövariabler.',
      },
      command: 'klarna-spiris connect spiris --environment sandbox --org-number 556677-8899',
    },
    {
      id: 'spiris.verify-non-production',
      title: { en: 'Verify outside production first', sv: 'Verifiera utanför produktion först' },
      body: {
        en: 'Run the connection test. It only reads: it checks both sides, one line per check, with what to fix. Keep the integration in test mode until it passes.',
        sv: 'Kör anslutningstestet. Det läser bara: det kontrollerar båda sidor, en rad per kontroll, med vad som ska åtgärdas. Låt integrationen stå i testläge tills testet går igenom.',
      },
      command: 'klarna-spiris test',
    },
  ],
};

const GO_LIVE: GuideSection = {
  id: 'go-live',
  title: { en: 'Test, then go live', sv: 'Testa, gå sedan live' },
  intro: {
    en: 'Live mode books into your production books. It opens only with a live Klarna key, a production Spiris connection, a passing connection test from the last 24 hours, a preview without blocking issues and your explicit confirmation.',
    sv: 'Live-läget bokför i dina riktiga böcker. Det öppnas först med en Klarna-livenyckel, en Spiris-anslutning i produktion, ett godkänt anslutningstest från de senaste 24 timmarna, en förhandsgranskning utan blockerande fel och din uttryckliga bekräftelse.',
  },
  steps: [
    {
      id: 'go-live.test-mode',
      title: { en: 'Start in test mode', sv: 'Börja i testläge' },
      body: {
        en: 'Test mode posts only into a Spiris sandbox; against production it previews without posting.',
        sv: 'Testläget bokför bara i en Spiris-sandlåda; mot produktion förhandsgranskar det utan att bokföra.',
      },
      command: 'klarna-spiris mode test',
    },
    {
      id: 'go-live.posting-mode',
      title: { en: 'Choose how payouts are booked', sv: 'Välj hur utbetalningarna bokförs' },
      body: {
        en: "The default, clearing, suits most shops: the webshop's invoices book the sales and their VAT, and each payout clears the Klarna receivable on 1580. Cash mode (kontantmetoden) books sales and output VAT from the payout itself, but Klarna's settlement data carries no VAT on your sales, so it assumes one VAT rate per purchase country, the one you enter. Shops with mixed rates (food 12 %, books 6 %) should keep clearing.",
        sv: 'Standardläget, avräkning, passar de flesta butiker: webbshoppens fakturor bokför försäljningen och dess moms, och varje utbetalning avräknar Klarnafordran på 1580. Kontantmetoden bokför försäljning och utgående moms från själva utbetalningen, men Klarnas avräkningsdata innehåller ingen moms på din försäljning, så den utgår från en momssats per köpland, den du anger. Butiker med blandade momssatser (livsmedel 12 %, böcker 6 %) bör behålla avräkning.',
      },
      command: 'klarna-spiris mapping set postingMode cash',
    },
    {
      id: 'go-live.preview',
      title: { en: 'Preview the vouchers', sv: 'Förhandsgranska verifikationerna' },
      body: {
        en: 'Preview shows every voucher that would be booked and anything that blocks one. Fix the blocking issues and preview again.',
        sv: 'Förhandsgranskningen visar varje verifikation som skulle bokföras och allt som hindrar. Åtgärda det som blockerar och förhandsgranska igen.',
      },
      command: 'klarna-spiris preview',
    },
    {
      id: 'go-live.switch',
      title: { en: 'Go live', sv: 'Gå live' },
      body: {
        en: 'Switch to live mode with an explicit confirmation. If anything is missing, the command lists what and how to fix it. Every mode change is kept in the audit log.',
        sv: 'Byt till live-läge med uttrycklig bekräftelse. Om något saknas listar kommandot vad och hur det åtgärdas. Varje lägesbyte sparas i granskningsloggen.',
      },
      command: 'klarna-spiris mode live --confirm',
    },
  ],
};

export const SETUP_GUIDE: readonly GuideSection[] = deepFreeze([KLARNA, SPIRIS, GO_LIVE]);

export function isGuideLocale(value: string): value is GuideLocale {
  return (GUIDE_LOCALES as readonly string[]).includes(value);
}

/** The guide as numbered plain text, for a terminal. */
export function renderGuideText(locale: GuideLocale, guide: readonly GuideSection[] = SETUP_GUIDE): string {
  const lines: string[] = [];
  guide.forEach((section, s) => {
    if (s > 0) lines.push('');
    lines.push(`${s + 1}. ${section.title[locale]}`, `   ${section.intro[locale]}`);
    section.steps.forEach((step, i) => {
      lines.push(`   ${s + 1}.${i + 1} ${step.title[locale]}`, `       ${step.body[locale]}`);
      if (step.command) lines.push(`       $ ${step.command}`);
    });
  });
  return lines.join('\n');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
