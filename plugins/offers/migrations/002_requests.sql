-- Financing requests: a lead that became a project (one per lead), its statuses
-- draft → submitted → under_review → decided (granted | declined, with the reason) →
-- contract_signed, an append-only history of its moves, and its documents (the host's
-- attachments, named here so that only those who may read the request reach them).
CREATE TABLE offers_requests (
  id TEXT PRIMARY KEY,
  lead_id TEXT NOT NULL UNIQUE,
  offer TEXT NOT NULL,
  commune TEXT NOT NULL,
  requester TEXT NOT NULL,
  requester_name TEXT NOT NULL,
  directorate TEXT NOT NULL,
  project TEXT NOT NULL,
  amount_eur BIGINT NOT NULL,
  duration_years BIGINT NOT NULL,
  status TEXT NOT NULL,
  decision TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  version BIGINT NOT NULL,
  last_change TEXT NOT NULL  -- random, per change: what the change's history row is bound to
);
CREATE INDEX offers_requests_commune ON offers_requests (commune, created_at);
CREATE INDEX offers_requests_queue ON offers_requests (status, directorate, updated_at);
CREATE TABLE offers_request_history (
  request_id TEXT NOT NULL,
  version BIGINT NOT NULL,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  actor_name TEXT NOT NULL,
  from_status TEXT NOT NULL,
  to_status TEXT NOT NULL,
  note TEXT NOT NULL
);
CREATE INDEX offers_request_history_request ON offers_request_history (request_id, version);
CREATE TABLE offers_request_files (
  attachment_id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL,
  filename TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size BIGINT NOT NULL,
  author_name TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX offers_request_files_request ON offers_request_files (request_id, at);
