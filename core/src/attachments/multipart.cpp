#include "attachments/multipart.hpp"

#include "util/text.hpp"

#include <algorithm>
#include <cctype>

namespace passerelle::multipart {

namespace {

// RFC 2046 bcharsnospace, and space inside (not last).
bool is_boundary_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

// The parameters after a header value's first token: `; key=value; key="quoted \" value"`.
// Calls `take(key, value)` for each (key in lower case). False when malformed.
template <class Take>
bool parse_parameters(std::string_view s, Take take) {
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i == s.size()) break;
    if (s[i] != ';') return false;
    ++i;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    const std::size_t key_start = i;
    while (i < s.size() && s[i] != '=' && s[i] != ';' && s[i] != ' ' && s[i] != '\t') ++i;
    std::string key(s.substr(key_start, i - key_start));
    if (key.empty()) return false;
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i == s.size() || s[i] != '=') return false;
    ++i;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char c = s[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        // A backslash escapes a quote or a backslash (RFC 9110 quoted-pair, as curl writes);
        // before anything else it is itself (browsers leave it so in file names).
        if (c == '\\' && i < s.size() && (s[i] == '"' || s[i] == '\\')) c = s[i++];
        value += c;
      }
      if (!closed) return false;
    } else {
      const std::size_t value_start = i;
      while (i < s.size() && s[i] != ';' && s[i] != ' ' && s[i] != '\t') ++i;
      value = std::string(s.substr(value_start, i - value_start));
    }
    take(key, std::move(value));
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::optional<std::string> boundary_of(std::string_view content_type) {
  const auto semicolon = content_type.find(';');
  if (lower(trim_blanks(content_type.substr(0, semicolon))) != "multipart/form-data")
    return std::nullopt;
  if (semicolon == std::string_view::npos) return std::nullopt;
  std::optional<std::string> boundary;
  bool twice = false;
  const bool ok = parse_parameters(content_type.substr(semicolon),
                                   [&](const std::string& key, std::string value) {
                                     if (key != "boundary") return;
                                     twice = twice || boundary.has_value();
                                     boundary = std::move(value);
                                   });
  if (!ok || twice || !boundary || boundary->empty() || boundary->size() > 70 ||
      boundary->back() == ' ' || !std::all_of(boundary->begin(), boundary->end(), is_boundary_char))
    return std::nullopt;
  return boundary;
}

Parser::Parser(std::string_view boundary, Limits limits)
    : delimiter_("\r\n--" + std::string(boundary)), limits_(limits) {
  // The first boundary may open the body with no line break before it: one is put there, so
  // that every delimiter reads alike.
  pending_ = "\r\n";
}

