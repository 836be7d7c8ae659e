// framing_error: the RFC 9112 checks the session applies to every request head.
#include "server/framing.hpp"

#include <boost/test/unit_test.hpp>

using passerelle::framing_error;
using passerelle::HeaderField;

namespace {

// The status a head is refused with, 0 when it is accepted.
int refused(std::vector<HeaderField> fields, unsigned version = 11) {
  if (version == 11) fields.insert(fields.begin(), {"Host", "localhost"});
  auto e = framing_error(fields, version);
  if (!e) return 0;
  BOOST_TEST(!e->message.empty());
  return e->status;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(framing)

BOOST_AUTO_TEST_CASE(chunked_last_and_once_is_the_only_transfer_encoding_accepted) {
  BOOST_TEST(0 == refused({{"Transfer-Encoding", "chunked"}}));
  BOOST_TEST(0 == refused({{"transfer-encoding", " CHUNKED "}}));
  BOOST_TEST(0 == refused({}));
  for (const char* te : {"identity", "gzip", "xchunked", "chunked, identity", "chunked;q=1", "",
                         "chunked, chunked", ","})
    BOOST_TEST(refused({{"Transfer-Encoding", te}}) == 400, te);
  BOOST_TEST(refused({{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "identity"}}) == 400);
  BOOST_TEST(refused({{"Transfer-Encoding", "gzip, chunked"}}) == 501);
  BOOST_TEST(refused({{"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}}) == 501);
}

BOOST_AUTO_TEST_CASE(http_1_0_may_not_use_transfer_encoding_nor_1_1_omit_host) {
  BOOST_TEST(refused({{"Transfer-Encoding", "chunked"}}, 10) == 400);
  BOOST_TEST(0 == refused({}, 10));
  BOOST_TEST(framing_error({}, 11).has_value());
}

BOOST_AUTO_TEST_CASE(singleton_headers_may_appear_once) {
  for (const char* name : {"Host", "Content-Type", "Content-Length", "Authorization", "Cookie",
                           "Origin", "Sec-Fetch-Site", "X-CSRF-Token"}) {
    std::vector<HeaderField> twice = {{"Host", "a"}, {name, "1"}, {name, "1"}};
    if (std::string_view(name) == "Host") twice.erase(twice.begin());
    BOOST_TEST(framing_error(twice, 11).has_value(), name);
  }
  BOOST_TEST(framing_error({{"HOST", "a"}, {"host", "b"}}, 11).has_value());
  BOOST_TEST(0 == refused({{"Accept", "a"}, {"Accept", "b"}}));  // list headers may repeat
}

BOOST_AUTO_TEST_SUITE_END()
