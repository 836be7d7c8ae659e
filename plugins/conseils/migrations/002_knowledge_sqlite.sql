-- The knowledge base: answered requests an advisor published, anonymised (commune, names,
-- addresses, telephone numbers and codes replaced), searchable in French by everyone logged in.
-- One entry per request (published again: replaced). Search terms are made in C++ (the same
-- stems as Localtis'), indexed by FTS5 under the entry's number.
CREATE TABLE conseils_knowledge (
  n INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  request_id TEXT NOT NULL UNIQUE,
  theme TEXT NOT NULL,
  title TEXT NOT NULL,
  question TEXT NOT NULL,
  answer TEXT NOT NULL,
  published_at BIGINT NOT NULL,
  published_by TEXT NOT NULL,
  search TEXT NOT NULL
);
CREATE INDEX conseils_knowledge_published ON conseils_knowledge (published_at);
CREATE VIRTUAL TABLE conseils_knowledge_fts USING fts5(search, content = 'conseils_knowledge',
  content_rowid = 'n', tokenize = 'unicode61', prefix = '3 4');
CREATE TRIGGER conseils_knowledge_indexed AFTER INSERT ON conseils_knowledge BEGIN
  INSERT INTO conseils_knowledge_fts (rowid, search) VALUES (new.n, new.search);
END;
CREATE TRIGGER conseils_knowledge_unindexed AFTER DELETE ON conseils_knowledge BEGIN
  INSERT INTO conseils_knowledge_fts (conseils_knowledge_fts, rowid, search)
    VALUES ('delete', old.n, old.search);
END;
CREATE TRIGGER conseils_knowledge_reindexed AFTER UPDATE OF search ON conseils_knowledge BEGIN
  INSERT INTO conseils_knowledge_fts (conseils_knowledge_fts, rowid, search)
    VALUES ('delete', old.n, old.search);
  INSERT INTO conseils_knowledge_fts (rowid, search) VALUES (new.n, new.search);
END;
