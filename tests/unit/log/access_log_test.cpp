// The access log's formatter (JSON escaping, fields) and its buffer (whole lines, in order,
// handed on when full and on flush).
#include "log/access_log.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace access_log = passerelle::access_log;

namespace {

std::string escaped(std::string_view text) {
  std::string out(6 * text.size(), '\0');
  char* pos = out.data();
  BOOST_REQUIRE(access_log::append_json_text(pos, out.data() + out.size(), text));
  out.resize(static_cast<std::size_t>(pos - out.data()));
  return out;
}

// The text as a JSON parser reads it back.
std::string read_back(std::string_view text) {
  const auto value = boost::json::parse("\"" + escaped(text) + "\"");
  return std::string(value.as_string());
}

access_log::Record sample(std::string_view request_id = "abc-123") {
  access_log::Record r;
  r.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'796'000'673'007));
  r.request_id = request_id;
  r.remote = "192.0.2.7";
  r.method = "GET";
  r.target = "/api/hello?token=s3cret";
  r.status = 200;
  r.bytes = 17;
  r.duration_us = 250;
  r.tls = true;
  return r;
}

// A sink that keeps each hand-off.
struct Recorder {
  std::vector<std::string> handed;
  access_log::Buffer::Sink sink() {
    return [this](std::string lines) {
      handed.push_back(std::move(lines));
      return std::string();
    };
  }
  std::string all() const {
    std::string out;
    for (const auto& h : handed) out += h;
    return out;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(access_log_format)

BOOST_AUTO_TEST_CASE(quotes_backslashes_and_control_characters_are_escaped) {
  BOOST_TEST(escaped("a\"b") == "a\\\"b");
  BOOST_TEST(escaped("a\\b") == "a\\\\b");
  BOOST_TEST(escaped("\n\r\t\b\f") == "\\n\\r\\t\\b\\f");
  BOOST_TEST(escaped(std::string_view("\x00\x01\x1f", 3)) == "\\u0000\\u0001\\u001f");
  BOOST_TEST(escaped("plain /path-1.x_y~") == "plain /path-1.x_y~");
  const std::string nasty = std::string("\"}\n{\"level\":\"error\\") + '\0' + "\x7f";
  BOOST_TEST(read_back(nasty) == nasty);
}

BOOST_AUTO_TEST_CASE(valid_utf8_is_kept_and_each_invalid_byte_becomes_a_replacement) {
  for (const char* valid :
       {"caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\x9f\xbf", "\xf4\x8f\xbf\xbf"})
    BOOST_TEST(escaped(valid) == valid);
  BOOST_TEST(escaped("\x80") == "\\ufffd");                        // lone continuation byte
  BOOST_TEST(escaped("\xc0\xaf") == "\\ufffd\\ufffd");             // overlong '/'
  BOOST_TEST(escaped("\xe0\x80\xaf") == "\\ufffd\\ufffd\\ufffd");  // overlong, three bytes
  BOOST_TEST(escaped("\xed\xa0\x80") == "\\ufffd\\ufffd\\ufffd");  // a UTF-16 surrogate
  BOOST_TEST(escaped("\xf4\x90\x80\x80") == "\\ufffd\\ufffd\\ufffd\\ufffd");  // above U+10FFFF
  BOOST_TEST(escaped("a\xe2\x82") == "a\\ufffd\\ufffd");  // cut short at the end
  BOOST_TEST(escaped("\xff\xfe") == "\\ufffd\\ufffd");
  BOOST_TEST(escaped("\xc3(") == "\\ufffd(");  // a lead byte without its continuation
  BOOST_TEST(read_back("x\xff\xc3\xa9") == "x\xef\xbf\xbd\xc3\xa9");
}

BOOST_AUTO_TEST_CASE(text_that_does_not_fit_leaves_the_output_unchanged) {
  char out[8];
  char* pos = out;
  BOOST_TEST(!access_log::append_json_text(pos, out + sizeof out, "\"\"\"\"\"\""));
  BOOST_TEST(pos == out);
  BOOST_TEST(access_log::append_json_text(pos, out + sizeof out, "12345678"));
  BOOST_TEST(pos == out + 8);
}

BOOST_AUTO_TEST_CASE(a_line_has_the_fields_of_the_general_log_in_order_and_no_query) {
  const std::string line = access_log::line(sample());
  BOOST_TEST(line ==
             "{\"ts\":\"2026-11-30T01:04:33.007Z\",\"level\":\"info\",\"component\":\"access\","
             "\"msg\":\"request\",\"request_id\":\"abc-123\",\"remote\":\"192.0.2.7\","
             "\"method\":\"GET\",\"path\":\"/api/hello\",\"status\":200,\"bytes\":17,"
             "\"duration_us\":250,\"tls\":true}\n");
  const auto parsed = boost::json::parse(line).as_object();
  BOOST_TEST(parsed.at("path").as_string() == "/api/hello");
  BOOST_TEST(parsed.at("status").as_int64() == 200);
}

BOOST_AUTO_TEST_CASE(an_invitation_token_is_not_logged) {
  auto r = sample();
  r.target = "/api/invitations/QWERTYUIOPASDFGHJKLZXCVBNM0123456789abcdefg/accept";
  BOOST_TEST(boost::json::parse(access_log::line(r)).at("path").as_string() ==
             "/api/invitations/-/accept");
  r.target = "/api/invitations/QWERTY";
  BOOST_TEST(boost::json::parse(access_log::line(r)).at("path").as_string() ==
             "/api/invitations/-");
}

BOOST_AUTO_TEST_CASE(path_bytes_outside_ascii_are_percent_encoded_and_the_rest_escaped) {
  auto r = sample();
  r.target = "/caf\xc3\xa9/\xff\"\\\x01?q=\xfe";
  r.method = "M\"X";
  r.remote = "-";
  r.tls = false;
  const auto parsed = boost::json::parse(access_log::line(r)).as_object();
  BOOST_TEST(parsed.at("path").as_string() == "/caf%C3%A9/%FF\"\\\x01");
  BOOST_TEST(parsed.at("method").as_string() == "M\"X");
  BOOST_TEST(parsed.at("tls").as_bool() == false);
}

BOOST_AUTO_TEST_CASE(a_line_that_does_not_fit_is_not_written) {
  const std::string whole = access_log::line(sample());
  std::string out(whole.size() - 1, '\0');
  BOOST_TEST(access_log::format_line(out.data(), out.data() + out.size(), sample()) == 0u);
  out.resize(whole.size());
  BOOST_TEST(access_log::format_line(out.data(), out.data() + out.size(), sample()) ==
             whole.size());
  BOOST_TEST(out == whole);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(access_log_buffer)

BOOST_AUTO_TEST_CASE(lines_are_handed_on_whole_in_order_and_only_when_the_next_does_not_fit) {
  Recorder recorder;
  std::string expected;
  std::vector<std::string> ids;
  {
    access_log::Buffer buffer(4096, recorder.sink());
    for (int i = 0; i < 500; ++i) ids.push_back("id-" + std::to_string(i));
    for (const auto& id : ids) {
      const std::string line = access_log::line(sample(id));
      const bool fits = buffer.pending_bytes() + line.size() <= buffer.capacity();
      const std::size_t handed_before = recorder.handed.size();
      buffer.append(sample(id));
      // A hand-off happens exactly when this line would not have fitted.
      BOOST_TEST(recorder.handed.size() == handed_before + (fits ? 0 : 1));
      expected += line;
    }
    BOOST_TEST(buffer.pending_bytes() > 0u);
  }  // the destructor hands on the rest
  BOOST_TEST_REQUIRE(recorder.handed.size() > 10u);
  for (const auto& block : recorder.handed) {
    BOOST_TEST(block.size() <= 4096u);
    BOOST_TEST(block.back() == '\n');  // never a line cut in two
    BOOST_TEST(boost::json::parse(block.substr(0, block.find('\n'))).is_object());
  }
  BOOST_TEST(recorder.all() == expected);  // every line, in order
}

BOOST_AUTO_TEST_CASE(flush_hands_on_what_is_buffered_and_nothing_when_empty) {
  Recorder recorder;
  access_log::Buffer buffer(4096, recorder.sink());
  buffer.flush();
  BOOST_TEST(recorder.handed.empty());
  buffer.append(sample("one"));
  buffer.append(sample("two"));
  BOOST_TEST(recorder.handed.empty());
  buffer.flush();
  BOOST_REQUIRE_EQUAL(recorder.handed.size(), 1u);
  BOOST_TEST(recorder.handed[0] ==
             access_log::line(sample("one")) + access_log::line(sample("two")));
  BOOST_TEST(buffer.pending_bytes() == 0u);
  buffer.flush();
  BOOST_TEST(recorder.handed.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_line_longer_than_the_buffer_goes_alone_after_the_lines_before_it) {
  Recorder recorder;
  access_log::Buffer buffer(4096, recorder.sink());
  buffer.append(sample("before"));
  auto huge = sample("huge");
  const std::string long_target = "/" + std::string(5000, 'a');
  huge.target = long_target;
  buffer.append(huge);
  buffer.append(sample("after"));
  buffer.flush();
  BOOST_REQUIRE_EQUAL(recorder.handed.size(), 3u);
  BOOST_TEST(recorder.handed[0] == access_log::line(sample("before")));
  BOOST_TEST(recorder.handed[1] == access_log::line(huge));
  BOOST_TEST(recorder.handed[2] == access_log::line(sample("after")));
}

BOOST_AUTO_TEST_CASE(the_storage_the_sink_gives_back_is_reused) {
  std::vector<const char*> handed_storage;
  std::string spare;
  spare.reserve(4096);
  const char* spare_storage = spare.data();
  auto sink = [&](std::string lines) {
    handed_storage.push_back(lines.data());
    return std::exchange(spare, std::string());
  };
  access_log::Buffer buffer(4096, sink);
  buffer.append(sample());
  buffer.flush();
  buffer.append(sample());
  buffer.flush();
  BOOST_REQUIRE_EQUAL(handed_storage.size(), 2u);
  BOOST_TEST(static_cast<const void*>(handed_storage[1]) ==
             static_cast<const void*>(spare_storage));
}

BOOST_AUTO_TEST_SUITE_END()
