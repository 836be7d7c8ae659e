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

const STATUS = {
  draft: ['Brouillon', 'new'],
  submitted: ['Transmise', 'info'],
  under_review: ['En instruction', 'info'],
  decided: ['Décidée', 'success'],
  contract_signed: ['Contrat signé', 'success'],
};

function statusBadge(r) {
  const [label, kind] = STATUS[r.status] || [r.status, 'info'];
  const decision = r.decision === 'granted' ? 'accordée' : r.decision === 'declined' ? 'refusée' : null;
  return h('ul', { class: 'fr-badges-group fr-mb-1w' },
    h('li', {}, h('p', { class: `fr-badge fr-badge--sm fr-badge--${kind}` }, label)),
    decision ? h('li', {}, h('p', { class: `fr-badge fr-badge--sm ${r.decision === 'granted' ? 'fr-badge--success' : 'fr-badge--error'}` },
      `Demande ${decision}`)) : null);
}

function requestsSection(requests, bank) {
  return h('section', { class: 'fr-mt-6w' },
    h('h2', { class: 'fr-h4' }, bank ? 'Demandes de financement à instruire' : 'Demandes de financement'),
    requests.length === 0 ? h('p', {}, 'Aucune demande pour le moment.')
      : h('ul', { class: 'fr-raw-list' }, requests.map((r) => h('li', { class: 'fr-mb-2w', 'data-request': r.id },
        h('a', { class: 'fr-link', href: `/offres?demande=${r.id}`, 'data-link': true },
          `${r.offer_title || r.offer} – ${r.commune_name || r.commune}`),
        statusBadge(r)))));
}

function numberField(id, label, value, max, hint) {
  return h('div', { class: 'fr-input-group' },
    h('label', { class: 'fr-label', for: id }, label, hint ? h('span', { class: 'fr-hint-text' }, hint) : null),
    h('input', { class: 'fr-input', id, type: 'number', min: 1, max, step: 1, value: value || '' }));
}

