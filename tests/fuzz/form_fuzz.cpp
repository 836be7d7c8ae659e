// Fuzzes the parsers of request text: the request target as the dispatcher reads it (Boost.URL
// origin-form, decoded path, split into segments, query parameters), form bodies, the Cookie
// header, and the encoders whose output the parsers must read back unchanged.
#include "http/form.hpp"
#include "http/router.hpp"

#include "fuzz_check.hpp"

#include <boost/url/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

using namespace passerelle;

namespace {

void request_target(std::string_view target) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return;
  const std::string path = url->path();
  const auto segments = Router::split(path);
  for (const auto& s : segments) FUZZ_CHECK(!s.empty() && s.find('/') == std::string::npos);
  std::map<std::string, std::string> query;
  for (auto param : url->params()) query[param.key] = param.value;
}

void form_body(std::string_view body) {
  auto fields = parse_form(body);
  if (!fields) return;
  // A body with n separators has at most n + 1 fields.
  std::size_t amps = 0;
  for (char c : body) amps += c == '&';
  FUZZ_CHECK(fields->size() <= amps + 1);
}

void cookies(std::string_view header) {
  for (std::string_view name : {"__Host-passerelle", "a", ""}) {
    const std::string value = cookie_value(header, name);
    if (!value.empty())
      FUZZ_CHECK(header.find(std::string(name) + "=" + value) != std::string_view::npos);
  }
}

void encoders(std::string_view text) {
  // What url_encode writes, parse_form reads back as it was, as a value and as a key.
  const std::string encoded = url_encode(text);
  auto value = parse_form("k=" + encoded);
  FUZZ_CHECK(value && value->size() == 1 && value->begin()->first == "k" &&
             value->begin()->second == text);
  auto key = parse_form(encoded + "=v");
  // An empty key is skipped: there is nothing to look it up by.
  FUZZ_CHECK(key && (text.empty() ? key->empty()
                                  : key->size() == 1 && key->begin()->first == text &&
                                        key->begin()->second == "v"));
  const std::string escaped = html_escape(text);
  FUZZ_CHECK(escaped.find_first_of("<>\"'") == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  request_target(input);
  form_body(input);
  cookies(input);
  encoders(input);
  return 0;
}
