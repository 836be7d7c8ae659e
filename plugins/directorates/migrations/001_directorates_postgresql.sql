-- directorates_directorates for PostgreSQL, in the shape SQLite reaches after migration 2.
CREATE TABLE directorates_directorates (
  id TEXT PRIMARY KEY,
  document TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