// /offres?demande=<id>: one financing request; the requester edits and sends a draft, the bank
// instructs, decides and records the contract; both join documents while it is open.
async function requestView(main, ctx, id) {
  const bank = (ctx.user.roles || []).includes('advisor');
  let r;
  try {
    r = await api(`/api/offers/requests/${encodeURIComponent(id)}`);
  } catch (err) {
    main.append(h('h1', {}, 'Demande de financement'), alert('error', err.message));
    return;
  }
  const status = h('div', { 'aria-live': 'polite' });
  const reload = () => ctx.navigate(`/offres?demande=${id}`, { replace: true });
  const send = async (path, method, body) => {
    status.replaceChildren();
    try {
      await api(`/api/offers/requests/${encodeURIComponent(id)}${path}`, { method, csrf: ctx.user.csrf_token, body });
      reload();
    } catch (err) {
      status.append(alert('error', err.message));
    }
  };
  main.append(h('a', { class: 'fr-link fr-mb-2w', href: '/offres', 'data-link': true }, 'Retour aux offres'),
    h('h1', {}, `Demande de financement : ${r.offer_title || r.offer}`), statusBadge(r),
    h('p', {}, `${r.commune_name || r.commune} · ouverte par ${r.requester_name} · direction ${r.directorate}`));
  if (r.status === 'draft' && !bank) {
    const project = h('textarea', { class: 'fr-input', id: 'fin-projet', rows: 5, maxlength: 20000 }, r.project);
    main.append(h('form', { class: 'fr-mb-4w', onsubmit: (e) => {
      e.preventDefault();
      const body = { project: project.value };
      const amount = Number(document.getElementById('fin-montant').value);
      const years = Number(document.getElementById('fin-duree').value);
      if (amount) body.amount_eur = amount;
      if (years) body.duration_years = years;
      send('', 'PUT', body);
    } },
    h('div', { class: 'fr-input-group' }, h('label', { class: 'fr-label', for: 'fin-projet' }, 'Le projet'), project),
    numberField('fin-montant', 'Montant demandé (euros)', r.amount_eur, 10000000000),
    numberField('fin-duree', 'Durée (années)', r.duration_years, 60),
    h('div', { class: 'fr-btns-group fr-btns-group--inline' },
      h('button', { class: 'fr-btn fr-btn--secondary', type: 'submit' }, 'Enregistrer le brouillon'),
      h('button', { class: 'fr-btn', type: 'button', onclick: () => send('/submit', 'POST', {}) },
        'Transmettre à la direction régionale'))));
  } else {
    main.append(h('h2', { class: 'fr-h4' }, 'Le projet'), h('p', { class: 'pa-pre' }, r.project || '—'),
      h('p', {}, `${r.amount_eur ? `${r.amount_eur.toLocaleString('fr-FR')} €` : '—'} sur ${r.duration_years || '—'} ans`));
    if (r.reason) main.append(h('p', {}, `Motif de la décision : ${r.reason}`));
  }
  if (bank) {
    const moves = h('div', { class: 'fr-mb-4w' });
    if (r.status === 'submitted') moves.append(h('button', { class: 'fr-btn', type: 'button', onclick: () => send('/review', 'POST', {}) }, 'Prendre en instruction'));
    if (r.status === 'under_review') {
      const reason = h('textarea', { class: 'fr-input', id: 'fin-motif', rows: 3, maxlength: 5000 });
      const choice = (value, label) => h('div', { class: 'fr-fieldset__element' }, h('div', { class: 'fr-radio-group' },
        h('input', { type: 'radio', id: `fin-${value}`, name: 'decision', value }),
        h('label', { class: 'fr-label', for: `fin-${value}` }, label)));
      moves.append(h('form', { onsubmit: (e) => {
        e.preventDefault();
        const picked = e.target.querySelector('input[name="decision"]:checked');
        send('/decide', 'POST', { decision: picked ? picked.value : '', reason: reason.value });
      } }, h('fieldset', { class: 'fr-fieldset' }, h('legend', { class: 'fr-fieldset__legend' }, 'La décision'),
        choice('granted', 'Accordée'), choice('declined', 'Refusée')),
      h('div', { class: 'fr-input-group' }, h('label', { class: 'fr-label', for: 'fin-motif' }, 'Motif (obligatoire en cas de refus)'), reason),
      h('button', { class: 'fr-btn', type: 'submit' }, 'Enregistrer la décision')));
    }
    if (r.status === 'decided' && r.decision === 'granted') {
      moves.append(h('button', { class: 'fr-btn', type: 'button', onclick: () => send('/sign', 'POST', {}) }, 'Contrat signé'));
    }
    main.append(moves);
  }
  main.append(status, h('h2', { class: 'fr-h4' }, 'Documents'));
  const docs = r.documents || [];
  main.append(docs.length === 0 ? h('p', {}, 'Aucun document.')
    : h('ul', {}, docs.map((f) => h('li', {}, h('a', { class: 'fr-link fr-link--download', href: f.url, download: f.filename },
      f.filename, h('span', { class: 'fr-link__detail' }, `${f.media_type.split('/').pop().toUpperCase()} – ${Math.max(1, Math.round(f.size / 1024))} Ko`))))));
  if (!['decided', 'contract_signed'].includes(r.status)) {
    const input = h('input', { class: 'fr-upload', type: 'file', id: 'fin-documents', multiple: true,
      accept: '.pdf,.png,.jpg,.jpeg,.doc,.docx,.xls,.xlsx,.odt,.ods' });
    const upStatus = h('div', { 'aria-live': 'polite' });
    main.append(h('form', { class: 'fr-mb-4w', onsubmit: async (e) => {
      e.preventDefault();
      upStatus.replaceChildren();
      if (input.files.length === 0) {
        upStatus.append(alert('error', 'Choisissez au moins un fichier.'));
        return;
      }
      const body = new FormData();
      for (const file of input.files) body.append('document', file, file.name);
      try {
        await api(`/api/offers/requests/${encodeURIComponent(id)}/documents`, { method: 'POST', csrf: ctx.user.csrf_token, body });
        reload();
      } catch (err) {
        upStatus.append(alert('error', err.message));
      }
    } }, h('div', { class: 'fr-upload-group fr-mb-2w' },
      h('label', { class: 'fr-label', for: 'fin-documents' }, 'Joindre des documents',
        h('span', { class: 'fr-hint-text' }, 'Devis, délibération, plan de financement : PDF, images ou documents bureautiques ; 10 Mo au plus par envoi.')),
      input), h('button', { class: 'fr-btn fr-btn--secondary', type: 'submit' }, 'Envoyer les documents'), upStatus));
  }
  main.append(h('h2', { class: 'fr-h4' }, 'Historique'),
    h('ol', {}, (r.history || []).map((step) => h('li', {},
      `${day.format(new Date(step.at))} : ${(STATUS[step.to] || [step.to])[0]}${step.note === 'granted' ? ' (accordée)' : step.note === 'declined' ? ' (refusée)' : ''} – ${step.by}`))));
}

