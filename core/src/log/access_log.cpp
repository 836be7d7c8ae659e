// The access log's line formatter and per-thread buffers (see access_log.hpp).
#include "log/access_log.hpp"

#include "log/log.hpp"

#include <atomic>
#include <charconv>
#include <cstring>
#include <ctime>
#include <memory>

namespace passerelle::access_log {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Output bounded by `end`: each put fails (and the line is abandoned) rather than overflow.
struct Cursor {
  char* pos;
  char* end;

  bool put(char c) {
    if (pos == end) return false;
    *pos++ = c;
    return true;
  }
  bool put(std::string_view s) {
    if (static_cast<std::size_t>(end - pos) < s.size()) return false;
    std::memcpy(pos, s.data(), s.size());
    pos += s.size();
    return true;
  }
  template <class Int>
  bool number(Int value) {
    const auto [next, ec] = std::to_chars(pos, end, value);
    if (ec != std::errc()) return false;
    pos = next;
    return true;
  }
};

// One ASCII byte (< 0x80) as JSON string content.
bool put_ascii(Cursor& out, unsigned char c) {
  switch (c) {
    case '"':
      return out.put("\\\"");
    case '\\':
      return out.put("\\\\");
    case '\n':
      return out.put("\\n");
    case '\r':
      return out.put("\\r");
    case '\t':
      return out.put("\\t");
    case '\b':
      return out.put("\\b");
    case '\f':
      return out.put("\\f");
    default:
      if (c >= 0x20) return out.put(static_cast<char>(c));
      const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
      return out.put(std::string_view(escaped, sizeof escaped));
  }
}

// Length of the well-formed UTF-8 sequence starting text[i] (a byte >= 0x80), or 0 (Unicode
// table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = at(i);
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    length = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3;
    if (b0 == 0xe0) low = 0xa0;
    if (b0 == 0xed) high = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4;
    if (b0 == 0xf0) low = 0x90;
    if (b0 == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (text.size() - i < length) return 0;
  if (at(i + 1) < low || at(i + 1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k)
    if (at(i + k) < 0x80 || at(i + k) > 0xbf) return 0;
  return length;
}

// How many characters from `at` are printable ASCII that JSON takes as they are: written in
// one piece rather than one by one.
std::size_t plain_run(std::string_view text, std::size_t at) {
  std::size_t end = at;
  while (end < text.size()) {
    const auto c = static_cast<unsigned char>(text[end]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') break;
    ++end;
  }
  return end - at;
}

bool put_text(Cursor& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (const std::size_t n = plain_run(text, i)) {
      if (!out.put(text.substr(i, n))) return false;
      i += n;
    } else if (c < 0x80) {
      if (!put_ascii(out, c)) return false;
      ++i;
    } else if (const std::size_t n = utf8_sequence(text, i)) {
      if (!out.put(text.substr(i, n))) return false;
      i += n;
    } else {
      if (!out.put("\\ufffd")) return false;
      ++i;
    }
  }
  return true;
}

// The path as logged: no query string (it may carry secrets), an invitation's token (a path
// segment that opens an account) written "-", and bytes >= 0x80 percent-encoded so that the
// line stays ASCII whatever the client sent.
bool put_path(Cursor& out, std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  static constexpr std::string_view kInvitations = "/api/invitations/";
  if (path.substr(0, kInvitations.size()) == kInvitations) {
    const auto end = path.find('/', kInvitations.size());
    if (!out.put(kInvitations) || !out.put("-")) return false;
    path = end == std::string_view::npos ? std::string_view() : path.substr(end);
  }
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (const std::size_t n = plain_run(path, i)) {
      if (!out.put(path.substr(i, n))) return false;
      i += n - 1;
      continue;
    }
    const auto c = static_cast<unsigned char>(path[i]);
    if (c < 0x80) {
      if (!put_ascii(out, c)) return false;
    } else {
      static constexpr char kUpperHex[] = "0123456789ABCDEF";
      const char encoded[] = {'%', kUpperHex[c >> 4], kUpperHex[c & 0xf]};
      if (!out.put(std::string_view(encoded, sizeof encoded))) return false;
    }
  }
  return true;
}

// "YYYY-MM-DDTHH:MM:SS.mmmZ"; the part up to the seconds is formatted once per second and
// thread, as nginx caches its time strings.
bool put_time(Cursor& out, std::chrono::system_clock::time_point time) {
  struct Cache {
    std::time_t second = -1;
    char text[20] = {};
  };
  thread_local Cache cache;
  const auto ms_since_epoch =
      std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  const std::time_t second = static_cast<std::time_t>(ms_since_epoch / 1000);
  const int ms = static_cast<int>(ms_since_epoch % 1000);
  if (second != cache.second) {
    std::tm tm{};
    gmtime_r(&second, &tm);
    char text[64];  // room for any year, though 4 digits are kept
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    std::memcpy(cache.text, text, sizeof cache.text - 1);
    cache.second = second;
  }
  const char millis[] = {'.', static_cast<char>('0' + ms / 100),
                         static_cast<char>('0' + ms / 10 % 10), static_cast<char>('0' + ms % 10),
                         'Z'};
  return out.put(std::string_view(cache.text, sizeof cache.text - 1)) &&
         out.put(std::string_view(millis, sizeof millis));
}

}  // namespace

