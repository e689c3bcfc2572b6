// Progressive enhancement only: every page works without this file.

document.addEventListener('submit', (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const question = form.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

document.addEventListener('click', async (event) => {
  const button = event.target instanceof Element ? event.target.closest('[data-copy]') : null;
  if (!button) return;
  const source = document.querySelector(button.getAttribute('data-copy'));
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.value);
    const label = button.textContent;
    button.textContent = button.dataset.copiedLabel || label;
    setTimeout(() => {
      button.textContent = label;
    }, 2000);
  } catch {
    // Clipboard access can be denied; selecting the text lets the user copy by hand.
    source.select();
  }
});

// "Continue to Visma": the link works without script; with it, the browser goes at once.
const follow = document.querySelector('a[data-auto-follow]');
if (follow) window.location.assign(follow.href);

// Account names beside the mapping's account fields, from the chart's <datalist>.
const chart = document.getElementById('chart-accounts');
if (chart) {
  const names = new Map([...chart.querySelectorAll('option')].map((o) => [o.value, o.dataset.name ?? '']));
  document.addEventListener('input', (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.hasAttribute('data-account-input')) return;
    const out = document.getElementById(`${input.id}-name`);
    if (!out) return;
    const value = input.value.trim();
    const name = names.get(value);
    out.textContent = name ?? (value && names.size > 0 ? chart.dataset.unknown : '');
    out.classList.toggle('account-unknown', !name && value !== '' && names.size > 0);
  });
}

// While a sync runs, its progress every 2 s; when it ends, the page reloads to show the result.
const progress = document.getElementById('run-progress');
if (progress && progress.dataset.running === 'true') {
  const text = progress.querySelector('[data-progress-text]');
  const bar = progress.querySelector('[data-progress-bar]');
  const fill = (template, counts) => template.replace(/\{(\w+)\}/g, (m, k) => (k in counts ? counts[k] : m));
  const poll = async () => {
    try {
      const res = await fetch(progress.dataset.progressUrl, {
        headers: { accept: 'application/json' },
        credentials: 'same-origin',
      });
      if (!res.ok) throw new Error(String(res.status));
      const p = await res.json();
      if (!p.running) {
        if (text) text.textContent = progress.dataset.textDone ?? '';
        // The notice that announced the start has served its purpose.
        const url = new URL(window.location.href);
        url.searchParams.delete('notice');
        window.location.replace(url.href);
        return;
      }
      if (text) text.textContent = fill(progress.dataset.textRunning ?? '', p.counts);
      if (bar) {
        bar.max = Math.max(1, p.counts.booked + p.counts.waiting);
        bar.value = p.counts.booked;
      }
    } catch {
      // A failed poll is tried again on the next tick; the page stays usable.
    }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
}
