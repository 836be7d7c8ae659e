-- Times become integer epoch seconds computed by the plugin (portable SQL): the table is rebuilt
-- (SQLite cannot change a column's type), the existing ISO-8601 texts converted once.
CREATE TABLE directorates_v1 AS SELECT id, document, updated_at FROM directorates_directorates;
DROP TABLE directorates_directorates;
CREATE TABLE directorates_directorates (
  id TEXT PRIMARY KEY,
  document TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
INSERT INTO directorates_directorates (id, document, updated_at)
  SELECT id, document, coalesce(CAST(strftime('%s', updated_at) AS INTEGER), 0)
  FROM directorates_v1;
DROP TABLE directorates_v1;
