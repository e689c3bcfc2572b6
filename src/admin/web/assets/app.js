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