function leadsSection(leads, ctx, canAsk) {
  return h('section', { class: 'fr-mt-6w' },
    h('h2', { class: 'fr-h4' }, 'Demandes de mise en relation'),
    leads.length === 0 ? h('p', {}, 'Aucune demande pour le moment.')
      : h('ul', {}, leads.map((l) => h('li', { 'data-lead': l.id },
        `${l.offer_title || l.offer} – ${l.commune_name || l.commune}, ${l.requester_name}, le `
        + `${day.format(new Date(l.created_at))} → ${l.directorate_name} `,
        canAsk ? h('button', { class: 'fr-btn fr-btn--sm fr-btn--tertiary', type: 'button', onclick: async () => {
          try {
            const r = await api(`/api/offers/leads/${encodeURIComponent(l.id)}/request`,
              { method: 'POST', csrf: ctx.user.csrf_token, body: {} });
            ctx.navigate(`/offres?demande=${r.id}`);
          } catch (err) {
            alertBox(err.message);
          }
        } }, 'Demande de financement') : null))));
}

function alertBox(message) {
  document.querySelector('main')?.prepend(alert('error', message));
}

export async function offersPage(main, ctx) {
  const demande = ctx.params.get('demande');
  if (demande) {
    await requestView(main, ctx, demande);
    return;
  }
  const roles = ctx.user.roles || [];
  const staff = roles.includes('advisor') || roles.includes('operator');
  const canAsk = roles.includes('elu') || roles.includes('agent');
  const asked = ctx.params.get('commune') || '';
  const intercommunality = ctx.params.get('perimetre') === 'epci' && !asked;
  let data;
  try {
    if (staff && !asked && !ctx.user.commune_insee) data = { offers: (await api('/api/offers')).offers };
    else if (intercommunality) data = await api('/api/offers/eligible?scope=epci');
    else data = await api(`/api/offers/eligible${asked ? `?commune=${encodeURIComponent(asked)}` : ''}`);
  } catch (err) {
    main.append(h('h1', {}, 'Offres de la banque'), alert('error', err.message));
    return;
  }
  const place = data.commune || data.epci;
  main.append(h('h1', {}, place ? `Offres pour ${place.name}` : 'Offres de la banque'),
    h('p', {}, place
      ? `Les offres de financement et d’ingénierie, celles auxquelles ${data.epci ? 'l’intercommunalité' : 'la commune'} est éligible d’abord, avec les raisons.`
      : 'Le catalogue des offres de financement et d’ingénierie.'));
  if (ctx.user.commune_insee && !asked) {
    // The commune, or its intercommunality: two views of the same page.
    main.append(h('p', {}, h('a', { class: 'fr-link', 'data-link': true,
      href: intercommunality ? '/offres' : '/offres?perimetre=epci' },
    intercommunality ? 'Voir les offres pour ma commune' : 'Voir les offres pour mon intercommunalité')));
  }
  if (staff) {
    main.append(h('form', { method: 'get', action: '/offres', class: 'fr-mb-4w' },
      h('div', { class: 'fr-input-group' },
        h('label', { class: 'fr-label', for: 'offres-commune' }, 'Vérifier l’éligibilité d’une commune',
          h('span', { class: 'fr-hint-text' }, 'Son code INSEE, par exemple 49007')),
        h('input', { class: 'fr-input', id: 'offres-commune', name: 'commune', value: asked,
          inputmode: 'numeric', maxlength: 5, autocomplete: 'off' })),
      h('button', { class: 'fr-btn fr-btn--secondary', type: 'submit' }, 'Vérifier')));
  }
  main.append(h('ul', { class: 'fr-raw-list' }, data.offers.map((o) => offerCard(o, ctx, canAsk && !asked && !intercommunality))));
  try {
    const [leads, requests] = await Promise.all([api('/api/offers/leads'),
      roles.includes('elu') || roles.includes('agent') || roles.includes('advisor')
        ? api('/api/offers/requests') : Promise.resolve({ requests: [] })]);
    main.append(leadsSection(leads.leads || [], ctx, canAsk && !asked));
    if (canAsk || roles.includes('advisor')) main.append(requestsSection(requests.requests || [], roles.includes('advisor')));
  } catch {
    // the leads and requests are a complement: the offers are shown without them
  }
}
