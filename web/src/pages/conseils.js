// /conseils: Territoires Conseils. A requester (élu, agent) files a request for their commune and
// follows it; an advisor works the queue of their themes. One request opens at
// /conseils?demande=<id>: its question, answer, history and messages, and the moves the caller
// may make (the API decides again: a move refused there shows its French message).
import { api } from '../api.js';
import { alert, h } from '../dom.js';

export const STATUS = {
  submitted: ['Déposée', 'new'],
  assigned: ['Prise en charge', 'info'],
  answered: ['Répondue', 'success'],
  closed: ['Close', 'success'],
  reopened: ['Rouverte', 'warning'],
  withdrawn: ['Retirée', 'error'],
};

const date = new Intl.DateTimeFormat('fr-FR', { day: 'numeric', month: 'long', year: 'numeric' });
const when = (iso) => date.format(new Date(iso));

function badge(status, overdue) {
  const [label, kind] = STATUS[status] || [status, 'info'];
  return h('div', { class: 'fr-mb-1v' },
    h('p', { class: `fr-badge fr-badge--sm fr-badge--${kind}` }, label),
    overdue ? h('p', { class: 'fr-badge fr-badge--sm fr-badge--error fr-ml-1w' }, 'En retard') : null);
}

function requestsList(requests, advisor) {
  return h('ul', { class: 'fr-raw-list' }, requests.map((r) => h('li', { class: 'pa-request', 'data-request': r.id },
    h('h3', { class: 'fr-h6 fr-mb-1v' },
      h('a', { class: 'fr-link', href: `/conseils?demande=${r.id}`, 'data-link': true }, r.subject)),
    badge(r.status, r.overdue),
    h('p', { class: 'fr-text--sm fr-mb-0' }, advisor
      ? `${r.theme_label} · ${r.commune_name || r.commune} · réponse attendue avant le ${when(r.due_at)}`
      : `${r.theme_label} · déposée le ${when(r.created_at)} par ${r.requester_name}`))));
}

function field(id, label, control, hint) {
  return h('div', { class: 'fr-input-group' },
    h('label', { class: 'fr-label', for: id }, label,
      hint ? h('span', { class: 'fr-hint-text' }, hint) : null),
    control);
}

function newRequestForm(themes, ctx, onFiled) {
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'fr-mb-6w', novalidate: false },
    h('h2', { class: 'fr-h4' }, 'Nouvelle demande'),
    field('conseil-objet', 'Objet', h('input', { class: 'fr-input', id: 'conseil-objet',
      name: 'subject', required: true, maxlength: 200 })),
    h('div', { class: 'fr-select-group' },
      h('label', { class: 'fr-label', for: 'conseil-theme' }, 'Thème'),
      h('select', { class: 'fr-select', id: 'conseil-theme', name: 'theme', required: true },
        themes.map((t) => h('option', { value: t.id }, `${t.label} (réponse sous ${t.days} jours)`)))),
    field('conseil-question', 'Votre question', h('textarea', { class: 'fr-input',
      id: 'conseil-question', name: 'question', required: true, rows: 6, maxlength: 20000 }),
    'Décrivez la situation de la commune et ce que vous souhaitez savoir.'),
    status,
    h('button', { class: 'fr-btn', type: 'submit' }, 'Envoyer la demande'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    status.replaceChildren();
    try {
      const created = await api('/api/conseils/requests', { method: 'POST', csrf: ctx.user.csrf_token,
        body: { subject: data.get('subject'), theme: data.get('theme'), question: data.get('question') } });
      onFiled(created);
    } catch (err) {
      status.append(alert('error', err.message));
      // Its message names the directorate; all its contacts are on its page.
      if (err.code === 'not_eligible') {
        status.append(h('p', { 'data-directorate': '' }, h('a', { class: 'fr-link', href: '/ma-direction',
          'data-link': true }, 'Tous les contacts de votre direction régionale')));
      }
    }
  });
  return form;
}

