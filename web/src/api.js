// Calls to the gateway (same origin, JSON): errors carry the status and a French message.

const MESSAGES = {
  invalid_credentials: 'Identifiant ou mot de passe incorrect.',
  too_many_attempts: 'Trop de tentatives de connexion. Réessayez dans quelques minutes.',
  overloaded: 'Le service est très sollicité. Réessayez dans un instant.',
  unauthenticated: 'Votre session a expiré. Reconnectez-vous.',
  forbidden: 'Vous n’avez pas accès à ce service.',
  not_granted: 'Votre organisation ne vous a pas ouvert ce service : demandez-le à son référent.',
  no_mail_relay: 'Les invitations partent par courriel et aucun envoi n’est configuré : demandez-la à un opérateur.',
  too_many_invitations: 'Trop d’invitations attendent une réponse : relancez les personnes invitées.',
  mail_unavailable: 'Le courriel d’invitation n’a pas pu partir : réessayez dans quelques minutes.',
  csrf: 'La page a expiré. Rechargez-la puis réessayez.',
  no_commune: 'Votre compte n’est rattaché à aucune commune : demandez-le à un opérateur.',
  not_found: 'Aucune information n’a été trouvée.',
  payload_too_large: 'Les fichiers sont trop volumineux : 10 Mo au plus en un envoi.',
  too_many_files: 'Trop de fichiers en un envoi : joignez-les en plusieurs fois.',
  unsupported_file_type: 'Ce type de fichier n’est pas accepté : joignez un PDF, une image ou un document bureautique.',
  infected_file: 'Un fichier contient un virus : il n’a pas été accepté.',
  scan_unavailable: 'L’analyse antivirus est indisponible : réessayez dans quelques minutes.',
  request_timeout: 'L’envoi a pris trop de temps : réessayez.',
};

/** An API failure: status (0 = network), code and a message to show in French. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Codes whose message the gateway writes in French for the user (it names their commune, a
// threshold...): shown as they come.
const SERVER_FRENCH = new Set(['not_eligible', 'quota_exceeded']);

function frenchMessage(status, code, serverMessage) {
  if (SERVER_FRENCH.has(code) && serverMessage) return serverMessage;
  if (MESSAGES[code]) return MESSAGES[code];
  if (status === 401) return MESSAGES.unauthenticated;
  if (status === 403) return MESSAGES.forbidden;
  if (status === 404) return MESSAGES.not_found;
  if (status === 429) return MESSAGES.too_many_attempts;
  if (status >= 500) return 'Ce service est temporairement indisponible. Réessayez plus tard.';
  return 'La demande n’a pas abouti. Réessayez.';
}

/** fetch + JSON; resolves to the parsed body, rejects with an ApiError. A FormData body goes
 * as multipart/form-data (files), any other as JSON. */
export async function api(path, { method = 'GET', body, csrf } = {}) {
  const headers = { Accept: 'application/json' };
  const form = typeof FormData !== 'undefined' && body instanceof FormData;
  if (body !== undefined && !form) headers['Content-Type'] = 'application/json';
  if (csrf) headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined || form ? body : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'Le serveur est injoignable. Vérifiez votre connexion.');
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const code = data && data.error && typeof data.error.code === 'string' ? data.error.code : '';
    const message = data && data.error && typeof data.error.message === 'string' ? data.error.message : '';
    throw new ApiError(res.status, code, frenchMessage(res.status, code, message));
  }
  return data;
}

/** GET /api/me/sessions: the caller's open sessions ({id, provider, created_at, last_seen,
 * current}, times in epoch seconds). */
export async function mySessions() {
  const data = await api('/api/me/sessions');
  return data && Array.isArray(data.sessions) ? data.sessions : [];
}

/** DELETE /api/me/sessions/{id}: ends one of the caller's other sessions. */
export function endSession(id, csrf) {
  return api(`/api/me/sessions/${encodeURIComponent(id)}`, { method: 'DELETE', csrf });
}

/** POST /auth/logout-everywhere: ends every session of the caller, this one too. */
export function logoutEverywhere(csrf) {
  return api('/auth/logout-everywhere', { method: 'POST', body: {}, csrf });
}
