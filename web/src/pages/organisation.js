// /mon-organisation: delegated administration. Everyone sees their organisations (GET
// /api/me/organisations) and switches the one they act for (POST /api/me/organisation); a
// référent manages the members of theirs (GET/POST/PUT/DELETE /api/organisations/{code}/members)
// and invites by email (POST …/invitations: mailed, or a link to pass on when the gateway has no
// mail relay); an operator opens any organisation by its code.
import { api } from '../api.js';
import { alert, h } from '../dom.js';
import { forgetUser } from '../session.js';

export const SERVICE_LABELS = {
  conseils: 'Territoires Conseils',
  offers: 'Offres',
  localtis: 'Actualités Localtis',
  directorates: 'Ma direction',
};
const ROLE = { referent: 'Référent', delegue: 'Délégué' };

const serviceLabel = (name) => SERVICE_LABELS[name] || name;

/** "Angers (commune)" */
function orgLabel(o) {
  const kind = o.kind === 'epci' ? 'intercommunalité' : o.kind === 'commune' ? 'commune' : '';
  return kind ? `${o.name} (${kind})` : o.name;
}

// The services offered to a member: checkboxes, the member's ticked. `id` makes ids unique.
function servicesFieldset(id, services, checked) {
  return h('fieldset', { class: 'fr-fieldset', id: `${id}-services` },
    h('legend', { class: 'fr-fieldset__legend fr-text--regular' }, 'Services ouverts'),
    services.map((s) => h('div', { class: 'fr-fieldset__element fr-fieldset__element--inline' },
      h('div', { class: 'fr-checkbox-group' },
        h('input', { type: 'checkbox', id: `${id}-${s}`, name: 'services', value: s,
          checked: checked.includes(s) }),
        h('label', { class: 'fr-label', for: `${id}-${s}` }, serviceLabel(s))))));
}

function roleSelect(id, value) {
  return h('div', { class: 'fr-select-group' },
    h('label', { class: 'fr-label', for: `${id}-role` }, 'Rôle'),
    h('select', { class: 'fr-select', id: `${id}-role`, name: 'role' },
      Object.entries(ROLE).map(([v, label]) => h('option', { value: v, selected: v === value },
        label))));
}

function ticked(form) {
  return [...form.querySelectorAll('input[name="services"]:checked')].map((i) => i.value);
}

function input(id, label, attrs = {}, hint = '') {
  return h('div', { class: 'fr-input-group' },
    h('label', { class: 'fr-label', for: id }, label,
      hint ? h('span', { class: 'fr-hint-text' }, hint) : null),
    h('input', { class: 'fr-input', id, name: id, ...attrs }));
}

// One member: role and services to change, or remove.
function memberRow(m, ctx, org, services, refresh, status) {
  const key = m.username;
  const id = `m-${key.replace(/[^a-z0-9]/gi, '_')}`;
  const form = h('form', { class: 'fr-mb-2w', 'aria-labelledby': `${id}-name` });
  const save = async (e) => {
    e.preventDefault();
    status.replaceChildren();
    try {
      await api(`/api/organisations/${org.code}/members/${encodeURIComponent(key)}`, {
        method: 'PUT', csrf: ctx.user.csrf_token,
        body: { role: form.querySelector('select').value, services: ticked(form) } });
      status.append(alert('success', `Les droits de ${m.display_name} sont enregistrés.`));
      await refresh();
    } catch (err) {
      status.append(alert('error', err.code === 'last_referent'
        ? 'L’organisation garde au moins un référent.' : err.message));
    }
  };
  const remove = async () => {
    status.replaceChildren();
    try {
      await api(`/api/organisations/${org.code}/members/${encodeURIComponent(key)}`, {
        method: 'DELETE', csrf: ctx.user.csrf_token });
      status.append(alert('success', `${m.display_name} ne fait plus partie de ${org.name}.`));
      await refresh();
    } catch (err) {
      status.append(alert('error', err.code === 'last_referent'
        ? 'Le dernier référent ne peut pas être retiré.' : err.message));
    }
  };
  form.addEventListener('submit', save);
  form.append(
    h('h3', { class: 'fr-h6 fr-mb-1w', id: `${id}-name` }, m.display_name,
      h('span', { class: 'fr-text--sm fr-text--regular' }, ` — ${m.email || key}`)),
    roleSelect(id, m.role),
    servicesFieldset(id, services, m.services || []),
    h('ul', { class: 'fr-btns-group fr-btns-group--inline-sm fr-btns-group--sm' },
      h('li', {}, h('button', { type: 'submit', class: 'fr-btn fr-btn--sm' },
        'Enregistrer', h('span', { class: 'fr-sr-only' }, ` les droits de ${m.display_name}`))),
      h('li', {}, h('button', { type: 'button', class: 'fr-btn fr-btn--sm fr-btn--tertiary',
        onclick: remove }, 'Retirer', h('span', { class: 'fr-sr-only' }, ` ${m.display_name}`)))));
  return h('li', { class: 'pa-member' }, form);
}

