// Loading of the portal's snapshot, and the pure rules it is served by (codings, hashed names,
// types, entity tags), kept apart from the routes so that they can be unit-tested.
#include "web/static_site.hpp"

#include "auth/crypto.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

namespace passerelle {
namespace {

namespace fs = std::filesystem;

// The app is a few hundred KB; these bounds only stop a wrong `web.root` (a home folder, say)
// from filling the memory.
constexpr std::uintmax_t kMaxFileBytes = 16 * 1024 * 1024;
constexpr std::size_t kMaxTotalBytes = 128 * 1024 * 1024;
constexpr std::size_t kMaxFiles = 10'000;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths; -1 if malformed.
int parse_qvalue(std::string_view v) {
  if (v.empty() || (v[0] != '0' && v[0] != '1')) return -1;
  int value = v[0] == '1' ? 1000 : 0;
  if (v.size() == 1) return value;
  if (v[1] != '.' || v.size() > 5) return -1;
  int scale = 100;
  for (char c : v.substr(2)) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    if (value == 1000 && c != '0') return -1;
    value += (c - '0') * scale;
    scale /= 10;
  }
  return value;
}

StaticBody make_body(std::string bytes) {
  StaticBody b;
  b.etag = "\"" + auth::sha256_base64url(bytes) + "\"";
  b.bytes = std::move(bytes);
  return b;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool inside(const fs::path& root, const fs::path& p) {
  const std::string r = root.string() + "/";
  return p.string().rfind(r, 0) == 0;
}

}  // namespace

AcceptedCodings parse_accept_encoding(const std::string* header) {
  AcceptedCodings out;
  if (!header) return out;
  int gzip = -1, brotli = -1, any = -1;  // -1: not named
  std::string_view rest(*header);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view element = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const auto semi = element.find(';');
    const std::string coding = lower(trim(element.substr(0, semi)));
    if (coding.empty()) continue;
    int q = 1000;
    std::string_view params =
        semi == std::string_view::npos ? std::string_view() : element.substr(semi + 1);
    while (!params.empty()) {
      const auto next = params.find(';');
      const std::string_view param = trim(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
      const auto eq = param.find('=');
      if (eq != std::string_view::npos && lower(trim(param.substr(0, eq))) == "q")
        q = std::max(0, parse_qvalue(trim(param.substr(eq + 1))));  // malformed: refused
    }
    if (coding == "gzip" || coding == "x-gzip")
      gzip = q;
    else if (coding == "br")
      brotli = q;
    else if (coding == "*")
      any = q;
  }
  out.gzip = gzip >= 0 ? gzip : std::max(any, 0);
  out.brotli = brotli >= 0 ? brotli : std::max(any, 0);
  return out;
}

bool is_hashed_name(std::string_view path) {
  const auto slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const auto dash = name.rfind('-');
  if (dash == std::string_view::npos) return false;
  std::string_view hash = name.substr(dash + 1);
  hash = hash.substr(0, hash.find('.'));
  if (hash.size() < 8 || hash.size() > 64) return false;
  const bool hex = std::all_of(hash.begin(), hash.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
  const bool base32 = std::all_of(hash.begin(), hash.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7');
  });
  return hex || base32;
}

std::string content_type_for(std::string_view path) {
  const auto slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  const std::string ext = lower(name.substr(dot + 1));
  static const std::map<std::string, std::string, std::less<>> kTypes = {
      {"html", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"webp", "image/webp"},
      {"woff2", "font/woff2"},
      {"woff", "font/woff"},
      {"json", "application/json"},
      {"webmanifest", "application/manifest+json"},
      {"ico", "image/x-icon"},
      {"map", "application/json"},
      {"txt", "text/plain; charset=utf-8"},
  };
  const auto it = kTypes.find(ext);
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  std::string_view rest = if_none_match;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view tag = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (tag == "*") return true;
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

std::shared_ptr<const StaticSite> StaticSite::load(const std::string& root, std::string& problem) {
  std::error_code ec;
  const fs::path base = fs::canonical(root, ec);
  if (ec || !fs::is_directory(base, ec)) {
    problem = "no folder " + root;
    return nullptr;
  }
  // Every file is read first, then .gz/.br siblings are attached to the file they compress.
  std::map<std::string, std::string, std::less<>> raw;
  std::size_t total = 0;
  // Symlinked folders are not entered (no follow_directory_symlink): only the root's own tree.
  fs::recursive_directory_iterator it(base, fs::directory_options::none, ec);
  if (ec) {
    problem = "cannot read " + root + ": " + ec.message();
    return nullptr;
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      problem = "cannot read " + root + ": " + ec.message();
      return nullptr;
    }
    const fs::path path = it->path();
    fs::path target = path;
    const auto status = fs::symlink_status(path, ec);
    if (ec) continue;
    if (fs::is_symlink(status)) {
      // A link counts only when it resolves to a regular file inside the root.
      target = fs::canonical(path, ec);
      if (ec || !inside(base, target) || !fs::is_regular_file(target, ec)) continue;
    } else if (!fs::is_regular_file(status)) {
      continue;  // folders, sockets, devices
    }
    const auto size = fs::file_size(target, ec);
    if (ec || size > kMaxFileBytes) continue;
    std::ifstream in(target, std::ios::binary);
    if (!in) continue;
    std::ostringstream bytes;
    bytes << in.rdbuf();
    total += bytes.str().size();
    if (total > kMaxTotalBytes || raw.size() >= kMaxFiles) {
      problem = root + " holds more than the portal may keep in memory";
      return nullptr;
    }
    raw.emplace(path.lexically_relative(base).generic_string(), std::move(bytes).str());
  }

  auto site = std::make_shared<StaticSite>();
  site->bytes_ = total;
  auto is_variant = [&raw](const std::string& name) {
    return (ends_with(name, ".gz") || ends_with(name, ".br")) &&
           raw.count(name.substr(0, name.size() - 3)) != 0;
  };
  for (auto& [name, bytes] : raw) {
    if (is_variant(name)) continue;
    StaticFile file;
    file.content_type = content_type_for(name);
    file.immutable = is_hashed_name(name);
    if (auto gz = raw.find(name + ".gz"); gz != raw.end()) file.gzip = make_body(gz->second);
    if (auto br = raw.find(name + ".br"); br != raw.end()) file.brotli = make_body(br->second);
    file.identity = make_body(std::move(bytes));
    site->files_.emplace(name, std::move(file));
  }
  return site;
}

const StaticFile* StaticSite::find(std::string_view name) const {
  const auto it = files_.find(name);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace passerelle
