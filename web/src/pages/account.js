// /mon-compte: who is signed in (GET /api/me), with roles in French, and the logout button.
import { h } from '../dom.js';
import { ROLE_LABELS } from '../session.js';

const PROVIDERS = { local: 'Identifiant et mot de passe', proconnect: 'ProConnect' };

export function accountPage(main, { user, commune, logout }) {
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
}
