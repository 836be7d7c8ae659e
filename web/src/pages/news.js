// /actualites: the Localtis news, the user's region first, searchable by words and theme. The
// search is a plain GET form (/actualites?q=…&theme=…): it works, and can be bookmarked, without
// the router; articles open at their source, in a new tab.
import { api } from '../api.js';
import { alert, h } from '../dom.js';

const day = new Intl.DateTimeFormat('fr-FR', { day: 'numeric', month: 'long', year: 'numeric' });

function card(a) {
  const title = a.link
    ? h('a', { href: a.link, target: '_blank', rel: 'noopener noreferrer',
      title: `${a.title} (nouvelle fenêtre)` }, a.title)
    : a.title;
  return h('li', { class: 'fr-col-12 fr-col-md-6' },
    h('div', { class: `fr-card${a.link ? ' fr-enlarge-link' : ' fr-card--no-arrow'}`, 'data-article': a.id },
      h('div', { class: 'fr-card__body' },
        h('div', { class: 'fr-card__content' },
          h('h3', { class: 'fr-card__title' }, title),
          h('p', { class: 'fr-card__desc' }, a.excerpt || ''),
          h('div', { class: 'fr-card__start' },
            h('ul', { class: 'fr-tags-group' },
              h('li', {}, h('p', { class: 'fr-tag fr-tag--sm' }, a.theme_label || a.theme)),
              a.region_name ? h('li', {}, h('p', { class: 'fr-tag fr-tag--sm' }, a.region_name)) : null)),
          h('div', { class: 'fr-card__end' },
            h('p', { class: 'fr-card__detail' }, `Publié le ${day.format(new Date(a.published_at))}`))))));
}

function searchForm(params, themes) {
  const select = h('select', { class: 'fr-select', id: 'news-theme', name: 'theme' },
    h('option', { value: '' }, 'Tous les thèmes'),
    themes.map((t) => h('option', { value: t.id, selected: params.get('theme') === t.id },
      `${t.label} (${t.articles})`)));
  return h('form', { method: 'get', action: '/actualites', class: 'fr-mb-4w' },
    h('div', { class: 'fr-grid-row fr-grid-row--gutters fr-grid-row--bottom' },
      h('div', { class: 'fr-col-12 fr-col-md-7' },
        h('div', { class: 'fr-search-bar', role: 'search' },
          h('label', { class: 'fr-label', for: 'news-q' }, 'Rechercher dans les actualités'),
          h('input', { class: 'fr-input', type: 'search', id: 'news-q', name: 'q', maxlength: 200,
            placeholder: 'Rechercher dans les actualités', value: params.get('q') || '' }),
          h('button', { class: 'fr-btn', type: 'submit', title: 'Rechercher' }, 'Rechercher'))),
      h('div', { class: 'fr-col-12 fr-col-md-5' },
        h('div', { class: 'fr-select-group fr-mb-0' },
          h('label', { class: 'fr-label', for: 'news-theme' }, 'Thème'), select))));
}

export async function newsPage(main) {
  main.append(h('h1', {}, 'Actualités'),
    h('p', {}, 'Les articles Localtis sur les finances, l’énergie, l’urbanisme et la vie des ' +
      'territoires ; ceux de votre région d’abord.'));
  const params = new URLSearchParams(location.search);
  let themes;
  try {
    themes = (await api('/api/localtis/themes')).themes || [];
  } catch (err) {
    main.append(alert('error', err.message));
    return;
  }
  main.append(searchForm(params, themes));
  const query = new URLSearchParams();
  for (const key of ['q', 'theme']) if (params.get(key)) query.set(key, params.get(key));
  const status = h('p', { role: 'status', class: 'fr-mb-2w' });
  const list = h('ul', { class: 'fr-grid-row fr-grid-row--gutters fr-raw-list' });
  // Shown only while there are more (appended then; the DSFR's display beats `hidden`).
  const more = h('button', { class: 'fr-btn fr-btn--secondary fr-mt-3w', type: 'button' },
    'Afficher plus d’articles');
  // The cards' titles are h3: the list has its heading, so that levels follow each other.
  main.append(h('h2', { class: 'fr-h4 fr-mb-1w' }, query.get('q') ? 'Résultats' : 'Derniers articles'),
    status, list);
  let shown = 0;
  const load = async (cursor) => {
    const page = new URLSearchParams(query);
    if (cursor) page.set('cursor', cursor);
    let answer;
    try {
      answer = await api(`/api/localtis/articles?${page}`);
    } catch (err) {
      status.replaceChildren(err.message);
      return;
    }
    const articles = answer.articles || [];
    list.append(...articles.map(card));
    shown += articles.length;
    status.textContent = shown === 0
      ? (query.get('q') ? 'Aucun article ne correspond à votre recherche.' : 'Aucun article pour le moment.')
      : `${shown} article${shown > 1 ? 's' : ''} affiché${shown > 1 ? 's' : ''}.`;
    if (answer.next_cursor) main.append(more);
    else more.remove();
    more.onclick = () => { more.remove(); load(answer.next_cursor); };
  };
  await load(null);
}