async function listView(main, ctx, advisor) {
  main.append(h('h1', {}, advisor ? 'Ma file de demandes' : 'Demandes de conseil'),
    h('p', {}, advisor
      ? 'Les demandes des communes sur vos thèmes, les plus anciennes d’abord.'
      : 'Territoires Conseils répond gratuitement aux questions juridiques et financières des ' +
        'communes de moins de 10 000 habitants et des intercommunalités.'));
  let themes;
  let list;
  try {
    [themes, list] = await Promise.all([api('/api/conseils/themes'),
      api('/api/conseils/requests?limit=100')]);
  } catch (err) {
    main.append(alert('error', err.message));
    return;
  }
  const requests = list.requests || [];
  if (!advisor) {
    main.append(newRequestForm(themes.themes || [], ctx,
      (created) => ctx.navigate(`/conseils?demande=${created.id}`)));
  }
  main.append(h('h2', { class: 'fr-h4' }, advisor ? 'Demandes à traiter' : 'Nos demandes'));
  if (requests.length === 0) {
    main.append(h('p', { role: 'status' }, advisor ? 'Aucune demande dans votre file.'
      : 'Votre commune n’a pas encore fait de demande.'));
    return;
  }
  main.append(requestsList(requests, advisor));
}

function actionButton(label, onclick, secondary = true) {
  return h('button', { class: `fr-btn${secondary ? ' fr-btn--secondary' : ''} fr-mr-2w fr-mb-2w`,
    type: 'button', onclick }, label);
}

