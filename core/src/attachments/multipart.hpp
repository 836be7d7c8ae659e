// An incremental multipart/form-data parser (RFC 7578, RFC 2046 §5.1): bytes in, parts out, as
// they come, so that an upload is written to disk piece by piece and never held whole. No I/O:
// the caller feeds it and its Sink does the writing. Every size it keeps is bounded. A body it
// refuses throws HttpError: 400, or 413 for too many parts, with a message for the client.
#pragma once

#include "passerelle/http.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace passerelle::multipart {

struct Limits {
  std::size_t max_parts = 64;             // parts of one body, files and fields together
  std::size_t max_head_bytes = 8 * 1024;  // one part's header section
  std::size_t max_preamble = 1024;        // bytes before the first boundary
};

/// A part's header section as read: the form field's name, the file name when the part is a
/// file (raw, as the client wrote it: never a path to trust), and the declared type (not
/// trusted either: the type is read from the content).
struct PartHead {
  std::string name;
  std::optional<std::string> filename;
  std::string content_type;
};

/// Where the parts go. Its functions may throw: feed() lets the exception through.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void begin(const PartHead& head) = 0;
  virtual void data(std::string_view bytes) = 0;
  virtual void end() = 0;
};

/// The boundary parameter of a multipart/form-data Content-Type (1 to 70 characters of RFC 2046's
/// set, quoted or not), or nothing when the type is another or the boundary is missing or bad.
std::optional<std::string> boundary_of(std::string_view content_type);

class Parser {
 public:
  Parser(std::string_view boundary, Limits limits = {});

  /// The next bytes of the body; calls the sink for what they complete. Throws HttpError.
  void feed(std::string_view bytes, Sink& sink);
  /// The body ended: throws HttpError unless the closing boundary was read.
  void finish() const;
  /// Whether the closing boundary was read (what follows, the epilogue, is ignored).
  bool done() const { return state_ == State::epilogue; }

 private:
  enum class State { preamble, after_delimiter, head, body, epilogue };
  void parse_head(std::string_view text, Sink& sink);

  std::string delimiter_;  // CRLF "--" boundary
  Limits limits_;
  State state_ = State::preamble;
  std::string pending_;  // bytes read but not yet decided (bounded: see feed())
  std::size_t parts_ = 0;
  std::size_t preamble_dropped_ = 0;  // preamble bytes no longer in pending_
};

}  // namespace passerelle::multipart
