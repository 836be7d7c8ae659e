-- The feeds' state (what the poller knows of each: conditional GET, status, next poll), the
-- articles (deduplicated per feed by guid, else link: a feed cannot overwrite another's), and
-- their full-text index: search terms made in C++ (stemmed, accents off), indexed by FTS5
-- under the article's id. The articles' small columns come first and the body last: a row is
-- read from its first page, and the body's overflow pages only when the body itself is asked.
CREATE TABLE localtis_feeds (
  id TEXT PRIMARY KEY,
  etag TEXT NOT NULL DEFAULT '',
  last_modified TEXT NOT NULL DEFAULT '',
  last_status TEXT NOT NULL DEFAULT 'never',
  last_error TEXT NOT NULL DEFAULT '',
  last_fetched_at INTEGER NOT NULL DEFAULT 0,
  next_poll_at INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE localtis_articles (
  id INTEGER PRIMARY KEY,
  feed TEXT NOT NULL,
  key TEXT NOT NULL,
  published_at INTEGER NOT NULL,
  region TEXT NOT NULL,
  themes TEXT NOT NULL,
  first_seen_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  title TEXT NOT NULL,
  link TEXT NOT NULL,
  author TEXT NOT NULL,
  image TEXT NOT NULL,
  excerpt TEXT NOT NULL,
  search TEXT NOT NULL,
  body TEXT NOT NULL,
  UNIQUE (feed, key)  -- its index serves a feed's rows too (counts, retention)
);
-- Newest first, with the filters' columns: a theme or region filter is checked in the index.
CREATE INDEX localtis_articles_published ON localtis_articles (published_at, id, region, themes);
-- What a search filters and orders its candidates by, without reading the articles' rows.
CREATE INDEX localtis_articles_ranked ON localtis_articles (id, published_at, region, themes);
-- External content: the index keeps no second copy of the terms, it reads them from the
-- articles (and is told the old terms when they go).
CREATE VIRTUAL TABLE localtis_fts USING fts5(search, content = 'localtis_articles',
  content_rowid = 'id', tokenize = 'unicode61', prefix = '3 4');
-- The index follows the articles: a new one, or one whose terms changed (an upsert that changes
-- nothing updates nothing, so an unchanged feed polled again writes nothing here).
CREATE TRIGGER localtis_articles_indexed AFTER INSERT ON localtis_articles BEGIN
  INSERT INTO localtis_fts (rowid, search) VALUES (new.id, new.search);
END;
CREATE TRIGGER localtis_articles_unindexed AFTER DELETE ON localtis_articles BEGIN
  INSERT INTO localtis_fts (localtis_fts, rowid, search) VALUES ('delete', old.id, old.search);
END;
CREATE TRIGGER localtis_articles_reindexed AFTER UPDATE OF search ON localtis_articles BEGIN
  INSERT INTO localtis_fts (localtis_fts, rowid, search) VALUES ('delete', old.id, old.search);
  INSERT INTO localtis_fts (rowid, search) VALUES (new.id, new.search);
END;
