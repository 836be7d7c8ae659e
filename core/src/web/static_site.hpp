// The portal's files held in memory: an immutable snapshot of the web root, loaded at start-up
// and on SIGHUP, so that no request ever touches the file system (no traversal, no symlink
// escape, no blocking read on an I/O thread).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace passerelle {

/// One representation of a file: its bytes as stored and their strong entity tag.
struct StaticBody {
  std::string bytes;
  std::string etag;  ///< "\"<SHA-256 of bytes, base64url>\"", quoted
};

/// A file of the web app with its precompressed siblings (`<name>.gz`, `<name>.br`), if any.
struct StaticFile {
  std::string content_type;
  bool immutable = false;  ///< the name carries a content hash (is_hashed_name)
  StaticBody identity;
  std::optional<StaticBody> gzip;
  std::optional<StaticBody> brotli;
};

/// Which content codings a request's Accept-Encoding allows, with their weights (0..1000).
struct AcceptedCodings {
  int gzip = 0;
  int brotli = 0;
};

/// Parses Accept-Encoding (RFC 9110 §12.5.3): q-values, "*", case-insensitive names. A coding
/// with q=0, or not named and not covered by "*", is refused; an absent header (nullptr)
/// allows none, so the plain file is sent. A malformed element counts as refused.
AcceptedCodings parse_accept_encoding(const std::string* header);

/// Whether a file name carries a content hash, so that its bytes never change under that name:
/// the characters between the last '-' of the name and the '.' after it (or the end) are 8 to
/// 64 lower-case hexadecimal digits, or 8 to 64 upper-case base32 characters (A-Z, 2-7).
/// "app-1a2b3c4d.js", "app-5XKQ2ZBM.css.map" are; "index.html", "arrow-underline.svg" are not.
bool is_hashed_name(std::string_view path);

/// Content-Type for a file name, by extension; application/octet-stream when unknown.
std::string content_type_for(std::string_view path);

/// Whether a strong entity tag matches an If-None-Match value (a list, or "*"; weak
/// comparison as RFC 9110 §13.1.2 asks).
bool etag_matches(std::string_view if_none_match, std::string_view etag);

/// The loaded snapshot. Names are relative to the root with '/' separators: "index.html",
/// "assets/app-1a2b3c4d.js".
class StaticSite {
 public:
  /// Reads every regular file under `root` (symlinks only when they resolve to a regular file
  /// inside the root). nullptr when the root is not a readable folder; `problem` then says why.
  static std::shared_ptr<const StaticSite> load(const std::string& root, std::string& problem);

  const StaticFile* find(std::string_view name) const;
  std::size_t file_count() const { return files_.size(); }
  std::size_t byte_count() const { return bytes_; }

 private:
  std::map<std::string, StaticFile, std::less<>> files_;
  std::size_t bytes_ = 0;
};

}  // namespace passerelle
