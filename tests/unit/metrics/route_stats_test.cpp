// The per-route counters: latency buckets, the quantile estimate read from them, status
// counts, the registry's grouping by plugin and its Prometheus text.
#include "metrics/route_stats.hpp"
#include "metrics/registry.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cctype>

using namespace passerelle;
using namespace std::chrono_literals;

namespace {
BucketCounts with(std::initializer_list<std::pair<std::size_t, std::uint64_t>> counts) {
  BucketCounts out{};
  for (auto [bucket, n] : counts) out[bucket] = n;
  return out;
}
bool near(double a, double b) { return std::abs(a - b) < 1e-9; }
}  // namespace

BOOST_AUTO_TEST_SUITE(route_stats)

BOOST_AUTO_TEST_CASE(a_duration_falls_in_the_first_bucket_whose_bound_holds_it) {
  BOOST_TEST(latency_bucket(0ns) == 0u);
  BOOST_TEST(latency_bucket(500us) == 0u);  // bounds are inclusive (Prometheus' "le")
  BOOST_TEST(latency_bucket(500us + 1ns) == 1u);
  BOOST_TEST(latency_bucket(7ms) == 4u);  // (5 ms, 10 ms]
  BOOST_TEST(latency_bucket(30s) == kLatencyBounds.size() - 1);
  BOOST_TEST(latency_bucket(31s) == kLatencyBounds.size());  // +Inf
  BOOST_TEST(latency_bucket(-1ms) == 0u);
}

BOOST_AUTO_TEST_CASE(p99_is_interpolated_within_its_bucket) {
  BOOST_TEST(!estimate_quantile(BucketCounts{}, 0.99).has_value());
  // 100 answers in (5 ms, 10 ms]: the 99th of them sits 99 % of the way through.
  auto p99 = estimate_quantile(with({{4, 100}}), 0.99);
  BOOST_TEST_REQUIRE(p99.has_value());
  BOOST_TEST(near(*p99, 0.005 + 0.005 * 0.99));
  // 99 fast ones: the 99th is still fast, whatever the last one did.
  p99 = estimate_quantile(with({{0, 99}, {10, 1}}), 0.99);
  BOOST_TEST_REQUIRE(p99.has_value());
  BOOST_TEST(near(*p99, 0.0005));
  // 98 fast, 2 in (0.5 s, 1 s]: rank 99 is the first of those two, half-way.
  p99 = estimate_quantile(with({{0, 98}, {10, 2}}), 0.99);
  BOOST_TEST_REQUIRE(p99.has_value());
  BOOST_TEST(near(*p99, 0.75));
  // Beyond the last bound nothing is known but that bound.
  p99 = estimate_quantile(with({{kLatencyBounds.size(), 3}}), 0.99);
  BOOST_TEST_REQUIRE(p99.has_value());
  BOOST_TEST(near(*p99, kLatencyBounds.back()));
  // The median of the same data differs from its p99: the estimate follows q.
  p99 = estimate_quantile(with({{0, 50}, {10, 50}}), 0.5);
  BOOST_TEST_REQUIRE(p99.has_value());
  BOOST_TEST(near(*p99, 0.0005));
}

BOOST_AUTO_TEST_CASE(a_route_counts_each_status_and_observes_its_latency) {
  RouteStats stats("hello", "GET /api/hello");
  stats.record(200, 2ms);
  stats.record(200, 3ms);
  stats.record(503, 40ms);
  stats.record(42, 1ms);  // never sent by the dispatcher: counted as a 500, not lost
  BOOST_TEST(stats.answered(200) == 2u);
  BOOST_TEST(stats.answered(503) == 1u);
  BOOST_TEST(stats.answered(500) == 1u);
  const auto counts = stats.latency().counts();
  BOOST_TEST(counts[2] == 1u);  // (1 ms, 2.5 ms]
  BOOST_TEST(counts[3] == 1u);  // (2.5 ms, 5 ms]
  BOOST_TEST(counts[6] == 1u);  // (25 ms, 50 ms]
  BOOST_TEST(counts[1] == 1u);  // (0.5 ms, 1 ms]
  BOOST_TEST(near(stats.latency().sum_seconds(), 0.046));
}

