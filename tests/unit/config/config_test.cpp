// Config reading: defaults, types, unknown keys, environment, and the file:line:col of errors.
#include "config/config.hpp"
#include "config/config_error.hpp"
#include "config/yaml_section.hpp"
#include "support/temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>

using namespace passerelle;
using passerelle::test::TempDir;

namespace {

constexpr const char* kTls = "tls:\n  certificate: c.pem\n  private_key: k.pem\n";

// The message of the ConfigError that loading `yaml` raises ("" when it loads).
std::string error_of(const TempDir& dir, const std::string& yaml) {
  const std::string file = dir.write("p.yaml", yaml);
  try {
    load_config(file);
  } catch (const ConfigError& e) {
    return std::string(e.what()).substr(dir.path().size() + 1);
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(minimal_config_takes_defaults_and_resolves_paths) {
  TempDir dir;
  Config c = load_config(dir.write("p.yaml", kTls));
  BOOST_TEST(c.server.https_port == 8443);
  BOOST_TEST(c.server.http_port == 8080);
  BOOST_TEST(c.server.limits.header_bytes == 8192u);
  BOOST_TEST(c.server.limits.body_bytes == 1024u * 1024u);
  BOOST_TEST(c.server.workers >= 1u);
  BOOST_TEST(c.tls.certificate == dir.path() + "/c.pem");
  BOOST_TEST(c.plugins.empty());
  BOOST_TEST(!c.demo);
}

BOOST_AUTO_TEST_CASE(unknown_key_is_named_with_its_position) {
  TempDir dir;
  BOOST_TEST(error_of(dir, std::string(kTls) + "server:\n  https_port: 1\n  colour: blue\n") ==
             "p.yaml:6:3: unknown key \"colour\"");
  BOOST_TEST(error_of(dir, std::string(kTls) + "servre: {}\n") ==
             "p.yaml:4:1: unknown key \"servre\"");
}

BOOST_AUTO_TEST_CASE(wrong_types_and_ranges_are_refused) {
  TempDir dir;
  BOOST_TEST(error_of(dir, std::string(kTls) + "server:\n  https_port: abc\n") ==
             "p.yaml:5:15: https_port: expected an integer, got \"abc\"");
  BOOST_TEST(error_of(dir, std::string(kTls) + "server:\n  https_port: 70000\n") ==
             "p.yaml:5:15: https_port: must be between 0 and 65535");
  BOOST_TEST(error_of(dir, std::string(kTls) + "server:\n  handler_timeout: 10\n") ==
             "p.yaml:5:20: handler_timeout: expected a duration such as 500ms, 10s, 5m (at most a "
             "year), got \"10\"");
  BOOST_TEST(error_of(dir, std::string(kTls) + "demo: yes\n") ==
             "p.yaml:4:7: demo: expected true or false, got \"yes\"");
  BOOST_TEST(error_of(dir, std::string(kTls) + "server: [1, 2]\n") ==
             "p.yaml:4:9: server: expected a mapping");
}

BOOST_AUTO_TEST_CASE(an_http_issuer_is_on_a_loopback_host_only) {
  TempDir dir;
  auto issuer = [&](const std::string& url) {
    return error_of(dir, std::string(kTls) + "auth:\n  oidc:\n    - name: idp\n      issuer: " +
                             url + "\n      client_id: c\n      client_secret: s\n");
  };
  BOOST_TEST(issuer("http://127.0.0.1:9000/realm") == "");
  BOOST_TEST(issuer("http://localhost:9000") == "");
  BOOST_TEST(issuer("https://idp.example/realm") == "");
  // The user-info part of the URL would make the host another one.
  for (const char* url : {"http://127.0.0.1:@idp.example/realm", "http://localhost:80@idp.example",
                          "http://127.0.0.1:9000.idp.example/", "http://idp.example/"})
    BOOST_TEST(issuer(url).find("must be an https:// URL") != std::string::npos, url);
}

BOOST_AUTO_TEST_CASE(missing_required_key_points_at_its_section) {
  TempDir dir;
  BOOST_TEST(error_of(dir, "tls:\n  certificate: c.pem\n") ==
             "p.yaml:2:3: private_key: is required");
}

BOOST_AUTO_TEST_CASE(yaml_syntax_error_has_a_position) {
  TempDir dir;
  const std::string e = error_of(dir, std::string(kTls) + "server: {https_port: 1\n");
  BOOST_TEST(e.rfind("p.yaml:5:", 0) == 0, e);
}

BOOST_AUTO_TEST_CASE(missing_file_is_a_config_error) {
  BOOST_CHECK_EXCEPTION(
      load_config("/nonexistent/passerelle.yaml"), ConfigError, [](const ConfigError& e) {
        return std::string(e.what()) == "/nonexistent/passerelle.yaml:1:1: cannot read the file";
      });
}

BOOST_AUTO_TEST_CASE(text_is_read_as_if_it_came_from_the_named_file) {
  Config c = load_config_text(kTls, "/etc/passerelle/p.yaml");
  BOOST_TEST(c.file == "/etc/passerelle/p.yaml");
  BOOST_TEST(c.tls.certificate == "/etc/passerelle/c.pem");
  BOOST_CHECK_EXCEPTION(load_config_text("tls: [", "/etc/passerelle/p.yaml"), ConfigError,
                        [](const ConfigError& e) {
                          return std::string(e.what()).rfind("/etc/passerelle/p.yaml:1:", 0) == 0;
                        });
}

BOOST_AUTO_TEST_CASE(environment_substitution) {
  TempDir dir;
  setenv("PASSERELLE_TEST_DB", "/srv/db.sqlite", 1);
  unsetenv("PASSERELLE_TEST_UNSET");
  Config c = load_config(
      dir.write("p.yaml", std::string(kTls) + "store:\n  sqlite: ${PASSERELLE_TEST_DB}\n"
                                              "log:\n  level: ${PASSERELLE_TEST_UNSET:-warn}\n"));
  BOOST_TEST(c.store.sqlite == "/srv/db.sqlite");
  BOOST_TEST(c.log.level == "warn");
  BOOST_TEST(error_of(dir, std::string(kTls) + "store:\n  sqlite: ${PASSERELLE_TEST_UNSET}\n") ==
             "p.yaml:5:11: sqlite: environment variable PASSERELLE_TEST_UNSET is not set");
}

BOOST_AUTO_TEST_CASE(statement_cache_and_heap_trim_keys) {
  TempDir dir;
  const Config defaults = load_config_text(kTls, "/etc/passerelle/p.yaml");
  BOOST_TEST(defaults.store.statement_cache == 64u);
  BOOST_TEST(defaults.server.heap_trim_interval.count() == 10'000);
  const Config off =
      load_config(dir.write("p.yaml", std::string(kTls) + "server:\n  heap_trim_interval: 0s\n"
                                                          "store:\n  statement_cache: 0\n"));
  BOOST_TEST(off.store.statement_cache == 0u);
  BOOST_TEST(off.server.heap_trim_interval.count() == 0);
  BOOST_TEST(error_of(dir, std::string(kTls) + "store:\n  statement_cache: -1\n")
                 .find("statement_cache") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(mail_section) {
  TempDir dir;
  const Config none = load_config_text(kTls, "/etc/passerelle/p.yaml");
  BOOST_TEST(none.mail.relay.empty());
  const Config set = load_config(
      dir.write("p.yaml", std::string(kTls) +
                              "mail:\n  relay: smtp://relay.example.fr:587\n"
                              "  from: \"Passerelle <noreply@example.fr>\"\n  timeout: 5s\n"));
  BOOST_TEST(set.mail.relay == "smtp://relay.example.fr:587");
  BOOST_TEST(set.mail.starttls);
  BOOST_TEST(set.mail.timeout.count() == 5000);
  // Plain SMTP only on loopback; a sender with the relay; smtp(s):// only.
  BOOST_TEST(error_of(dir, std::string(kTls) + "mail:\n  relay: smtp://relay.example.fr:25\n"
                                               "  from: a@b.fr\n  starttls: false\n")
                 .find("false only for a relay on loopback") != std::string::npos);
  BOOST_TEST(error_of(dir, std::string(kTls) + "mail:\n  relay: smtp://127.0.0.1:25\n"
                                               "  from: a@b.fr\n  starttls: false\n") == "");
  BOOST_TEST(error_of(dir, std::string(kTls) + "mail:\n  relay: smtp://relay.example.fr\n")
                 .find("the sender's address is required") != std::string::npos);
  BOOST_TEST(error_of(dir, std::string(kTls) + "mail:\n  relay: http://relay.example.fr\n"
                                               "  from: a@b.fr\n")
                 .rfind("p.yaml:", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(sqlite_memory_keys) {
  TempDir dir;
  const Config defaults = load_config_text(kTls, "/etc/passerelle/p.yaml");
  BOOST_TEST(defaults.store.cache_mib == 16u);
  BOOST_TEST(defaults.store.mmap_mib == 256u);
  const Config set = load_config(
      dir.write("p.yaml", std::string(kTls) + "store:\n  cache_mib: 64\n  mmap_mib: 0\n"));
  BOOST_TEST(set.store.cache_mib == 64u);
  BOOST_TEST(set.store.mmap_mib == 0u);
  BOOST_TEST(error_of(dir, std::string(kTls) + "store:\n  cache_mib: 0\n").rfind("p.yaml:5:", 0) ==
             0u);
  BOOST_TEST(error_of(dir, std::string(kTls) + "store:\n  mmap_mib: 70000\n").find("mmap_mib") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(plugins_entries) {
  TempDir dir;
  Config c = load_config(dir.write("p.yaml", std::string(kTls) + "plugins:\n"
                                                                 "  - name: hello\n"
                                                                 "    library: lib/h.so\n"
                                                                 "    timeout: 2s\n"
                                                                 "    max_concurrent: 20\n"
                                                                 "    required: true\n"
                                                                 "    route_timeouts:\n"
                                                                 "      GET /api/hello: 250ms\n"
                                                                 "    config:\n"
                                                                 "      greeting: Salut\n"));
  BOOST_TEST_REQUIRE(c.plugins.size() == 1u);
  BOOST_TEST(c.plugins[0].library == dir.path() + "/lib/h.so");
  BOOST_TEST(c.plugins[0].timeout.count() == 2000);
  BOOST_TEST(c.plugins[0].route_timeouts.at("GET /api/hello").count() == 250);
  BOOST_TEST(c.plugins[0].config["greeting"].as<std::string>() == "Salut");
  BOOST_TEST(c.plugins[0].max_concurrent == 20);
  BOOST_TEST(c.plugins[0].required);
  const std::string zero = error_of(
      dir, std::string(kTls) + "plugins:\n  - name: a\n    library: a.so\n    max_concurrent: 0\n");
  BOOST_TEST(zero.rfind("p.yaml:7:", 0) == 0, zero);

  BOOST_TEST(error_of(dir, std::string(kTls) + "plugins:\n  - name: a\n    library: a.so\n"
                                               "  - name: a\n    library: b.so\n") ==
             "p.yaml:7:5: plugin \"a\" is listed twice");
  BOOST_TEST(error_of(dir, std::string(kTls) + "plugins:\n  - name: Hello!\n    library: a.so\n") ==
             "p.yaml:5:11: name: must be lower-case letters, digits, '-' or '_'");
}

BOOST_AUTO_TEST_CASE(demo_mode_is_loopback_only) {
  TempDir dir;
  BOOST_TEST(error_of(dir, std::string(kTls) + "demo: true\nserver:\n  listen: 0.0.0.0\n") ==
             "p.yaml:6:3: server: demo mode listens on loopback only (127.0.0.1 or ::1)");
}

BOOST_AUTO_TEST_CASE(durations) {
  BOOST_TEST(parse_duration("250ms")->count() == 250);
  BOOST_TEST(parse_duration("10s")->count() == 10000);
  BOOST_TEST(parse_duration("2m")->count() == 120000);
  BOOST_TEST(parse_duration("1h")->count() == 3600000);
  BOOST_TEST(!parse_duration("10"));
  BOOST_TEST(!parse_duration("-1s"));
  BOOST_TEST(!parse_duration("1 s"));
  BOOST_TEST(!parse_duration("s"));
  BOOST_TEST(parse_duration("8784h")->count() == 8784LL * 3600000);  // a leap year
  BOOST_TEST(!parse_duration("8785h"));
  BOOST_TEST(!parse_duration("6356080274095560021s"));  // would overflow in milliseconds
}

BOOST_AUTO_TEST_CASE(trusted_proxies_are_addresses) {
  TempDir dir;
  BOOST_TEST(load_config(dir.write("p.yaml", kTls)).server.trusted_proxies.empty());
  Config c = load_config(dir.write(
      "p.yaml",
      std::string(kTls) + "server:\n  trusted_proxies: [127.0.0.1, '::FFFF:10.0.0.2']\n"));
  BOOST_TEST(c.server.trusted_proxies == (std::vector<std::string>{"127.0.0.1", "10.0.0.2"}),
             boost::test_tools::per_element());
  const std::string network =
      error_of(dir, std::string(kTls) + "server:\n  trusted_proxies: [10.0.0.0/8]\n");
  BOOST_TEST(network.find("p.yaml:5:") == 0u, network);
  BOOST_TEST(network.find("\"10.0.0.0/8\" is not an IP address") != std::string::npos, network);
}

BOOST_AUTO_TEST_CASE(session_cache_defaults_values_and_limits) {
  TempDir dir;
  Config c = load_config(dir.write("p.yaml", kTls));
  BOOST_TEST(c.auth.session_cache_max_entries == 10000u);
  BOOST_TEST(c.auth.session_cache_ttl.count() == 5000);
  c = load_config(dir.write(
      "q.yaml", std::string(kTls) + "auth:\n  session_cache:\n    max_entries: 0\n    ttl: 1s\n"));
  BOOST_TEST(c.auth.session_cache_max_entries == 0u);
  BOOST_TEST(c.auth.session_cache_ttl.count() == 1000);
  const std::string too_long =
      error_of(dir, std::string(kTls) + "auth:\n  session_cache:\n    ttl: 2m\n");
  BOOST_TEST(too_long.rfind("p.yaml:6:", 0) == 0u, too_long);
  BOOST_TEST(too_long.find("must be 60s at most") != std::string::npos, too_long);
  BOOST_TEST(
      error_of(dir, std::string(kTls) + "auth:\n  session_cache:\n    size: 1\n").find("size") !=
      std::string::npos);
}

// The `web:` section: default root next to the config, default pages, and page paths refused
// when they are not plain or fall under a prefix the gateway answers itself.

BOOST_AUTO_TEST_CASE(access_log_buffer_and_flush_interval) {
  TempDir dir;
  Config c = load_config(dir.write("p.yaml", kTls));
  BOOST_TEST(c.log.access_log);
  BOOST_TEST(c.log.access_log_buffer == 64u * 1024u);
  BOOST_TEST(c.log.access_log_flush.count() == 1000);
  c = load_config(dir.write(
      "p.yaml",
      std::string(kTls) + "log:\n  access_log_buffer: 8192\n  access_log_flush: 250ms\n"));
  BOOST_TEST(c.log.access_log_buffer == 8192u);
  BOOST_TEST(c.log.access_log_flush.count() == 250);
  BOOST_TEST(error_of(dir, std::string(kTls) + "log:\n  access_log_buffer: 100\n") ==
             "p.yaml:5:22: access_log_buffer: must be between 4096 and 16777216");
  BOOST_TEST(error_of(dir, std::string(kTls) + "log:\n  access_log_flush: 0s\n") ==
             "p.yaml:5:21: access_log_flush: must be between 10ms and 60s");
}

BOOST_AUTO_TEST_CASE(web_section_defaults) {
  TempDir dir;
  Config c = load_config(dir.write("p.yaml", kTls));
  const auto expected =
      (std::filesystem::path(dir.path()).parent_path() / "web/dist").lexically_normal();
  BOOST_TEST(c.web.root == expected.string());
  BOOST_TEST(
      c.web.pages == (std::vector<std::string>{"/", "/connexion", "/ma-direction", "/actualites",
                                               "/conseils", "/offres", "/mon-organisation",
                                               "/mon-compte", "/invitation", "/exploitation"}),
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(web_section_root_and_pages_given) {
  TempDir dir;
  Config c = load_config(
      dir.write("p.yaml", std::string(kTls) + "web:\n  root: site\n  pages: [/, /a/b]\n"));
  BOOST_TEST(c.web.root == dir.path() + "/site");
  BOOST_TEST(c.web.pages.size() == 2u);
}

BOOST_AUTO_TEST_CASE(web_section_bad_pages_and_keys_are_refused) {
  TempDir dir;
  BOOST_TEST(error_of(dir, std::string(kTls) + "web:\n  colour: blue\n") ==
             "p.yaml:5:3: unknown key \"colour\"");
  for (const std::string page :
       {"x", "/a/", "//a", "/a/../b", "/.well-known", "/{id}", "/a?b", "/a b"})
    BOOST_TEST(error_of(dir, std::string(kTls) + "web:\n  pages: [\"" + page + "\"]\n")
                       .find("is not a plain path") != std::string::npos,
               page);
  for (const std::string page : {"/api", "/api/x", "/auth/login", "/assets/x", "/auth"})
    BOOST_TEST(error_of(dir, std::string(kTls) + "web:\n  pages: [\"" + page + "\"]\n")
                       .find("which the gateway") != std::string::npos,
               page);
  BOOST_TEST(error_of(dir, std::string(kTls) + "web:\n  pages: [/a, /a]\n").find("listed twice") !=
             std::string::npos);
  BOOST_TEST(error_of(dir, std::string(kTls) + "web:\n  pages: [/apis, /authors]\n") == "");
}

BOOST_AUTO_TEST_SUITE_END()
