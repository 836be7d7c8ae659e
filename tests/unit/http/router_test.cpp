// Path templates: parameters, specificity, 404 and 405 with the allowed methods, HEAD as GET.
#include "http/router.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle;

namespace {
Router make_router() {
  Router r;
  std::string error;
  BOOST_REQUIRE(r.add("GET", "/api/hello/items/{id}", 1, error));
  BOOST_REQUIRE(r.add("GET", "/api/hello/items/new", 2, error));
  BOOST_REQUIRE(r.add("DELETE", "/api/hello/items/{id}", 3, error));
  BOOST_REQUIRE(r.add("GET", "/api/hello", 4, error));
  BOOST_REQUIRE(r.add("PUT", "/api/hello/{a}/x/{b}", 5, error));
  return r;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(router)

BOOST_AUTO_TEST_CASE(captures_parameters) {
  const Router r = make_router();
  auto res = r.find("GET", Router::split("/api/hello/items/42"));
  BOOST_TEST((res.outcome == Router::Outcome::found));
  BOOST_TEST(res.match.id == 1u);
  BOOST_TEST(res.match.params.at("id") == "42");
  res = r.find("PUT", Router::split("/api/hello/p/x/q"));
  BOOST_TEST(res.match.id == 5u);
  BOOST_TEST(res.match.params.at("a") == "p");
  BOOST_TEST(res.match.params.at("b") == "q");
}

BOOST_AUTO_TEST_CASE(the_rest_of_a_path_is_one_parameter_and_the_least_specific) {
  Router r;
  std::string error;
  BOOST_REQUIRE(r.add("GET", "/api/p/{path...}", 1, error));
  BOOST_REQUIRE(r.add("GET", "/api/p/status", 2, error));
  BOOST_REQUIRE(r.add("GET", "/api/p/{id}/x", 3, error));
  BOOST_TEST(!r.add("GET", "/api/p/{rest...}", 4, error));  // the same shape
  BOOST_TEST(!r.add("GET", "/api/q/{rest...}/x", 5, error));
  BOOST_TEST(error.find("last segment") != std::string::npos, error);
  auto res = r.find("GET", Router::split("/api/p/a/b/c"));
  BOOST_TEST(res.match.id == 1u);
  BOOST_TEST(res.match.params.at("path") == "a/b/c");
  res = r.find("GET", Router::split("/api/p"));
  BOOST_TEST(res.match.id == 1u);
  BOOST_TEST(res.match.params.at("path") == "");
  BOOST_TEST(r.find("GET", Router::split("/api/p/status")).match.id == 2u);
  BOOST_TEST(r.find("GET", Router::split("/api/p/7/x")).match.id == 3u);
  BOOST_TEST((r.find("GET", Router::split("/api")).outcome == Router::Outcome::not_found));
  BOOST_TEST(
      (r.find("POST", Router::split("/api/p/a")).outcome == Router::Outcome::method_not_allowed));
}

BOOST_AUTO_TEST_CASE(literal_beats_parameter_whatever_the_order) {
  const Router r = make_router();
  BOOST_TEST(r.find("GET", Router::split("/api/hello/items/new")).match.id == 2u);
  BOOST_TEST(r.find("DELETE", Router::split("/api/hello/items/new")).match.id == 3u);
}

BOOST_AUTO_TEST_CASE(not_found_and_method_not_allowed) {
  const Router r = make_router();
  BOOST_TEST((r.find("GET", Router::split("/api/nothing")).outcome == Router::Outcome::not_found));
  BOOST_TEST(
      (r.find("GET", Router::split("/api/hello/items")).outcome == Router::Outcome::not_found));
  auto res = r.find("POST", Router::split("/api/hello/items/7"));
  BOOST_TEST((res.outcome == Router::Outcome::method_not_allowed));
  BOOST_TEST((res.allowed == std::vector<std::string>{"DELETE", "GET", "HEAD"}));
  // Without a GET route, HEAD is not allowed either.
  res = r.find("GET", Router::split("/api/hello/p/x/q"));
  BOOST_TEST((res.outcome == Router::Outcome::method_not_allowed));
  BOOST_TEST((res.allowed == std::vector<std::string>{"PUT"}));
}

BOOST_AUTO_TEST_CASE(head_finds_the_get_route) {
  const Router r = make_router();
  auto res = r.find("HEAD", Router::split("/api/hello/items/42"));
  BOOST_TEST((res.outcome == Router::Outcome::found));
  BOOST_TEST(res.match.id == 1u);
  BOOST_TEST(res.match.params.at("id") == "42");
  BOOST_TEST(r.find("HEAD", Router::split("/api/hello/items/new")).match.id == 2u);
  res = r.find("HEAD", Router::split("/api/hello/p/x/q"));
  BOOST_TEST((res.outcome == Router::Outcome::method_not_allowed));
  BOOST_TEST((res.allowed == std::vector<std::string>{"PUT"}));
  BOOST_TEST((r.find("HEAD", Router::split("/api/nothing")).outcome == Router::Outcome::not_found));
}

// Found by the router fuzz target (tests/fuzz/corpus/router/regression_route_order): a shorter
// route added between two others left the literal route behind the parameter one.
BOOST_AUTO_TEST_CASE(literal_beats_parameter_whatever_routes_of_other_lengths_were_added) {
  Router r;
  std::string error;
  BOOST_REQUIRE(r.add("GET", "/x/{a}", 1, error));
  BOOST_REQUIRE(r.add("GET", "/x", 2, error));
  BOOST_REQUIRE(r.add("GET", "/x/y", 3, error));
  BOOST_TEST(r.find("GET", Router::split("/x/y")).match.id == 3u);
  BOOST_TEST(r.find("GET", Router::split("/x/z")).match.id == 1u);
  BOOST_TEST(r.find("GET", Router::split("/x")).match.id == 2u);
}

BOOST_AUTO_TEST_CASE(split_ignores_empty_segments) {
  BOOST_TEST(Router::split("/").empty());
  BOOST_TEST((Router::split("/a//b/") == std::vector<std::string>{"a", "b"}));
}

BOOST_AUTO_TEST_CASE(bad_templates_and_duplicates_are_refused) {
  Router r = make_router();
  std::string error;
  BOOST_TEST(!r.add("GET", "/api/hello/items/{other}", 9, error));
  BOOST_TEST(error == "GET /api/hello/items/{other} is already routed");
  BOOST_TEST(!r.add("GET", "/api/x/{a}/{a}", 9, error));
  BOOST_TEST(!r.add("GET", "/api/x/pre{a}", 9, error));
  BOOST_TEST(!r.add("GET", "api/x", 9, error));
  BOOST_TEST(!r.add("TRACE", "/api/x", 9, error));
  BOOST_TEST(error == "unsupported method \"TRACE\"");
  BOOST_TEST(!r.add("HEAD", "/api/x", 9, error));  // declared as GET, answered for both
}

BOOST_AUTO_TEST_SUITE_END()
