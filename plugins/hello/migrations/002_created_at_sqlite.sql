-- Times become integer epoch seconds computed by the plugin (portable SQL): the table is rebuilt
-- (SQLite cannot change a column's type), the existing ISO-8601 texts converted once.
CREATE TABLE hello_items_v1 AS SELECT id, name, created_at FROM hello_items;
DROP TABLE hello_items;
CREATE TABLE hello_items (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
INSERT INTO hello_items (id, name, created_at)
  SELECT id, name, coalesce(CAST(strftime('%s', created_at) AS INTEGER), 0) FROM hello_items_v1;
DROP TABLE hello_items_v1;
