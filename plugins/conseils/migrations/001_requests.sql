-- Advice requests, their history (append-only: who moved a request from which status to
-- which, when), their mail (an outbox) and their messages (an advisor's may be internal: never shown to the
-- requester). Ids are random (128 bits, hex): not guessable. Times: epoch seconds.
CREATE TABLE conseils_requests (
  id TEXT PRIMARY KEY,
  commune TEXT NOT NULL,
  department TEXT NOT NULL,
  requester TEXT NOT NULL,
  requester_name TEXT NOT NULL,
  requester_email TEXT NOT NULL,
  theme TEXT NOT NULL,
  subject TEXT NOT NULL,
  question TEXT NOT NULL,
  status TEXT NOT NULL,
  advisor TEXT NOT NULL,
  advisor_name TEXT NOT NULL,
  advisor_email TEXT NOT NULL,
  answer TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  due_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  version BIGINT NOT NULL,
  last_change TEXT NOT NULL  -- random, per change: what the change's other rows are bound to
);
CREATE INDEX conseils_requests_commune ON conseils_requests (commune, created_at);
-- An advisor's queue: the oldest first, the theme and status checked in the index.
CREATE INDEX conseils_requests_queue ON conseils_requests (created_at, id, theme, status);
CREATE TABLE conseils_history (
  request_id TEXT NOT NULL,
  version BIGINT NOT NULL,  -- the request's version this change made: the history's order
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  actor_name TEXT NOT NULL,
  from_status TEXT NOT NULL,
  to_status TEXT NOT NULL
);
CREATE INDEX conseils_history_request ON conseils_history (request_id, version);
CREATE TABLE conseils_messages (
  id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL,
  at BIGINT NOT NULL,
  author TEXT NOT NULL,
  author_name TEXT NOT NULL,
  internal BIGINT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX conseils_messages_request ON conseils_messages (request_id, at);
-- Mail to send: written in the transaction of the change it tells of, sent afterwards by the
-- plugin's sender (retried with back-off while the relay fails: nothing is lost). A row is
-- claimed by a sender's random token with its next_at moved ahead (one instance sends it).
-- sent_at: 0 not sent yet, -1 given up (after 20 attempts: last_error says why).
CREATE TABLE conseils_outbox (
  id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL,
  to_addr TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  attempts BIGINT NOT NULL,
  next_at BIGINT NOT NULL,
  sent_at BIGINT NOT NULL,
  last_error TEXT NOT NULL,
  claim TEXT NOT NULL
);
CREATE INDEX conseils_outbox_due ON conseils_outbox (sent_at, next_at);