function size(bytes) {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} Ko`;
  return `${(bytes / (1024 * 1024)).toFixed(1).replace('.', ',')} Mo`;
}

const ACCEPTED = '.pdf,.png,.jpg,.jpeg,.gif,.webp,.doc,.docx,.xls,.xlsx,.ppt,.pptx,.odt,.ods,.odp';

// The request's files (downloads), and a form to join more while it is open.
function attachmentsSection(r, ctx, id) {
  const files = r.attachments || [];
  const section = h('div', { class: 'fr-mb-4w' }, h('h2', { class: 'fr-h4' }, 'Pièces jointes'));
  section.append(files.length === 0 ? h('p', {}, 'Aucune pièce jointe.')
    : h('ul', { class: 'fr-mb-2w' }, files.map((f) => h('li', { 'data-attachment': f.id },
      h('a', { class: 'fr-link fr-link--download', href: f.url, download: f.filename },
        f.filename, h('span', { class: 'fr-link__detail' }, `${f.media_type.split('/').pop().toUpperCase()} – ${size(f.size)}`)),
      h('span', { class: 'fr-text--sm' }, ` (${f.by}, le ${when(f.at)})`)))));
  if (['closed', 'withdrawn'].includes(r.status)) return section;
  const input = h('input', { class: 'fr-upload', type: 'file', id: 'conseil-fichiers', name: 'fichiers',
    multiple: true, accept: ACCEPTED });
  const status = h('div', { 'aria-live': 'polite' });
  const button = h('button', { class: 'fr-btn fr-btn--secondary', type: 'submit' }, 'Envoyer les fichiers');
  section.append(h('form', { onsubmit: async (e) => {
    e.preventDefault();
    status.replaceChildren();
    if (input.files.length === 0) {
      status.append(alert('error', 'Choisissez au moins un fichier.'));
      return;
    }
    const body = new FormData();
    for (const file of input.files) body.append('fichier', file, file.name);
    button.disabled = true;
    status.append(h('p', { class: 'fr-text--sm' }, 'Envoi en cours…'));
    try {
      await api(`/api/conseils/requests/${encodeURIComponent(id)}/attachments`,
        { method: 'POST', csrf: ctx.user.csrf_token, body });
      ctx.navigate(`/conseils?demande=${id}`, { replace: true });
    } catch (err) {
      button.disabled = false;
      status.replaceChildren(alert('error', err.message));
    }
  } }, h('div', { class: 'fr-upload-group fr-mb-2w' },
    h('label', { class: 'fr-label', for: 'conseil-fichiers' }, 'Joindre des fichiers',
      h('span', { class: 'fr-hint-text' },
        'PDF, images ou documents bureautiques ; 10 Mo au plus par envoi, 20 fichiers par demande.')),
    input), button, status));
  return section;
}

async function detailView(main, ctx, id, advisor) {
  let r;
  try {
    r = await api(`/api/conseils/requests/${encodeURIComponent(id)}`);
  } catch (err) {
    main.append(h('h1', {}, 'Demande de conseil'), alert('error', err.message),
      h('a', { class: 'fr-link', href: '/conseils', 'data-link': true }, 'Retour aux demandes'));
    return;
  }
  const status = h('div', { 'aria-live': 'polite' });
  const act = async (action, body) => {
    status.replaceChildren();
    try {
      const done = await api(`/api/conseils/requests/${encodeURIComponent(id)}/${action}`,
        { method: 'POST', csrf: ctx.user.csrf_token, body: body || {} });
      if (action === 'publish') ctx.navigate(`/conseils?reponse=${done.id}`);
      else ctx.navigate(`/conseils?demande=${id}`, { replace: true });
    } catch (err) {
      status.append(alert('error', err.message));
    }
  };
  main.append(
    h('a', { class: 'fr-link fr-mb-2w', href: '/conseils', 'data-link': true }, 'Retour aux demandes'),
    h('h1', {}, r.subject),
    badge(r.status, r.overdue),
    h('p', {}, `${r.theme_label} · ${r.commune_name || r.commune} · déposée le ${when(r.created_at)} ` +
      `par ${r.requester_name} · réponse attendue avant le ${when(r.due_at)}`),
    h('h2', { class: 'fr-h4' }, 'Question'),
    h('p', { class: 'pa-pre' }, r.question));
  if (r.answer) main.append(h('h2', { class: 'fr-h4' }, 'Réponse'), h('p', { class: 'pa-pre' }, r.answer));
  main.append(attachmentsSection(r, ctx, id));

  const moves = h('div', { class: 'fr-mb-4w' });
  if (advisor) {
    if (['submitted', 'assigned', 'reopened'].includes(r.status)) {
      moves.append(actionButton('Prendre en charge', () => act('assign')));
    }
    if (['answered', 'closed'].includes(r.status)) {
      moves.append(actionButton('Publier la réponse (anonymisée)', () => act('publish')));
    }
    if (r.status === 'assigned') {
      const answer = h('textarea', { class: 'fr-input', id: 'conseil-reponse', rows: 6, maxlength: 50000 });
      moves.append(h('form', { class: 'fr-mb-2w', onsubmit: (e) => {
        e.preventDefault();
        act('answer', { answer: answer.value });
      } }, field('conseil-reponse', 'Votre réponse', answer),
      h('button', { class: 'fr-btn', type: 'submit' }, 'Envoyer la réponse')));
    }
  } else {
    if (r.status === 'answered') moves.append(actionButton('Clore la demande', () => act('close'), false));
    if (['answered', 'closed'].includes(r.status)) moves.append(actionButton('Rouvrir', () => act('reopen')));
    if (['submitted', 'assigned', 'reopened'].includes(r.status)) {
      moves.append(actionButton('Retirer la demande', () => act('withdraw')));
    }
  }
  main.append(moves, status);

  main.append(h('h2', { class: 'fr-h4' }, 'Échanges'));
  const messages = r.messages || [];
  main.append(messages.length === 0 ? h('p', {}, 'Aucun message.')
    : h('ul', { class: 'fr-raw-list fr-mb-2w' }, messages.map((m) => h('li', { class: 'fr-mb-2w' },
      h('p', { class: 'fr-text--sm fr-mb-0' }, `${m.by}, le ${when(m.at)}${m.internal ? ' (note interne)' : ''}`),
      h('p', { class: 'pa-pre' }, m.body)))));
  const text = h('textarea', { class: 'fr-input', id: 'conseil-message', rows: 3, maxlength: 20000 });
  const internal = advisor ? h('div', { class: 'fr-checkbox-group fr-mb-2w' },
    h('input', { type: 'checkbox', id: 'conseil-interne' }),
    h('label', { class: 'fr-label', for: 'conseil-interne' }, 'Note interne (visible des conseillers seulement)'))
    : null;
  main.append(h('form', { class: 'fr-mb-4w', onsubmit: (e) => {
    e.preventDefault();
    act('messages', { body: text.value, internal: advisor && internal.querySelector('input').checked });
  } }, field('conseil-message', 'Votre message', text), internal,
  h('button', { class: 'fr-btn fr-btn--secondary', type: 'submit' }, 'Envoyer le message')));

  main.append(h('h2', { class: 'fr-h4' }, 'Historique'),
    h('ol', {}, (r.history || []).map((step) => h('li', {},
      `${when(step.at)} : ${(STATUS[step.to] || [step.to])[0]} (${step.by})`))));
}

// The knowledge base: published answers, anonymised, searched in French (a GET form:
// /conseils?q=…, bookmarkable); one opens at /conseils?reponse=<id>.
async function knowledgeSection(main, ctx, level) {
  const q = ctx.params.get('q') || '';
  const heading = h(level, { class: level === 'h1' ? '' : 'fr-h4 fr-mt-6w' }, 'Réponses publiées');
  const form = h('form', { method: 'get', action: '/conseils', class: 'fr-mb-3w' },
    h('div', { class: 'fr-search-bar', role: 'search' },
      h('label', { class: 'fr-label', for: 'conseil-recherche' }, 'Rechercher dans les réponses publiées'),
      h('input', { class: 'fr-input', type: 'search', id: 'conseil-recherche', name: 'q', maxlength: 200,
        placeholder: 'Rechercher dans les réponses publiées', value: q }),
      h('button', { class: 'fr-btn', type: 'submit', title: 'Rechercher' }, 'Rechercher')));
  main.append(heading, h('p', {}, 'Des questions déjà posées par des communes et leurs réponses, ' +
    'sans ce qui permettrait de reconnaître la commune ou les personnes.'), form);
  let found;
  try {
    found = await api(`/api/conseils/knowledge${q ? `?q=${encodeURIComponent(q)}` : ''}`);
  } catch (err) {
    main.append(alert('error', err.message));
    return;
  }
  const entries = found.entries || [];
  main.append(h('p', { role: 'status' }, entries.length === 0
    ? (q ? 'Aucune réponse publiée ne correspond à votre recherche.' : 'Aucune réponse publiée pour le moment.')
    : `${entries.length} réponse${entries.length > 1 ? 's' : ''}.`));
  main.append(h('ul', { class: 'fr-raw-list' }, entries.map((e) => h('li', { class: 'pa-request', 'data-entry': e.id },
    h(level === 'h1' ? 'h2' : 'h3', { class: 'fr-h6 fr-mb-1v' },
      h('a', { class: 'fr-link', href: `/conseils?reponse=${e.id}`, 'data-link': true }, e.title)),
    h('p', { class: 'fr-text--sm fr-mb-0' }, `${e.theme_label} · publiée le ${when(e.published_at)}`)))));
}

async function entryView(main, id) {
  let e;
  try {
    e = await api(`/api/conseils/knowledge/${encodeURIComponent(id)}`);
  } catch (err) {
    main.append(h('h1', {}, 'Réponse publiée'), alert('error', err.message));
    return;
  }
  main.append(
    h('a', { class: 'fr-link fr-mb-2w', href: '/conseils', 'data-link': true }, 'Retour'),
    h('h1', {}, e.title),
    h('p', {}, `${e.theme_label} · publiée le ${when(e.published_at)}`),
    h('h2', { class: 'fr-h4' }, 'Question'), h('p', { class: 'pa-pre' }, e.question),
    h('h2', { class: 'fr-h4' }, 'Réponse'), h('p', { class: 'pa-pre' }, e.answer));
}

export async function conseilsPage(main, ctx) {
  const roles = ctx.user.roles || [];
  const advisor = roles.includes('advisor');
  const entry = ctx.params.get('reponse');
  if (entry) {
    await entryView(main, entry);
    return;
  }
  if (!advisor && !roles.includes('elu') && !roles.includes('agent')) {
    // Everyone logged in reads the published answers.
    await knowledgeSection(main, ctx, 'h1');
    return;
  }
  const id = ctx.params.get('demande');
  if (id) {
    await detailView(main, ctx, id, advisor);
    return;
  }
  await listView(main, ctx, advisor);
  await knowledgeSection(main, ctx, 'h2');
}
