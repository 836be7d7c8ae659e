// /offres: the bank's engineering and financing offers for the user's commune, eligible ones
// first, each with why (or why not) in French, and a button to be put in touch with the
// regional directorate (a lead; a second click finds the same). Advisors and operators check a
// commune by its INSEE code (/offres?commune=49007) and see the leads.
import { api } from '../api.js';
import { alert, h } from '../dom.js';

const KIND = { financing: 'Financement', engineering: 'Ingénierie' };
const day = new Intl.DateTimeFormat('fr-FR', { day: 'numeric', month: 'long', year: 'numeric' });

function offerCard(o, ctx, canAsk) {
  const status = h('div', { 'aria-live': 'polite' });
  const facts = [o.max_duration_years ? `jusqu’à ${o.max_duration_years} ans` : null,
    o.max_amount_eur ? `jusqu’à ${o.max_amount_eur.toLocaleString('fr-FR')} €` : null, o.rate || null]
    .filter(Boolean);
  const ask = async () => {
    status.replaceChildren();
    try {
      const lead = await api(`/api/offers/${encodeURIComponent(o.id)}/interest`,
        { method: 'POST', csrf: ctx.user.csrf_token, body: {} });
      const c = lead.directorate_contact || {};
      status.append(alert('success', `Votre demande est transmise à la ${lead.directorate_name}`
        + `${c.phone ? ` (${c.phone}` : ''}${c.email ? `${c.phone ? ', ' : ' ('}${c.email})` : c.phone ? ')' : ''}.`
        + ' Elle vous recontactera.'));
    } catch (err) {
      status.append(alert('error', err.message));
    }
  };
  return h('li', { class: 'fr-mb-3w', 'data-offer': o.id },
    h('div', { class: 'fr-tile fr-tile--horizontal pa-offer' },
      h('div', { class: 'fr-tile__body' },
        h('div', { class: 'fr-tile__content' },
          h('h2', { class: 'fr-tile__title fr-h5' }, o.title),
          h('ul', { class: 'fr-badges-group fr-mb-1w' },
            h('li', {}, h('p', { class: 'fr-badge fr-badge--sm fr-badge--info fr-badge--no-icon' }, KIND[o.kind] || o.kind)),
            'eligible' in o ? h('li', {}, h('p', { class: `fr-badge fr-badge--sm ${o.eligible ? 'fr-badge--success' : 'fr-badge--warning'}` },
              o.eligible ? 'Éligible' : 'Non éligible')) : null),
          h('p', { class: 'fr-tile__desc' }, o.summary),
          facts.length ? h('p', { class: 'fr-text--sm fr-mb-1w' }, facts.join(' · ')) : null,
          Array.isArray(o.reasons) && o.reasons.length
            ? h('ul', { class: 'fr-text--sm', 'aria-label': o.eligible ? 'Pourquoi vous êtes éligible' : 'Pourquoi vous n’êtes pas éligible' },
              o.reasons.map((r) => h('li', {}, r)))
            : null,
          h('div', { class: 'fr-btns-group fr-btns-group--inline fr-btns-group--sm' },
            canAsk ? h('button', { class: 'fr-btn fr-btn--sm', type: 'button', onclick: ask },
              'Être mis en relation') : null,
            o.link ? h('a', { class: 'fr-btn fr-btn--sm fr-btn--tertiary', href: o.link, target: '_blank',
              rel: 'noopener noreferrer', title: `En savoir plus sur ${o.title} (nouvelle fenêtre)` }, 'En savoir plus') : null),
          status))));
}

function leadsSection(leads) {
  return h('section', { class: 'fr-mt-6w' },
    h('h2', { class: 'fr-h4' }, 'Demandes de mise en relation'),
    leads.length === 0 ? h('p', {}, 'Aucune demande pour le moment.')
      : h('ul', {}, leads.map((l) => h('li', { 'data-lead': l.id },
        `${l.offer_title || l.offer} – ${l.commune_name || l.commune}, ${l.requester_name}, le `
        + `${day.format(new Date(l.created_at))} → ${l.directorate_name}`))));
}

export async function offersPage(main, ctx) {
  const roles = ctx.user.roles || [];
  const staff = roles.includes('advisor') || roles.includes('operator');
  const canAsk = roles.includes('elu') || roles.includes('agent');
  const asked = ctx.params.get('commune') || '';
  let data;
  try {
    if (staff && !asked && !ctx.user.commune_insee) data = { offers: (await api('/api/offers')).offers };
    else data = await api(`/api/offers/eligible${asked ? `?commune=${encodeURIComponent(asked)}` : ''}`);
  } catch (err) {
    main.append(h('h1', {}, 'Offres de la banque'), alert('error', err.message));
    return;
  }
  main.append(h('h1', {}, data.commune ? `Offres pour ${data.commune.name}` : 'Offres de la banque'),
    h('p', {}, data.commune
      ? 'Les offres de financement et d’ingénierie, celles auxquelles la commune est éligible d’abord, avec les raisons.'
      : 'Le catalogue des offres de financement et d’ingénierie.'));
  if (staff) {
    main.append(h('form', { method: 'get', action: '/offres', class: 'fr-mb-4w' },
      h('div', { class: 'fr-input-group' },
        h('label', { class: 'fr-label', for: 'offres-commune' }, 'Vérifier l’éligibilité d’une commune',
          h('span', { class: 'fr-hint-text' }, 'Son code INSEE, par exemple 49007')),
        h('input', { class: 'fr-input', id: 'offres-commune', name: 'commune', value: asked,
          inputmode: 'numeric', maxlength: 5, autocomplete: 'off' })),
      h('button', { class: 'fr-btn fr-btn--secondary', type: 'submit' }, 'Vérifier')));
  }
  main.append(h('ul', { class: 'fr-raw-list' }, data.offers.map((o) => offerCard(o, ctx, canAsk && !asked))));
  try {
    main.append(leadsSection((await api('/api/offers/leads')).leads || []));
  } catch {
    // the leads are a complement: the offers are shown without them
  }
}