// The invitation form: an address, a role, services; the link when it was not mailed.
function inviteForm(ctx, org, services, refresh) {
  const status = h('div', { 'aria-live': 'polite', class: 'fr-mt-2w' });
  const form = h('form', { class: 'fr-mt-2w' });
  form.append(
    input('invite-email', 'Adresse électronique', { type: 'email', required: true,
      autocomplete: 'off' }),
    h('div', { class: 'fr-select-group' },
      h('label', { class: 'fr-label', for: 'invite-kind' }, 'Fonction'),
      h('select', { class: 'fr-select', id: 'invite-kind' },
        h('option', { value: 'agent' }, 'Agent·e territorial·e'),
        h('option', { value: 'elu' }, 'Élu·e'))),
    roleSelect('invite', 'delegue'),
    servicesFieldset('invite', services, []),
    h('button', { type: 'submit', class: 'fr-btn' }, 'Inviter'),
    status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    status.replaceChildren();
    const email = form.querySelector('#invite-email').value.trim();
    try {
      const res = await api(`/api/organisations/${org.code}/invitations`, {
        method: 'POST', csrf: ctx.user.csrf_token,
        body: { email, account_role: form.querySelector('#invite-kind').value,
          role: form.querySelector('#invite-role').value, services: ticked(form) } });
      if (res.mailed) {
        status.append(alert('success', `L’invitation a été envoyée à ${email}. Elle vaut 7 jours.`));
      } else {
        status.append(h('div', { class: 'fr-alert fr-alert--info fr-alert--sm fr-mb-3w',
          role: 'status' },
        h('p', {}, `Aucun envoi de courriel n’est configuré : transmettez ce lien à ${email}. `
          + 'Il ne sert qu’une fois et vaut 7 jours.'),
        h('p', { class: 'pa-invitation-link' }, h('code', {}, res.link))));
      }
      form.reset();
      await refresh();
    } catch (err) {
      status.append(alert('error', err.code === 'invalid_field'
        ? 'Vérifiez l’adresse électronique.' : err.message));
    }
  });
  return form;
}

const DAY = new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long' });

// The invitations waiting for an answer, each with "Retirer".
function pendingItem(inv, ctx, code, status, refresh) {
  const withdraw = async () => {
    status.replaceChildren();
    try {
      await api(`/api/organisations/${encodeURIComponent(code)}/invitations/${inv.id}`, {
        method: 'DELETE', csrf: ctx.user.csrf_token });
      status.append(alert('success', `L’invitation de ${inv.email} est retirée.`));
      await refresh();
    } catch (err) {
      status.append(alert('error', err.message));
    }
  };
  return h('li', { class: 'fr-mb-1w' },
    h('span', {}, `${inv.email} — ${ROLE[inv.role] || inv.role}, jusqu’au `
      + `${DAY.format(new Date(inv.expires_at * 1000))} `),
    h('button', { type: 'button', class: 'fr-btn fr-btn--sm fr-btn--tertiary', onclick: withdraw },
      'Retirer', h('span', { class: 'fr-sr-only' }, ` l’invitation de ${inv.email}`)));
}