void Parser::feed(std::string_view bytes, Sink& sink) {
  if (state_ == State::epilogue) return;  // ignored, and never kept
  pending_.append(bytes);
  std::string_view rest(pending_);
  const std::size_t keep = delimiter_.size() - 1;  // a delimiter may start in these bytes
  bool progress = true;
  while (progress && state_ != State::epilogue) {
    progress = false;
    switch (state_) {
      case State::preamble: {
        // Found past max_preamble, or not found within it: refused alike, however the body
        // was cut into pieces.
        const auto at = rest.find(delimiter_);
        if (at == std::string_view::npos
                ? preamble_dropped_ + rest.size() > limits_.max_preamble + delimiter_.size()
                : preamble_dropped_ + at > limits_.max_preamble)
          throw HttpError(400, "bad_multipart", "the body does not start with its boundary");
        if (at == std::string_view::npos) break;
        rest.remove_prefix(at + delimiter_.size());
        state_ = State::after_delimiter;
        progress = true;
        break;
      }
      case State::after_delimiter: {
        if (rest.size() < 2) break;
        if (rest.substr(0, 2) == "--") {
          state_ = State::epilogue;
          rest = {};
          break;
        }
        // Transport padding (spaces, tabs), then the line break.
        std::size_t i = 0;
        while (i < rest.size() && i < 64 && (rest[i] == ' ' || rest[i] == '\t')) ++i;
        if (i == rest.size()) break;  // more padding may follow
        if (rest.size() < i + 2) break;
        if (rest.substr(i, 2) != "\r\n")
          throw HttpError(400, "bad_multipart", "a boundary is not followed by a line break");
        if (++parts_ > limits_.max_parts)
          throw HttpError(413, "too_many_parts",
                          "the form has more than " + std::to_string(limits_.max_parts) + " parts");
        rest.remove_prefix(i + 2);
        state_ = State::head;
        progress = true;
        break;
      }
      case State::head: {
        std::size_t end = std::string_view::npos;
        std::size_t skip = 0;
        if (rest.substr(0, 2) == "\r\n") {
          end = 0;  // no header field at all
          skip = 2;
        } else if ((end = rest.find("\r\n\r\n")) != std::string_view::npos) {
          skip = end + 4;
        }
        // Too long: its end is past max_head_bytes, or not within the bytes that could still
        // hold it (the blank line's four bytes may be arriving).
        if (end == std::string_view::npos ? rest.size() > limits_.max_head_bytes + 3
                                          : end > limits_.max_head_bytes)
          throw HttpError(400, "bad_multipart",
                          "a part's header section exceeds " +
                              std::to_string(limits_.max_head_bytes) + " bytes");
        if (end == std::string_view::npos) break;
        parse_head(rest.substr(0, end), sink);
        rest.remove_prefix(skip);
        state_ = State::body;
        // The delimiter search starts at the line break that ends the part's data.
        progress = true;
        break;
      }
      case State::body: {
        const auto at = rest.find(delimiter_);
        if (at == std::string_view::npos) {
          if (rest.size() > keep) {
            sink.data(rest.substr(0, rest.size() - keep));
            rest.remove_prefix(rest.size() - keep);
          }
          break;
        }
        if (at > 0) sink.data(rest.substr(0, at));
        sink.end();
        rest.remove_prefix(at + delimiter_.size());
        state_ = State::after_delimiter;
        progress = true;
        break;
      }
      case State::epilogue:
        break;
    }
  }
  if (state_ == State::epilogue) rest = {};
  if (state_ == State::preamble && rest.size() > keep) {
    preamble_dropped_ += rest.size() - keep;
    rest.remove_prefix(rest.size() - keep);
  }
  pending_.erase(0, pending_.size() - rest.size());
}

void Parser::finish() const {
  if (state_ != State::epilogue)
    throw HttpError(400, "bad_multipart", "the body ends before its closing boundary");
}

void Parser::parse_head(std::string_view text, Sink& sink) {
  PartHead head;
  bool disposition = false;
  while (!text.empty()) {
    const auto eol = text.find("\r\n");
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 2);
    if (line.empty() || line.front() == ' ' || line.front() == '\t')
      throw HttpError(400, "bad_multipart", "a part's header line is empty or folded");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      throw HttpError(400, "bad_multipart", "a part's header line has no name");
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim_blanks(line.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(), [](char c) { return c == '\0' || c == '\r'; }))
      throw HttpError(400, "bad_multipart", "a part's header value holds a control character");
    if (iequals(name, "content-disposition")) {
      if (disposition)
        throw HttpError(400, "bad_multipart", "a part has two Content-Disposition headers");
      disposition = true;
      const auto semicolon = value.find(';');
      if (lower(trim_blanks(value.substr(0, semicolon))) != "form-data")
        throw HttpError(400, "bad_multipart", "a part's Content-Disposition is not form-data");
      bool named = false;
      const bool ok = parse_parameters(
          semicolon == std::string_view::npos ? std::string_view() : value.substr(semicolon),
          [&](const std::string& key, std::string v) {
            if (key == "name" && !named) {
              head.name = std::move(v);
              named = true;
            } else if (key == "filename" && !head.filename) {
              head.filename = std::move(v);
            }
          });
      if (!ok) throw HttpError(400, "bad_multipart", "a part's Content-Disposition is malformed");
      if (!named || head.name.empty())
        throw HttpError(400, "bad_multipart", "a part has no field name");
    } else if (iequals(name, "content-type")) {
      head.content_type = lower(trim_blanks(value.substr(0, value.find(';'))));
      if (head.content_type.rfind("multipart/", 0) == 0)
        throw HttpError(400, "bad_multipart", "nested multipart parts are refused");
    }
    // Other fields (Content-Transfer-Encoding is deprecated by RFC 7578) are ignored.
  }
  if (!disposition)
    throw HttpError(400, "bad_multipart", "a part has no Content-Disposition header");
  sink.begin(head);
}

}  // namespace passerelle::multipart
