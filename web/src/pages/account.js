// /mon-compte: who is signed in (GET /api/me), with roles in French, the logout button, and
// the open sessions of the account (GET /api/me/sessions): close one, or log out everywhere.
import { endSession, logoutEverywhere, mySessions } from '../api.js';
import { alert, h } from '../dom.js';
import { forgetUser, ROLE_LABELS } from '../session.js';

const PROVIDERS = { local: 'Identifiant et mot de passe', proconnect: 'ProConnect' };

const WHEN = new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long', timeStyle: 'short' });

/** "30 novembre 2026 à 01:07" from epoch seconds. */
function when(seconds) {
  return typeof seconds === 'number' ? WHEN.format(new Date(seconds * 1000)) : '';
}

// One row of the list: how and when it was opened, its last activity, and "Fermer" unless it
// is the one in use (that one closes with "Se déconnecter").
function sessionItem(s, onClose) {
  const how = PROVIDERS[s.provider] || s.provider;
  const item = h('li', { class: 'fr-mb-2w' },
    h('p', { class: 'fr-mb-1v' }, `Ouverte le ${when(s.created_at)} (${how})`,
      s.current ? h('strong', {}, ' — cette session') : null),
    h('p', { class: 'fr-text--sm fr-mb-1v' }, `Dernière activité : ${when(s.last_seen)}`));
  if (!s.current) {
    item.append(h('button', { type: 'button', class: 'fr-btn fr-btn--sm fr-btn--tertiary',
      'aria-label': `Fermer la session ouverte le ${when(s.created_at)}`,
      onclick: () => onClose(s, item) }, 'Fermer'));
  }
  return item;
}

// "Mes sessions": filled once the list arrives; its failures stay inside the section.
function sessionsSection(user, navigate) {
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('ul', { class: 'fr-raw-list' });
  const section = h('section', { class: 'fr-mt-6w', 'aria-labelledby': 'mes-sessions' },
    h('h2', { id: 'mes-sessions' }, 'Mes sessions'), status, list);
  const csrf = user.csrf_token;

  const close = async (s, item) => {
    status.replaceChildren();
    try {
      await endSession(s.id, csrf);
      item.remove();
      status.append(alert('success', 'La session a été fermée.'));
    } catch (err) {
      status.append(alert('error', err.message));
    }
  };
  const everywhere = async () => {
    status.replaceChildren();
    try {
      await logoutEverywhere(csrf);
    } catch (err) {
      status.append(alert('error', err.message));
      return;
    }
    forgetUser();
    navigate('/connexion');
  };
  section.append(h('button', { type: 'button', class: 'fr-btn fr-btn--secondary fr-mt-2w',
    onclick: everywhere }, 'Se déconnecter partout'));

  mySessions().then((sessions) => {
    list.replaceChildren(...sessions.map((s) => sessionItem(s, close)));
  }, (err) => {
    status.append(alert('error', err.message));
  });
  return section;
}

export function accountPage(main, { user, commune, logout, navigate }) {
  main.append(h('h1', {}, 'Mon compte'));
  const roles = (user.roles || []).map((r) => ROLE_LABELS[r] || r);
  const rows = [
    ['Nom', user.display_name],
    ['Identifiant', user.subject],
    ['Adresse électronique', user.email],
    ['Rôles', roles.join(', ')],
    ['Commune', commune],
    ['SIRET', user.siret],
    ['Mode de connexion', PROVIDERS[user.provider] || user.provider],
  ].filter(([, v]) => v);
  main.append(h('dl', { class: 'pa-widget-fields fr-mb-4w' },
    rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
  main.append(h('button', { type: 'button', class: 'fr-btn fr-btn--secondary', onclick: logout },
    'Se déconnecter'));
  main.append(sessionsSection(user, navigate));
}
