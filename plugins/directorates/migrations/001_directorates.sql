-- One row per directorate; its contacts are part of the document (they are always read with it).
CREATE TABLE directorates_directorates (
  id TEXT PRIMARY KEY,
  document TEXT NOT NULL,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
