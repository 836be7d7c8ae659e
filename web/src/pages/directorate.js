// /ma-direction: the regional directorate in charge of the user's commune, and its contacts.
import { api } from '../api.js';
import { alert, h } from '../dom.js';

function phoneLink(phone) {
  return h('a', { href: `tel:${phone.replace(/[^+\d]/g, '')}` }, phone);
}

function mailLink(email) {
  return h('a', { href: `mailto:${email}` }, email);
}

function contact(c) {
  return h('li', { class: 'fr-col-12 fr-col-md-6' },
    h('div', { class: 'fr-card fr-card--no-arrow' },
      h('div', { class: 'fr-card__body' },
        h('div', { class: 'fr-card__content' },
          h('h3', { class: 'fr-card__title' }, c.name || ''),
          h('p', { class: 'fr-card__desc' }, c.role || ''),
          h('ul', { class: 'fr-card__desc' },
            c.email ? h('li', {}, 'Courriel : ', mailLink(c.email)) : null,
            c.phone ? h('li', {}, 'Téléphone : ', phoneLink(c.phone)) : null)))));
}

export async function directoratePage(main, { commune }) {
  main.append(h('h1', {}, 'Ma direction régionale'));
  let d;
  try {
    d = await api('/api/directorates/mine');
  } catch (err) {
    const text = err.status === 404
      ? 'Aucune direction régionale n’est rattachée à votre commune pour le moment.'
      : 'Ce service est temporairement indisponible. Réessayez plus tard.';
    main.append(alert(err.status === 404 ? 'info' : 'error', err.code === 'no_commune'
      ? err.message : text));
    return;
  }
  if (commune) main.append(h('p', {}, `Direction en charge de la commune ${commune}.`));
  main.append(h('h2', {}, d.name || ''),
    h('address', { class: 'fr-mb-3w' },
      d.address ? h('p', { class: 'fr-mb-1v' }, d.address) : null,
      d.phone ? h('p', { class: 'fr-mb-1v' }, 'Téléphone : ', phoneLink(d.phone)) : null,
      d.email ? h('p', { class: 'fr-mb-1v' }, 'Courriel : ', mailLink(d.email)) : null));
  const contacts = Array.isArray(d.contacts) ? d.contacts : [];
  main.append(h('h2', { class: 'fr-h4' }, 'Vos contacts'));
  if (contacts.length === 0) main.append(h('p', {}, 'Aucun contact n’est indiqué.'));
  else main.append(h('ul', { class: 'fr-grid-row fr-grid-row--gutters fr-raw-list' },
    contacts.map(contact)));
}