// The members of an organisation the caller manages, with the forms to change them.
async function manageSection(section, ctx, code, services) {
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('ul', { class: 'fr-raw-list' });
  const waiting = h('ul', { class: 'fr-raw-list' });
  let org;
  const refresh = async () => {
    const [res, pending] = await Promise.all([
      api(`/api/organisations/${encodeURIComponent(code)}/members`),
      api(`/api/organisations/${encodeURIComponent(code)}/invitations`)]);
    org = res.organisation;
    list.replaceChildren(...res.members.map((m) => memberRow(m, ctx, org, services, refresh,
      status)));
    const invitations = pending.invitations || [];
    waiting.replaceChildren(...(invitations.length ? invitations.map((i) => pendingItem(i, ctx,
      org.code, status, refresh)) : [h('li', {}, 'Aucune invitation en attente.')]));
  };
  try {
    await refresh();
  } catch (err) {
    section.append(alert('error', err.status === 404
      ? 'Aucune organisation à gérer sous ce code.' : err.message));
    return;
  }
  section.append(
    h('h2', { id: 'gestion' }, `Membres de ${orgLabel(org)}`),
    status, list,
    h('h3', { class: 'fr-mt-4w' }, 'Invitations en attente'), waiting,
    h('h3', { class: 'fr-mt-4w' }, 'Inviter une personne'),
    h('p', {}, 'La personne reçoit un lien pour créer son compte, ou se connecte avec ProConnect '
      + 'sous cette adresse.'),
    inviteForm(ctx, org, services, refresh));
}

export async function organisationPage(main, ctx) {
  main.append(h('h1', {}, 'Mon organisation'));
  const operator = (ctx.user.roles || []).includes('operator');
  let mine = [];
  let services = [];
  try {
    const [orgs, plugins] = await Promise.all([api('/api/me/organisations'), api('/api/plugins')]);
    mine = orgs.organisations || [];
    services = (plugins.plugins || []).map((p) => p.name);
  } catch (err) {
    main.append(alert('error', err.message));
    return;
  }
  const status = h('div', { 'aria-live': 'polite' });
  main.append(status);
  if (mine.length === 0 && !operator) {
    main.append(h('p', {}, 'Vous n’êtes membre d’aucune organisation. Le référent de votre '
      + 'commune vous invite ; la banque désigne le premier référent de chaque organisation.'));
  }
  if (mine.length > 0) {
    const switchTo = async (o) => {
      status.replaceChildren();
      try {
        await api('/api/me/organisation', { method: 'POST', csrf: ctx.user.csrf_token,
          body: { code: o.code } });
      } catch (err) {
        status.append(alert('error', err.message));
        return;
      }
      forgetUser();
      ctx.navigate('/');
    };
    main.append(h('h2', {}, 'Mes organisations'), h('ul', { class: 'fr-raw-list fr-mb-4w' },
      mine.map((o) => h('li', { class: 'fr-mb-2w' },
        h('p', { class: 'fr-mb-1v' }, h('strong', {}, orgLabel(o)), ` — ${ROLE[o.role] || o.role}`,
          o.current ? h('span', { class: 'fr-badge fr-badge--sm fr-badge--info fr-ml-1w' },
            'Organisation active') : null),
        h('p', { class: 'fr-text--sm fr-mb-1v' }, 'Services : ',
          (o.services || []).map(serviceLabel).join(', ') || 'aucun'),
        o.current ? null : h('button', { type: 'button', class: 'fr-btn fr-btn--sm fr-btn--secondary',
          onclick: () => switchTo(o) }, 'Agir pour ', orgLabel(o))))));
  }
  const managed = mine.find((o) => o.current && o.role === 'referent')
    || mine.find((o) => o.role === 'referent');
  const section = h('section', { 'aria-labelledby': 'gestion' });
  main.append(section);
  if (operator) {
    const field = input('org-code', 'Code de l’organisation', { required: true,
      pattern: '[0-9AB]{5}|[0-9]{9}', inputmode: 'numeric' },
    'Code INSEE d’une commune (5 caractères) ou SIREN d’une intercommunalité (9 chiffres)');
    const form = h('form', { class: 'fr-mb-4w' }, h('h2', {}, 'Gérer une organisation'), field,
      h('button', { type: 'submit', class: 'fr-btn' }, 'Ouvrir'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      section.replaceChildren();
      await manageSection(section, ctx, form.querySelector('#org-code').value.trim(), services);
    });
    main.insertBefore(form, section);
  } else if (managed) {
    await manageSection(section, ctx, managed.code, services);
  }
}
