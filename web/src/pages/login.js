// /connexion: the login form (built-in accounts) and one button per OpenID provider.
import { api } from '../api.js';
import { alert, h } from '../dom.js';
import { forgetUser } from '../session.js';

/** A path of this site to go to after login ("/" otherwise), as the gateway checks it. */
function safeNext(next) {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//')
    && !next.startsWith('/\\') && !/[\r\n\t]/.test(next) ? next : '/';
}

function startUrl(provider, next) {
  return `${provider.start}?next=${encodeURIComponent(next)}`;
}

/** The ProConnect button, as the DSFR fr-connect component draws it. */
function proConnect(provider, next) {
  return h('div', { class: 'fr-connect-group' },
    h('form', { method: 'get', action: provider.start },
      h('input', { type: 'hidden', name: 'next', value: next }),
      h('button', { type: 'submit', class: 'fr-connect' },
        h('span', { class: 'fr-connect__login' }, 'S’identifier avec'),
        h('span', { class: 'fr-connect__brand' }, 'ProConnect'))),
    h('p', {}, h('a', { href: 'https://www.proconnect.gouv.fr/', target: '_blank',
      rel: 'noopener', title: 'Qu’est-ce que ProConnect ? - nouvelle fenêtre' },
    'Qu’est-ce que ProConnect ?')));
}

async function providers(section, next) {
  let list = [];
  try {
    const res = await api('/auth/providers');
    list = res && Array.isArray(res.providers) ? res.providers : [];
  } catch {
    list = []; // no provider route (or none configured): the form alone
  }
  list = list.filter((p) => p && typeof p.start === 'string' && p.start.startsWith('/auth/'));
  if (list.length === 0) return;
  const others = list.filter((p) => p.name !== 'proconnect');
  section.append(h('h2', { class: 'fr-h5' }, 'Se connecter avec un compte partenaire'));
  for (const p of list.filter((x) => x.name === 'proconnect')) section.append(proConnect(p, next));
  if (others.length) {
    section.append(h('ul', { class: 'fr-btns-group fr-btns-group--inline-md' },
      others.map((p) => h('li', {}, h('a', { class: 'fr-btn fr-btn--secondary',
        href: startUrl(p, next) }, `Se connecter avec ${p.display_name || p.name}`)))));
  }
  section.append(h('p', { class: 'fr-hr-or' }, 'ou'));
}

export async function loginPage(main, { params, navigate }) {
  const next = safeNext(params.get('next'));
  const messages = h('div', { 'aria-live': 'polite' });
  const username = h('input', { class: 'fr-input', id: 'username', name: 'username',
    autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { class: 'fr-input', id: 'password', name: 'password',
    type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'fr-btn' }, 'Se connecter');
  const form = h('form', { novalidate: true },
    h('fieldset', { class: 'fr-fieldset' },
      h('legend', { class: 'fr-fieldset__legend' },
        h('h2', { class: 'fr-h5 fr-mb-0' }, 'Se connecter avec son identifiant')),
      h('div', { class: 'fr-fieldset__element' },
        h('div', { class: 'fr-input-group' },
          h('label', { class: 'fr-label', for: 'username' }, 'Identifiant'),
          username)),
      h('div', { class: 'fr-fieldset__element' },
        h('div', { class: 'fr-input-group' },
          h('label', { class: 'fr-label', for: 'password' }, 'Mot de passe'),
          password)),
      h('div', { class: 'fr-fieldset__element' }, submit)));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    messages.replaceChildren();
    if (!username.value || !password.value) {
      messages.append(alert('error', 'Saisissez votre identifiant et votre mot de passe.'));
      (username.value ? password : username).focus();
      return;
    }
    submit.disabled = true;
    try {
      const res = await api('/auth/login', { method: 'POST',
        body: { username: username.value, password: password.value, next } });
      forgetUser();
      navigate(safeNext(res && res.next ? res.next : next), { replace: true });
    } catch (err) {
      password.value = '';
      messages.append(alert('error', err.message));
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });

  const oidc = h('div', {});
  main.append(h('div', { class: 'fr-grid-row fr-grid-row--center' },
    h('div', { class: 'fr-col-12 fr-col-md-8 fr-col-lg-6' },
      h('h1', {}, 'Connexion à Passerelle'), oidc, messages, form)));
  await providers(oidc, next);
}
