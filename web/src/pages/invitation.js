// /invitation#<token>: the page of an invitation's link. The token stays in the fragment (never
// sent in a request line, so never in a log nor a Referer); the form creates the account
// (POST /api/invitations/{token}/accept), then the person logs in. With ProConnect, logging in
// under the invited address is enough.
import { api } from '../api.js';
import { alert, h } from '../dom.js';

const MESSAGES = {
  invitation_gone: 'Cette invitation a déjà servi ou a expiré : demandez-en une nouvelle au '
    + 'référent de votre organisation.',
  not_found: 'Ce lien d’invitation n’est pas valable : vérifiez qu’il est complet.',
};

function field(id, label, attrs, hint) {
  return h('div', { class: 'fr-input-group' },
    h('label', { class: 'fr-label', for: id }, label,
      hint ? h('span', { class: 'fr-hint-text' }, hint) : null),
    h('input', { class: 'fr-input', id, name: id, required: true, ...attrs }));
}

export function invitationPage(main) {
  main.append(h('h1', {}, 'Rejoindre votre organisation'));
  const token = location.hash.slice(1);
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) {
    main.append(alert('error', MESSAGES.not_found));
    return;
  }
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'fr-mb-4w' },
    h('p', {}, 'Créez votre compte : vous rejoindrez l’organisation qui vous a invité, avec les '
      + 'services que son référent vous a ouverts.'),
    field('inv-name', 'Nom affiché', { autocomplete: 'name', maxlength: 200 }, 'Par exemple : Marie Dupont'),
    field('inv-username', 'Identifiant', { autocomplete: 'username', pattern: '[a-z0-9._\\-]{3,64}',
      maxlength: 64 }, '3 à 64 caractères : lettres minuscules, chiffres, point, tiret'),
    field('inv-password', 'Mot de passe', { type: 'password', autocomplete: 'new-password',
      minlength: 12 }, '12 caractères au moins ; une phrase est plus facile à retenir'),
    h('button', { type: 'submit', class: 'fr-btn' }, 'Créer mon compte'),
    status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    status.replaceChildren();
    try {
      const res = await api(`/api/invitations/${token}/accept`, { method: 'POST',
        body: { display_name: form.querySelector('#inv-name').value.trim(),
          username: form.querySelector('#inv-username').value.trim(),
          password: form.querySelector('#inv-password').value } });
      form.replaceWith(h('div', {},
        alert('success', `Votre compte « ${res.username} » est créé.`),
        h('a', { class: 'fr-btn', href: '/connexion', 'data-link': true }, 'Se connecter')));
      history.replaceState(null, '', '/invitation'); // the used token leaves the address bar
    } catch (err) {
      status.append(alert('error', MESSAGES[err.code] || (err.code === 'invalid_field'
        ? 'Vérifiez le formulaire : l’identifiant est peut-être déjà pris, ou le mot de passe '
          + 'trop simple.' : err.message)));
    }
  });
  main.append(form, h('p', { class: 'fr-text--sm' }, 'Vous avez un compte ProConnect sous '
    + 'l’adresse invitée ? ', h('a', { href: '/connexion', 'data-link': true },
    'Connectez-vous avec ProConnect'), ' : l’invitation est prise en compte à la connexion.'));
}
