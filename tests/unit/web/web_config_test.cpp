// The `web:` section: default root next to the config, default pages, and page paths refused
// when they are not plain or fall under a prefix the gateway answers itself.
#include "config/config.hpp"
#include "config/config_error.hpp"
#include "support/temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>

using namespace passerelle;
using passerelle::test::TempDir;

namespace {

constexpr const char* kTls = "tls:\n  certificate: c.pem\n  private_key: k.pem\n";

std::string error_of(const TempDir& dir, const std::string& yaml) {
  const std::string file = dir.write("p.yaml", std::string(kTls) + yaml);
  try {
    load_config(file);
  } catch (const ConfigError& e) {
    return std::string(e.what()).substr(dir.path().size() + 1);
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(web_config)

BOOST_AUTO_TEST_CASE(defaults) {
  TempDir dir;
  Config c = load_config(dir.write("p.yaml", kTls));
  const auto expected =
      (std::filesystem::path(dir.path()).parent_path() / "web/dist").lexically_normal();
  BOOST_TEST(c.web.root == expected.string());
  BOOST_TEST(
      c.web.pages == (std::vector<std::string>{"/", "/connexion", "/ma-direction", "/mon-compte"}),
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(root_and_pages_given) {
  TempDir dir;
  Config c = load_config(
      dir.write("p.yaml", std::string(kTls) + "web:\n  root: site\n  pages: [/, /a/b]\n"));
  BOOST_TEST(c.web.root == dir.path() + "/site");
  BOOST_TEST(c.web.pages.size() == 2u);
}

BOOST_AUTO_TEST_CASE(bad_pages_and_keys_are_refused) {
  TempDir dir;
  BOOST_TEST(error_of(dir, "web:\n  colour: blue\n") == "p.yaml:5:3: unknown key \"colour\"");
  for (const std::string page :
       {"x", "/a/", "//a", "/a/../b", "/.well-known", "/{id}", "/a?b", "/a b"})
    BOOST_TEST(error_of(dir, "web:\n  pages: [\"" + page + "\"]\n").find("is not a plain path") !=
                   std::string::npos,
               page);
  for (const std::string page : {"/api", "/api/x", "/auth/login", "/assets/x", "/auth"})
    BOOST_TEST(error_of(dir, "web:\n  pages: [\"" + page + "\"]\n").find("which the gateway") !=
                   std::string::npos,
               page);
  BOOST_TEST(error_of(dir, "web:\n  pages: [/a, /a]\n").find("listed twice") != std::string::npos);
  BOOST_TEST(error_of(dir, "web:\n  pages: [/apis, /authors]\n") == "");
}

BOOST_AUTO_TEST_SUITE_END()