bool append_json_text(char*& out, char* end, std::string_view text) {
  Cursor cursor{out, end};
  if (!put_text(cursor, text)) return false;
  out = cursor.pos;
  return true;
}

std::size_t format_line(char* out, char* end, const Record& r) {
  Cursor c{out, end};
  const bool ok = c.put("{\"ts\":\"") && put_time(c, r.time) &&
                  c.put(
                      "\",\"level\":\"info\",\"component\":\"access\",\"msg\":\"request\","
                      "\"request_id\":\"") &&
                  put_text(c, r.request_id) && c.put("\",\"remote\":\"") && put_text(c, r.remote) &&
                  c.put("\",\"method\":\"") && put_text(c, r.method) && c.put("\",\"path\":\"") &&
                  put_path(c, r.target) && c.put("\",\"status\":") && c.number(r.status) &&
                  c.put(",\"bytes\":") && c.number(r.bytes) && c.put(",\"duration_us\":") &&
                  c.number(r.duration_us) &&
                  c.put(r.tls ? ",\"tls\":true}\n" : ",\"tls\":false}\n");
  return ok ? static_cast<std::size_t>(c.pos - out) : 0;
}

std::string line(const Record& r) {
  // Fixed text and numbers stay under 256 bytes; an escaped byte takes at most 6.
  const std::size_t worst =
      256 + 6 * (r.request_id.size() + r.remote.size() + r.method.size() + r.target.size());
  std::string out(worst, '\0');
  out.resize(format_line(out.data(), out.data() + out.size(), r));
  return out;
}

Buffer::Buffer(std::size_t capacity, Sink sink) : capacity_(capacity), sink_(std::move(sink)) {
  take_storage({});
}

Buffer::~Buffer() { flush(); }

void Buffer::take_storage(std::string spare) {
  storage_ = std::move(spare);
  // Within the capacity already there: no allocation.
  storage_.resize(capacity_);
}

void Buffer::append(const Record& record) {
  std::size_t n = format_line(storage_.data() + used_, storage_.data() + capacity_, record);
  if (n == 0 && used_ > 0) {
    flush();
    n = format_line(storage_.data(), storage_.data() + capacity_, record);
  }
  if (n == 0) {
    // Longer than a whole buffer (a huge target with a small buffer): handed on alone, after
    // the lines before it, so the order holds.
    sink_(line(record));
    return;
  }
  used_ += n;
}

void Buffer::flush() {
  if (used_ == 0) return;
  storage_.resize(used_);
  used_ = 0;
  take_storage(sink_(std::move(storage_)));
}

namespace {

std::atomic<std::size_t> g_capacity{64 * 1024};
thread_local std::unique_ptr<Buffer> t_buffer;

}  // namespace

void configure(std::size_t buffer_bytes) { g_capacity = buffer_bytes; }

void record(const Record& r) {
  if (!t_buffer) {
    auto to_writer = [](std::string lines) { return log::hand_off(std::move(lines)); };
    t_buffer = std::make_unique<Buffer>(g_capacity.load(), std::move(to_writer));
  }
  t_buffer->append(r);
}

void flush_thread() {
  if (t_buffer) t_buffer->flush();
}

}  // namespace passerelle::access_log
