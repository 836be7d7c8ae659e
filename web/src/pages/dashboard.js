// /: one DSFR card per widget of GET /api/dashboard; a failed widget says so, the others render.
import { api } from '../api.js';
import { alert, h } from '../dom.js';
import { STATUS } from './conseils.js';

const day = new Intl.DateTimeFormat('fr-FR', { day: 'numeric', month: 'long' });

const UNAVAILABLE = 'Ce service est temporairement indisponible.';
const HIDDEN_KEYS = new Set(['title', 'text', 'id', 'version']);
const MAX_DEPTH = 3;
// Fields that summarise a nested object (a directorate, a contact) better than all its fields.
// French labels of the field names the plugins use most; others are shown as they are.
const LABELS = { directorate: 'Direction', contact: 'Contact', contacts: 'Contacts' };
const SUMMARY_KEYS = ['name', 'role', 'address', 'phone', 'email'];

/** A readable view of any JSON value (a widget's fields beyond title and text). */
function view(value, depth = 0) {
  if (value === null || value === undefined) return '—';
  if (Array.isArray(value)) {
    if (value.length === 0) return '—';
    if (value.every((v) => typeof v !== 'object' || v === null)) return value.join(', ');
    return h('ul', {}, value.map((v) => h('li', {}, view(v, depth + 1))));
  }
  if (typeof value === 'object') {
    const summary = SUMMARY_KEYS.map((k) => value[k]).filter((v) => typeof v === 'string' && v);
    if (depth > 0 && typeof value.name === 'string') {
      return h('div', {}, summary.map((v) => h('p', { class: 'fr-mb-1v' }, v)));
    }
    if (depth >= MAX_DEPTH) return '…';
    const keys = Object.keys(value).filter((k) => !HIDDEN_KEYS.has(k));
    return h('dl', { class: 'pa-widget-fields' }, keys.flatMap((k) => [
      h('dt', {}, LABELS[k] || k.replaceAll('_', ' ')), h('dd', {}, view(value[k], depth + 1))]));
  }
  if (typeof value === 'boolean') return value ? 'oui' : 'non';
  return String(value);
}

// "Mes demandes" (a requester's latest requests) or "Ma file" (an advisor's counts), and the
// news of the last two weeks: what others changed on them.
function conseilsCard(widget) {
  const link = (id, text) => h('a', { href: `/conseils?demande=${encodeURIComponent(id)}`, 'data-link': true }, text);
  const out = h('div', { class: 'fr-card__desc' });
  if (typeof widget.waiting === 'number') {
    out.append(h('p', {}, `${widget.waiting} demande${widget.waiting > 1 ? 's' : ''} en attente, ` +
      `dont ${widget.overdue} en retard ; ${widget.assigned_to_me} vous ${widget.assigned_to_me > 1 ? 'sont confiées' : 'est confiée'}.`));
  }
  if (Array.isArray(widget.requests)) {
    out.append(widget.requests.length === 0 ? h('p', {}, 'Aucune demande pour votre commune.')
      : h('ul', {}, widget.requests.map((r) => h('li', {}, link(r.id, r.subject),
        ` – ${(STATUS[r.status] || [r.status])[0]}${r.overdue ? ' (en retard)' : ''}`))));
  }
  if (Array.isArray(widget.news) && widget.news.length > 0) {
    out.append(h('h3', { class: 'fr-text--md fr-mb-1v' }, 'Nouveautés'),
      h('ul', { 'data-news': '' }, widget.news.map((n) => h('li', {},
        `Le ${day.format(new Date(n.at))}, ${n.by} : `, link(n.request, n.subject),
        ` – ${((STATUS[n.status] || [n.status])[0]).toLowerCase()}`))));
  }
  return out;
}

