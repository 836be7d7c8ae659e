-- The files of a request: each an attachment of the host (Host::attachments), named here so
-- that only those who may read the request reach it.
CREATE TABLE conseils_attachments (
  attachment_id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL,
  filename TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size BIGINT NOT NULL,
  author TEXT NOT NULL,
  author_name TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX conseils_attachments_request ON conseils_attachments (request_id, at);
-- The dashboard's news of an advisor: the requests in their charge.
CREATE INDEX conseils_requests_advisor ON conseils_requests (advisor, updated_at);
