// The host's attachments service: receives an upload route's multipart body as it arrives,
// writes each file to a temporary file (hashing it on the way), reads its type from the
// content (libmagic), has clamd scan it when configured, then keeps it under its SHA-256 in
// the attachments folder, with a row in the store naming the plugin it belongs to. What an
// upload leaves half done (refused, cut off, failed) is removed.
#pragma once

#include "config/config.hpp"
#include "http/incoming.hpp"
#include "passerelle/async_mutex.hpp"
#include "passerelle/http.hpp"
#include "passerelle/task.hpp"
#include "util/blocking_pool.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace passerelle {

class Store;

class AttachmentStore {
 public:
  /// Creates the folder (and its tmp/) if needed and removes temporary files a crash left.
  /// Throws std::runtime_error when the folder cannot be made.
  AttachmentStore(AttachmentsConfig config, Store& store);
  ~AttachmentStore();

  const AttachmentsConfig& config() const { return config_; }
  /// How the session reads an upload's body: the files' limit plus room for the form's fields.
  BodyStreaming streaming() const;

  struct Received {
    std::map<std::string, std::string> form;
    std::vector<Attachment> files;
  };
  /// Reads the body (multipart/form-data of `content_type`) for `plugin`. Throws HttpError:
  /// 400 malformed, 408 too slow, 413 too large or too many parts, 415 a type not accepted,
  /// 422 a file clamd finds infected, 503 clamd unreachable. Nothing is kept when it throws.
  Task<Received> receive(BodySource& body, std::string content_type, std::string plugin);
  /// Removes files receive() kept (the handler did not accept them).
  Task<void> discard(std::vector<Attachment> files);

  Task<std::optional<Attachment>> find(std::string plugin, std::string id);
  Task<Response> download(std::string plugin, std::string id);
  Task<void> remove(std::string plugin, std::string id);

  /// Waits for file work under way (before the I/O threads go).
  void join() { pool_.join(); }

  /// The file name as kept: the last path segment; control characters, quotes and invisible
  /// reordering characters dropped; invalid UTF-8 replaced by '_'; at most 200 bytes; no
  /// leading dot; "fichier" when nothing is left.
  static std::string clean_filename(std::string_view raw);
  /// `filename` ending in the extension of `media_type` (as it is, when it already does).
  static std::string with_extension(std::string filename, std::string_view media_type);
  /// `Content-Disposition: attachment` with the name in ASCII and in UTF-8 (RFC 6266).
  static std::string disposition(std::string_view filename);

 private:
  class Upload;
  std::string content_path(const std::string& sha256) const;
  Task<void> forget(std::vector<std::pair<std::string, std::string>> ids_and_hashes);

  AttachmentsConfig config_;
  Store& store_;
  BlockingPool pool_{2};
  AsyncMutex
      files_;  // keeping and removing contents: a content's last row and its file go together
};

}  // namespace passerelle