function card(entry) {
  const widget = entry && typeof entry.widget === 'object' && entry.widget ? entry.widget : {};
  const title = typeof widget.title === 'string' && widget.title ? widget.title : entry.plugin;
  const content = h('div', { class: 'fr-card__content' },
    h('h2', { class: 'fr-card__title' }, title));
  if (entry.unavailable) {
    content.append(h('p', { class: 'fr-card__desc' }, UNAVAILABLE));
  } else if (typeof widget.text === 'string') {
    content.append(h('p', { class: 'fr-card__desc' }, widget.text));
  } else if (entry.plugin === 'conseils' && (Array.isArray(widget.requests) || typeof widget.waiting === 'number')) {
    content.append(conseilsCard(widget));
  } else if (entry.plugin === 'offers' && Array.isArray(widget.offers)) {
    // The offers the commune is eligible for, best first, each with its first reason.
    content.append(widget.offers.length === 0 ? h('p', { class: 'fr-card__desc' }, 'Aucune offre pour le moment.')
      : h('ul', { class: 'fr-card__desc' }, widget.offers.map((o) => h('li', {},
        h('a', { href: '/offres', 'data-link': true }, o.title),
        Array.isArray(o.reasons) && o.reasons.length ? ` – ${o.reasons[o.reasons.length - 1]}` : ''))));
    if (Array.isArray(widget.requests) && widget.requests.length > 0) {
      // The commune's financing requests, followed here.
      const FINANCING = { draft: 'brouillon', submitted: 'transmise', under_review: 'en instruction',
        decided: 'décidée', contract_signed: 'contrat signé' };
      content.append(h('h3', { class: 'fr-text--md fr-mb-1v' }, 'Demandes de financement'),
        h('ul', { 'data-financing': '' }, widget.requests.map((r) => h('li', {},
          h('a', { href: `/offres?demande=${encodeURIComponent(r.id)}`, 'data-link': true }, r.offer_title || 'Demande'),
          ` – ${FINANCING[r.status] || r.status}${r.decision === 'granted' ? ' (accordée)' : r.decision === 'declined' ? ' (refusée)' : ''}`))));
    }
  } else if (entry.plugin === 'localtis' && Array.isArray(widget.articles)) {
    // The latest articles: their titles, to their source.
    content.append(h('ul', { class: 'fr-card__desc' }, widget.articles.map((a) => h('li', {},
      a.link ? h('a', { href: a.link, target: '_blank', rel: 'noopener noreferrer',
        title: `${a.title} (nouvelle fenêtre)` }, a.title) : a.title))));
  } else {
    content.append(h('div', { class: 'fr-card__desc' }, view(widget)));
  }
  const body = h('div', { class: 'fr-card__body' }, content);
  if (entry.plugin === 'directorates' && !entry.unavailable) {
    body.append(h('div', { class: 'fr-card__footer' },
      h('a', { class: 'fr-link', href: '/ma-direction', 'data-link': true },
        'Voir ma direction et ses contacts')));
  }
  if (entry.plugin === 'conseils' && !entry.unavailable && !widget.text) {
    body.append(h('div', { class: 'fr-card__footer' },
      h('a', { class: 'fr-link', href: '/conseils', 'data-link': true }, 'Ouvrir Territoires Conseils')));
  }
  if (entry.plugin === 'offers' && !entry.unavailable) {
    body.append(h('div', { class: 'fr-card__footer' },
      h('a', { class: 'fr-link', href: '/offres', 'data-link': true }, 'Toutes les offres et leurs conditions')));
  }
  if (entry.plugin === 'localtis' && !entry.unavailable) {
    body.append(h('div', { class: 'fr-card__footer' },
      h('a', { class: 'fr-link', href: '/actualites', 'data-link': true }, 'Toutes les actualités')));
  }
  return h('div', { class: 'fr-col-12 fr-col-md-6 fr-col-lg-4' },
    h('div', { class: 'fr-card', 'data-plugin': entry.plugin }, body));
}

export async function dashboardPage(main, { user, commune }) {
  main.append(h('h1', {}, 'Tableau de bord'));
  if (commune) main.append(h('p', { class: 'fr-text--lead' }, `Commune : ${commune}`));
  const grid = h('div', { class: 'fr-grid-row fr-grid-row--gutters' });
  main.append(grid);
  let res;
  try {
    res = await api('/api/dashboard');
  } catch (err) {
    main.append(alert('error', err.message));
    return;
  }
  const widgets = res && Array.isArray(res.widgets) ? res.widgets : [];
  if (widgets.length === 0) {
    main.append(h('p', {}, `Aucun service n’est encore proposé à ${user.display_name || 'vous'}.`));
    return;
  }
  grid.append(...widgets.map(card));
}
