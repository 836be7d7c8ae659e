-- The catalogue (each offer a JSON document, its rule in it), the programmes' member lists (an
-- operator's CSV import, or the demo's sample), and the leads: an élu's or agent's interest in
-- an offer, routed to the directorate in charge of their commune. Times: epoch seconds.
CREATE TABLE offers_offers (
  id TEXT PRIMARY KEY,
  document TEXT NOT NULL,
  archived BIGINT NOT NULL,
  version BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE offers_members (
  programme TEXT NOT NULL,
  code TEXT NOT NULL,
  PRIMARY KEY (programme, code)
);
CREATE TABLE offers_imports (
  programme TEXT PRIMARY KEY,
  imported_at BIGINT NOT NULL,
  imported_by TEXT NOT NULL,
  members BIGINT NOT NULL,
  sample BIGINT NOT NULL
);
CREATE TABLE offers_leads (
  id TEXT PRIMARY KEY,
  offer TEXT NOT NULL,
  commune TEXT NOT NULL,
  requester TEXT NOT NULL,
  requester_name TEXT NOT NULL,
  requester_email TEXT NOT NULL,
  message TEXT NOT NULL,
  eligible BIGINT NOT NULL,
  directorate TEXT NOT NULL,
  directorate_name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (offer, commune, requester)
);
CREATE INDEX offers_leads_commune ON offers_leads (commune, created_at);
CREATE INDEX offers_leads_directorate ON offers_leads (directorate, created_at);
