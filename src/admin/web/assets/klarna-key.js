// Live checks of a pasted Klarna API key, in the browser, as the person types: the
// format rules of the server's validateKlarnaCredentials (src/klarna/key.ts), which
// still decides on submit. A parity test runs this file against the server's rules.
// The key never leaves the page until the form is sent.
(() => {
  const PREFIX = /^klarna_(live|test)_api_/;
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const LEGACY_USERNAME = /^[A-Z]{1,3}\d{3,}_[A-Za-z0-9]+$/;
  const QUOTE_AT_END = /^["'`“”‘’]|["'`“”‘’]$/;

  /** { code, environment }: code 'ok' or what is wrong; environment from the prefix, once typed. */
  function check(key) {
    const m = PREFIX.exec(key);
    const environment = m ? (m[1] === 'live' ? 'production' : 'playground') : null;
    const result = (code) => ({ code, environment });
    if (key === '') return result('empty');
    if (key.trim() === '') return result('whitespace');
    if (QUOTE_AT_END.test(key)) return result('quotes');
    if (/^\s|\s$/.test(key)) return result('edges');
    if (/[\r\n]/.test(key)) return result('line_break');
    if (/\s/.test(key)) return result('inner_space');
    if (LEGACY_USERNAME.test(key)) return result('legacy_username');
    if (UUID.test(key)) return result('uuid');
    if (!m) return result(/^klarna_(live|test)_api_/i.test(key) ? 'prefix_case' : 'not_a_key');
    if (key.replace(PREFIX, '').length < 8) return result('incomplete');
    return result('ok');
  }

  globalThis.klarnaKeyCheck = check;
  if (typeof document === 'undefined') return;

  for (const input of document.querySelectorAll('input[data-klarna-key]')) {
    const status = document.getElementById(input.dataset.status ?? '');
    const badge = document.getElementById(input.dataset.badge ?? '');
    const messages = JSON.parse(input.dataset.messages ?? '{}');
    const update = () => {
      const { code, environment } = check(input.value);
      if (status) {
        status.textContent = messages[code] ?? '';
        status.className = `key-status key-status-${code === 'ok' ? 'ok' : code === 'empty' ? 'idle' : 'bad'}`;
      }
      input.setAttribute('aria-invalid', code === 'ok' || code === 'empty' ? 'false' : 'true');
      if (badge) {
        badge.hidden = !environment;
        badge.textContent = environment ? (badge.dataset[environment] ?? environment) : '';
        badge.className = `badge badge-env badge-env-${environment ?? 'none'}`;
      }
    };
    input.addEventListener('input', update);
    update();
  }
})();
