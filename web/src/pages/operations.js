// /exploitation, for operators: the plugins (version, state, when loaded) and, for each one
// and for the gateway's own routes, the last hour minute by minute (GET /api/admin/overview):
// requests, error rate and p99 latency as DSFR charts, each with its figures as text too (a
// summary, and a table of every minute). This module, with the charts' code, and this page's
// stylesheet are loaded by this page only (app.js imports it when the page opens).
/* global __OPERATIONS_CSS__ */
import { api } from '../api.js';
import { lineChart } from '../charts.js';
import { alert, h } from '../dom.js';

const STATES = {
  running: ['En service', 'success'],
  starting: ['En démarrage', 'info'],
  failed: ['En échec', 'error'],
  stopped: ['Arrêté', 'warning'],
};

const WHEN = new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long', timeStyle: 'short' });
const HOUR = new Intl.DateTimeFormat('fr-FR', { hour: '2-digit', minute: '2-digit' });
const NUMBER = new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 1 });
const PERCENT = new Intl.NumberFormat('fr-FR', { style: 'percent', maximumFractionDigits: 1 });

const minuteLabel = (p) => HOUR.format(new Date(p.minute * 1000));
const ms = (v) => `${NUMBER.format(v)} ms`;

/** Resolves once the stylesheet `href` is in the document (added if missing). */
function useStylesheet(href) {
  const present = [...document.querySelectorAll('link[rel="stylesheet"]')]
    .find((l) => l.getAttribute('href') === href);
  if (present) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const link = h('link', { rel: 'stylesheet', href });
    link.addEventListener('load', () => resolve());
    link.addEventListener('error', () => reject(new Error(`stylesheet ${href}`)));
    document.head.append(link);
  });
}

/** The highest of `points` by `value` (null values skipped), or null. */
function peak(points, value) {
  let best = null;
  for (const p of points) {
    const v = value(p);
    if (v !== null && v !== undefined && (best === null || v > value(best))) best = p;
  }
  return best;
}

// What each chart says, in words: the hour's total or peak, and the minute in progress.
function summaries(points) {
  const current = points[points.length - 1];
  const total = points.reduce((n, p) => n + p.requests, 0);
  const errors = points.reduce((n, p) => n + p.errors, 0);
  const busiest = peak(points, (p) => p.requests);
  const worstRate = peak(points, (p) => (p.requests ? p.error_rate : null));
  const slowest = peak(points, (p) => p.p99_ms);
  return {
    requests: total === 0 ? 'Aucune requête sur la dernière heure.'
      : `${NUMBER.format(total)} requêtes sur la dernière heure, au plus `
        + `${NUMBER.format(busiest.requests)} par minute (à ${minuteLabel(busiest)}) ; `
        + `${NUMBER.format(current.requests)} dans la minute en cours.`,
    errors: total === 0 ? 'Aucune requête, donc aucune erreur, sur la dernière heure.'
      : `${PERCENT.format(errors / total)} d’erreurs (réponses 5xx) sur la dernière heure`
        + (worstRate && worstRate.error_rate > 0
          ? `, au plus ${PERCENT.format(worstRate.error_rate)} (à ${minuteLabel(worstRate)}).`
          : '.'),
    p99: !slowest ? 'Aucune durée mesurée sur la dernière heure.'
      : `99 % des requêtes ont été servies en moins de ${ms(slowest.p99_ms)} à la minute la `
        + `plus lente (${minuteLabel(slowest)})`
        + (current.p99_ms !== null ? ` ; ${ms(current.p99_ms)} dans la minute en cours.` : '.'),
  };
}