BOOST_AUTO_TEST_CASE(the_registry_keeps_one_stats_per_route_and_sums_them_per_plugin) {
  MetricsRegistry registry;
  RouteStats& a = registry.route("hello", "GET /api/hello");
  BOOST_TEST(&registry.route("hello", "GET /api/hello") == &a);  // a rebuilt table finds it
  RouteStats& b = registry.route("hello", "POST /api/hello/items");
  RouteStats& core = registry.route("", "GET /healthz");
  a.record(200, 1ms);
  a.record(500, 1ms);
  b.record(504, 2s);
  b.record(404, 1ms);
  core.record(200, 1ms);
  const auto totals = registry.group_totals();
  BOOST_TEST_REQUIRE(totals.count("hello") == 1u);
  BOOST_TEST(totals.at("hello").requests == 4u);
  BOOST_TEST(totals.at("hello").errors == 2u);       // 5xx only: a 404 is the caller's
  BOOST_TEST(totals.at("hello").latency[11] == 1u);  // (1 s, 2.5 s]
  BOOST_TEST(totals.at("").requests == 1u);
}

BOOST_AUTO_TEST_CASE(metrics_text_has_counts_and_cumulative_histograms_of_asked_routes_only) {
  MetricsRegistry registry;
  RouteStats& a = registry.route("hello", "GET /api/hello/{id}");
  registry.route("hello", "DELETE /api/hello/{id}");  // never asked
  a.record(200, 700us);
  a.record(200, 3ms);
  a.record(404, 3ms);
  const RouteEntered serving(&a);  // one request on its way
  const std::string text = registry.render();
  const std::string route = R"({route="GET /api/hello/{id}")";
  const std::string histogram = "passerelle_http_request_duration_seconds";
  for (const std::string& line : {
           "passerelle_http_requests_total" + route + R"(,status="200"} 2)",
           "passerelle_http_requests_total" + route + R"(,status="404"} 1)",
           "# TYPE " + histogram + " histogram",
           histogram + "_bucket" + route + R"(,le="0.0005"} 0)",
           histogram + "_bucket" + route + R"(,le="0.001"} 1)",
           histogram + "_bucket" + route + R"(,le="0.005"} 3)",
           histogram + "_bucket" + route + R"(,le="+Inf"} 3)",
           histogram + "_count" + route + "} 3",
           histogram + "_sum" + route + "} 0.0067",
           std::string(R"(passerelle_http_plugin_requests_total{plugin="hello"} 3)"),
           std::string(R"(passerelle_http_plugin_errors_total{plugin="hello"} 0)"),
           std::string(R"(passerelle_http_requests_by_class_total{plugin="hello",)") +
               R"(route="GET /api/hello/{id}",class="2xx"} 2)",
           std::string(R"(passerelle_http_requests_by_class_total{plugin="hello",)") +
               R"(route="GET /api/hello/{id}",class="4xx"} 1)",
           std::string(R"(passerelle_http_requests_in_flight{plugin="hello",)") +
               R"(route="GET /api/hello/{id}"} 1)",
       })
    BOOST_TEST(text.find(line) != std::string::npos, line);
  BOOST_TEST(text.find("DELETE") == std::string::npos);
}

// What a plugin names (its name, a route, a counter and its help text) cannot add a line of its
// own nor break the exposition format: one bad line makes Prometheus refuse the whole scrape.
BOOST_AUTO_TEST_CASE(names_from_plugins_cannot_add_or_break_lines_of_the_metrics_text) {
  MetricsRegistry registry;
  registry.route("my-plugin", "GET /api/my-plugin/\"a\"\nevil_route 1").record(200, 1ms);
  PluginMetrics metrics(registry, "my-plugin");
  metrics.counter("fetches", "Fetches\nevil_help 1\\").add(1);
  const std::string text = registry.render();
  const auto is_name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  };
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    BOOST_TEST_REQUIRE(end != std::string::npos);
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      const std::size_t name_end = line.find(' ', 7);
      BOOST_TEST(std::all_of(line.begin() + 7, line.begin() + name_end, is_name_char), line);
      continue;
    }
    BOOST_TEST(line.rfind("passerelle_", 0) == 0, line);
    const std::size_t name_end = line.find_first_of("{ ");
    BOOST_TEST_REQUIRE(name_end != std::string::npos);
    BOOST_TEST(std::all_of(line.begin(), line.begin() + name_end, is_name_char), line);
  }
  BOOST_TEST(text.find("passerelle_my_plugin_fetches 1") != std::string::npos, text);
  BOOST_TEST(text.find(R"(# HELP passerelle_my_plugin_fetches Fetches\nevil_help 1\\)") !=
                 std::string::npos,
             text);
  BOOST_TEST(text.find(R"(route="GET /api/my-plugin/\"a\"\nevil_route 1")") != std::string::npos,
             text);
}

BOOST_AUTO_TEST_SUITE_END()
