// Fuzzes the multipart/form-data parser an upload goes through (attachments/multipart.hpp):
// - any body, fed whole and fed in pieces of a size the input picks, gives the same parts and
//   the same outcome (an upload arrives cut anywhere by TCP and TLS);
// - a form built from the input's fields reads back as it was built, however it is cut;
// - the Content-Type's boundary parameter never yields a boundary RFC 2046 forbids.
#include "attachments/multipart.hpp"

#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace passerelle::multipart;

namespace {

struct Seen {
  std::string name, filename, type, data;
  bool file = false;
  bool ended = false;
  bool operator==(const Seen&) const = default;
};

class Record final : public Sink {
 public:
  void begin(const PartHead& h) override {
    parts.push_back({h.name, h.filename.value_or(""), h.content_type, "", h.filename.has_value()});
  }
  void data(std::string_view b) override {
    FUZZ_CHECK(!parts.empty() && !parts.back().ended);
    parts.back().data.append(b);
    FUZZ_CHECK(parts.back().data.size() <= total);
  }
  void end() override {
    FUZZ_CHECK(!parts.empty() && !parts.back().ended);
    parts.back().ended = true;
  }
  std::vector<Seen> parts;
  std::size_t total = 0;
};

struct Outcome {
  std::vector<Seen> parts;
  int status = 0;  // 0: read whole
  bool operator==(const Outcome&) const = default;
};

Outcome parse(std::string_view body, std::size_t piece) {
  Record r;
  r.total = body.size();
  Outcome o;
  try {
    Parser p("b0undary", Limits{.max_parts = 8, .max_head_bytes = 256, .max_preamble = 64});
    for (std::size_t at = 0; at < body.size(); at += piece) p.feed(body.substr(at, piece), r);
    p.finish();
  } catch (const passerelle::HttpError& e) {
    FUZZ_CHECK(e.status() == 400 || e.status() == 413);
    o.status = e.status();
  }
  o.parts = std::move(r.parts);
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  const bool build = data[1] & 1;
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  if (const auto b = boundary_of(input)) {
    FUZZ_CHECK(!b->empty() && b->size() <= 70 && b->back() != ' ');
  }

  if (!build) {
    const Outcome whole = parse(input, input.size() + 1);
    FUZZ_CHECK(parse(input, piece) == whole);
    return 0;
  }
  // A form of the input's fields (split at '|'), each a file when it starts with 'f'; a field
  // holding the delimiter cannot be sent, so it is skipped.
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= input.size(); ++i)
    if (i == input.size() || input[i] == '|') {
      fields.emplace_back(input.substr(start, i - start));
      start = i + 1;
    }
  std::string body = "preamble\r\n";
  std::vector<Seen> expected;
  for (std::size_t i = 0; i < fields.size() && expected.size() < 8; ++i) {
    const std::string& content = fields[i];
    if (("\r\n" + content + "\r\n").find("\r\n--b0undary") != std::string::npos) continue;
    const bool file = !content.empty() && content[0] == 'f';
    const std::string name = "n" + std::to_string(i);
    body += "--b0undary\r\nContent-Disposition: form-data; name=\"" + name + "\"";
    if (file) body += "; filename=\"x.pdf\"";
    body += "\r\n\r\n" + content + "\r\n";
    expected.push_back({name, file ? "x.pdf" : "", "", content, file, true});
  }
  body += "--b0undary--\r\nepilogue";
  const Outcome read = parse(body, piece);
  FUZZ_CHECK(read.status == 0);
  FUZZ_CHECK(read.parts == expected);
  return 0;
}