// A DSFR table; its scrolling box (narrow screens) is reachable with the keyboard, and named.
function dsfrTable(id, caption, head, rows, extra = '') {
  return h('div', { class: `fr-table ${extra}` },
    h('div', { class: 'fr-table__wrapper' },
      h('div', { class: 'fr-table__container', tabindex: '0', role: 'region',
        'aria-labelledby': `${id}-titre` },
        h('div', { class: 'fr-table__content' },
          h('table', { id },
            h('caption', { id: `${id}-titre` }, caption),
            h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', {}, rows))))));
}

// Every minute of the hour as a table: the charts' figures for those who cannot see them.
function historyTable(id, title, points) {
  const rows = points.map((p) => h('tr', {},
    h('th', { scope: 'row' }, minuteLabel(p)),
    h('td', {}, NUMBER.format(p.requests)),
    h('td', {}, NUMBER.format(p.errors)),
    h('td', {}, p.requests ? PERCENT.format(p.error_rate) : '—'),
    h('td', {}, p.p99_ms !== null ? NUMBER.format(p.p99_ms) : '—')));
  return h('details', { class: 'pa-history' },
    h('summary', {}, `Données minute par minute (${title})`),
    dsfrTable(`donnees-${id}`, `Dernière heure, minute par minute : ${title}`,
      ['Minute', 'Requêtes', 'Erreurs 5xx', 'Taux d’erreur', 'p99 (ms)'], rows));
}

// One chart: its title, the drawing (hidden from assistive technologies, which get the
// summary below it and the table), the summary.
function figure(styles, { title, values, name, unit, summary }, labels) {
  const chart = lineChart({ labels, values, name, unit, styles });
  return h('figure', { class: 'pa-chart fr-col-12 fr-col-lg-4' },
    h('figcaption', {}, title),
    h('div', { class: 'pa-chart-canvas', 'aria-hidden': 'true' }, chart),
    h('p', { class: 'fr-text--sm' }, summary));
}

function groupSection(styles, { id, title, subtitle, history }) {
  const labels = history.map(minuteLabel);
  const said = summaries(history);
  const section = h('section', { class: 'fr-mt-6w', 'aria-labelledby': id, 'data-group': id },
    h('h3', { id }, title));
  if (subtitle) section.append(subtitle);
  section.append(h('div', { class: 'fr-grid-row fr-grid-row--gutters' },
    figure(styles, { title: 'Requêtes par minute', name: 'Requêtes',
      values: history.map((p) => p.requests), summary: said.requests }, labels),
    figure(styles, { title: 'Taux d’erreur (%)', name: 'Erreurs 5xx', unit: '%',
      values: history.map((p) => (p.requests ? Math.round(p.error_rate * 1000) / 10 : null)),
      summary: said.errors }, labels),
    figure(styles, { title: 'Latence p99 (ms)', name: 'p99', unit: 'ms',
      values: history.map((p) => p.p99_ms), summary: said.p99 }, labels)));
  section.append(historyTable(id, title, history));
  return section;
}

function stateBadge(plugin) {
  const [label, kind] = STATES[plugin.state] || [plugin.state, 'info'];
  return h('p', { class: `fr-badge fr-badge--sm fr-badge--${kind}` }, label);
}

function pluginsTable(plugins) {
  return dsfrTable('table-services', 'Services installés',
    ['Nom', 'Version', 'État', 'Chargé le'],
    plugins.map((p) => h('tr', { 'data-plugin': p.name },
      h('th', { scope: 'row' }, p.name),
      h('td', {}, p.version),
      h('td', {}, stateBadge(p), p.failure ? h('p', { class: 'fr-text--xs fr-mb-0' },
        `Cause : ${p.failure}`) : null),
      h('td', {}, p.loaded_at ? WHEN.format(new Date(p.loaded_at * 1000)) : '—'))));
}

// "Gérer les services": each plugin's library, reloaded (upgraded) or removed, and a library of
// the plugin directory added (GET/POST /admin/plugins, POST …/reload, DELETE …). A removal is
// confirmed by a second click. After a change the page is drawn again.
function manageSection(user, again) {
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('ul', { class: 'fr-raw-list' });
  const section = h('section', { class: 'fr-mt-6w', 'aria-labelledby': 'gerer' },
    h('h2', { id: 'gerer' }, 'Gérer les services'), status, list);
  const act = async (what, call, done) => {
    status.replaceChildren(alert('info', `${what}…`));
    try {
      await call();
    } catch (err) {
      status.replaceChildren(alert('error', `${what} : ${err.message}`));
      return;
    }
    status.replaceChildren(alert('success', done));
    await again();
  };
  const csrf = user.csrf_token;
  api('/admin/plugins').then((res) => {
    const plugins = res.plugins || [];
    list.replaceChildren(...plugins.map((p) => {
      const item = h('li', { class: 'fr-mb-2w', 'data-manage': p.name },
        h('p', { class: 'fr-mb-1v' }, h('strong', {}, p.name), ` ${p.version} — `,
          ...(p.library === 'proxy' ? ['service relayé par la passerelle']
            : [h('code', {}, (p.library || '').split('/').pop()),
              ` (SHA-256 ${String(p.sha256 || '').slice(0, 12)}…)`]),
          p.state === 'draining' ? ' — termine ses requêtes en cours' : ''));
      if (p.state === 'draining') return item;
      const remove = h('button', { type: 'button', class: 'fr-btn fr-btn--sm fr-btn--tertiary' },
        'Retirer', h('span', { class: 'fr-sr-only' }, ` ${p.name}`));
      remove.addEventListener('click', () => {
        if (remove.dataset.confirm !== '1') {
          remove.dataset.confirm = '1';
          remove.firstChild.textContent = 'Confirmer le retrait';
          return;
        }
        act(`Retrait de ${p.name}`, () => api(`/admin/plugins/${encodeURIComponent(p.name)}`,
          { method: 'DELETE', csrf }), `Le service ${p.name} est retiré.`);
      });
      item.append(h('ul', { class: 'fr-btns-group fr-btns-group--inline-sm fr-btns-group--sm' },
        h('li', {}, h('button', { type: 'button', class: 'fr-btn fr-btn--sm fr-btn--secondary',
          onclick: () => act(`Rechargement de ${p.name}`, () => api(
            `/admin/plugins/${encodeURIComponent(p.name)}/reload`, { method: 'POST', body: {},
              csrf }), `Le service ${p.name} est rechargé, sans requête perdue.`) },
        'Recharger', h('span', { class: 'fr-sr-only' }, ` ${p.name}`))),
        h('li', {}, remove)));
      return item;
    }));
    section.append(proxyForm(act, csrf));
    if (!res.plugin_dir) return;
    const form = h('form', { class: 'fr-mt-4w' },
      h('h3', {}, 'Ajouter un service'),
      h('p', { class: 'fr-text--sm' }, `Une bibliothèque du dossier ${res.plugin_dir}.`),
      h('div', { class: 'fr-input-group' }, h('label', { class: 'fr-label', for: 'ajout-nom' },
        'Nom du service'), h('input', { class: 'fr-input', id: 'ajout-nom', required: true,
        pattern: '[a-z0-9_\\-]{1,64}' })),
      h('div', { class: 'fr-input-group' }, h('label', { class: 'fr-label', for: 'ajout-fichier' },
        'Fichier de la bibliothèque', h('span', { class: 'fr-hint-text' },
          'Par exemple : libpasserelle-hello.so')),
      h('input', { class: 'fr-input', id: 'ajout-fichier', required: true })),
      h('button', { type: 'submit', class: 'fr-btn' }, 'Ajouter'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const name = form.querySelector('#ajout-nom').value.trim();
      act(`Ajout de ${name}`, () => api('/admin/plugins', { method: 'POST', csrf,
        body: { name, library: form.querySelector('#ajout-fichier').value.trim() } }),
      `Le service ${name} est ajouté.`);
    });
    section.append(form);
  }, (err) => status.replaceChildren(alert('error', err.message)));
  return section;
}

// "Relayer un service existant": a proxied service (kind: proxy) published under /api/<nom>/,
// with the roles admitted; the gateway signs the user's identity for it.
const ROLES = [['elu', 'Élus'], ['agent', 'Agents'], ['advisor', 'Conseillers'],
  ['operator', 'Opérateurs']];

function proxyForm(act, csrf) {
  const form = h('form', { class: 'fr-mt-4w' },
    h('h3', {}, 'Relayer un service existant'),
    h('p', { class: 'fr-text--sm' }, 'Le service est publié sous /api/<nom>/ : la passerelle '
      + 'vérifie la connexion et le rôle, puis transmet la requête avec l’identité signée de '
      + 'l’utilisateur, sans son cookie.'),
    h('div', { class: 'fr-input-group' }, h('label', { class: 'fr-label', for: 'relais-nom' },
      'Nom du service relayé'), h('input', { class: 'fr-input', id: 'relais-nom', required: true,
      pattern: '[a-z0-9_\\-]{1,64}' })),
    h('div', { class: 'fr-input-group' }, h('label', { class: 'fr-label', for: 'relais-url' },
      'Adresse du service', h('span', { class: 'fr-hint-text' },
        'Par exemple : https://urbanisme.interne.example/api')),
    h('input', { class: 'fr-input', id: 'relais-url', type: 'url', required: true })),
    h('fieldset', { class: 'fr-fieldset' },
      h('legend', { class: 'fr-fieldset__legend fr-text--regular' }, 'Rôles admis'),
      ...ROLES.map(([role, label]) => h('div', { class: 'fr-fieldset__element' },
        h('div', { class: 'fr-checkbox-group' },
          h('input', { type: 'checkbox', id: `relais-role-${role}`, value: role,
            checked: role === 'elu' || role === 'agent' }),
          h('label', { class: 'fr-label', for: `relais-role-${role}` }, label))))),
    h('button', { type: 'submit', class: 'fr-btn' }, 'Relayer'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = form.querySelector('#relais-nom').value.trim();
    const roles = [...form.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value);
    act(`Relais de ${name}`, () => api('/admin/plugins', { method: 'POST', csrf,
      body: { name, kind: 'proxy',
        config: { upstream: form.querySelector('#relais-url').value.trim(), roles } } }),
    `Le service ${name} est relayé sous /api/${name}/.`);
  });
  return form;
}

export async function operationsPage(main, ctx) {
  const { user } = ctx;
  main.append(h('h1', {}, 'Exploitation'));
  if (!(user.roles || []).includes('operator')) {
    main.append(alert('error', 'Cette page est réservée aux opérateurs de la plateforme.'));
    return;
  }
  let overview;
  try {
    [overview] = await Promise.all([api('/api/admin/overview'),
      useStylesheet(__OPERATIONS_CSS__)]);
  } catch (err) {
    main.append(alert('error', err.status !== undefined ? err.message
      : 'La page n’a pas pu être chargée. Rechargez-la.'));
    return;
  }
  const appCss = document.querySelector('link[rel="stylesheet"]').getAttribute('href');
  const styles = [appCss, __OPERATIONS_CSS__];
  const plugins = Array.isArray(overview.plugins) ? overview.plugins : [];
  main.append(h('p', {}, 'Les services branchés sur la passerelle et leur activité de la '
    + 'dernière heure, minute par minute (la dernière minute est en cours).'));
  main.append(h('h2', {}, 'Services'));
  if (plugins.length === 0) main.append(h('p', {}, 'Aucun service n’est installé.'));
  else main.append(pluginsTable(plugins));
  // Drawn again after a change: the table, the charts and this section.
  main.append(manageSection(user, async () => {
    const kept = main.querySelector('#gerer')?.closest('section')?.querySelector('[aria-live]');
    const said = kept ? [...kept.childNodes] : [];
    main.replaceChildren();
    await operationsPage(main, ctx);
    main.querySelector('#gerer')?.closest('section')?.querySelector('[aria-live]')
      ?.replaceChildren(...said);
  }));
  main.append(h('h2', { class: 'fr-mt-6w' }, 'Activité de la dernière heure'));
  for (const p of plugins) {
    main.append(groupSection(styles, { id: `activite-${p.name}`,
      title: `Service ${p.name} (version ${p.version})`, history: p.history || [] }));
  }
  if (overview.core && Array.isArray(overview.core.history)) {
    main.append(groupSection(styles, { id: 'activite-passerelle',
      title: 'Passerelle (ses propres routes)', history: overview.core.history,
      subtitle: h('p', { class: 'fr-text--sm' }, 'Connexion, tableau de bord, fichiers du '
        + 'portail et autres routes propres à la passerelle.') }));
  }
}
