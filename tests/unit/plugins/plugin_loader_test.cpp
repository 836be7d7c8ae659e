// The loader refuses every bad library with one line naming it, and unloads a library only
// after the last object that came from it.
#include "client/http_client.hpp"
#include "config/config.hpp"
#include "config/config_error.hpp"
#include "metrics/registry.hpp"
#include "plugins/loaded_plugin.hpp"
#include "plugins/plugin_host.hpp"
#include "store/sqlite_store.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <dlfcn.h>

#include <filesystem>
#include <fstream>

using namespace passerelle;
using passerelle::test::module;
using passerelle::test::run;
using passerelle::test::TempDir;

namespace {

std::string load_error(const std::string& path) {
  try {
    LoadedPlugin::load(path);
  } catch (const PluginError& e) {
    return e.what();
  }
  return "";
}

bool is_loaded(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle) dlclose(handle);
  return handle != nullptr;
}

// A host over a throwaway store, loading `plugins_yaml` (a YAML list).
struct HostFixture {
  TempDir dir;
  SqliteStore store{dir.path() + "/db.sqlite", 1};
  OutboundHttpClient http{OutboundConfig{}};
  MetricsRegistry metrics;
  PluginHost host{store, http, metrics, std::chrono::seconds(5)};

  void load(const std::string& plugins_yaml) {
    const std::string file =
        dir.write("p.yaml", "tls:\n  certificate: c\n  private_key: k\nplugins:\n" + plugins_yaml);
    host.load_all(load_config(file));
  }
  std::string load_error(const std::string& plugins_yaml) {
    try {
      load(plugins_yaml);
    } catch (const ConfigError& e) {
      return std::string(e.what()).substr(dir.path().size() + 1);
    }
    return "";
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_loader)

BOOST_AUTO_TEST_CASE(good_plugin_loads_with_its_description) {
  auto plugin = LoadedPlugin::load(module("hello"));
  BOOST_TEST(plugin->info().name == "hello");
  BOOST_TEST(plugin->info().version == "1.0.0");
  BOOST_TEST(!plugin->info().description.empty());
  BOOST_TEST(plugin->plugin().config_schema().size() == 3u);
  BOOST_TEST(plugin->plugin().migrations().size() == 2u);
}

BOOST_AUTO_TEST_CASE(missing_file) {
  BOOST_TEST(load_error("/nonexistent/libx.so") ==
             "plugin library /nonexistent/libx.so: no such file");
}

BOOST_AUTO_TEST_CASE(wrong_abi_version) {
  BOOST_TEST(load_error(module("bad_abi")) == "plugin library " + module("bad_abi") +
                                                  ": ABI 0000000000000000 instead of " + kAbi +
                                                  " (rebuild it against this gateway's SDK)");
}

BOOST_AUTO_TEST_CASE(a_plugin_of_an_older_sdk_is_told_to_rebuild) {
  BOOST_TEST(load_error(module("old_sdk")) ==
             "plugin library " + module("old_sdk") +
                 ": was built against an SDK older than 0.8 (no passerelle_abi): rebuild it");
}

BOOST_AUTO_TEST_CASE(wrong_build_fingerprint) {
  BOOST_TEST(
      load_error(module("bad_fingerprint")) ==
      "plugin library " + module("bad_fingerprint") +
          ": is not binary compatible: built as \"gcc-0.0 boost-0 sdk-0.0.0\", the host is \"" +
          kBuildFingerprint + "\"");
}

BOOST_AUTO_TEST_CASE(missing_factory) {
  BOOST_TEST(
      load_error(module("no_factory")) ==
      "plugin library " + module("no_factory") +
          ": does not export the factory passerelle_create_plugin (PASSERELLE_PLUGIN missing?)");
}

BOOST_AUTO_TEST_CASE(library_that_is_no_plugin) {
  BOOST_TEST(load_error(module("not_plugin")) ==
             "plugin library " + module("not_plugin") +
                 ": not a Passerelle plugin (no passerelle_abi/passerelle_build_fingerprint)");
}

BOOST_AUTO_TEST_CASE(truncated_and_garbage_files_are_refused_without_crashing) {
  TempDir dir;
  const auto size = std::filesystem::file_size(module("hello"));
  std::ifstream in(module("hello"), std::ios::binary);
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  const std::string truncated = dir.write("libtrunc.so", bytes.substr(0, size / 2));
  const std::string e = load_error(truncated);
  BOOST_TEST(e.find("plugin library " + truncated + ": truncated") == 0u, e);

  const std::string text = dir.write("libtext.so", std::string(200, 'x'));
  BOOST_TEST(load_error(text) ==
             "plugin library " + text + ": not a shared library (no ELF magic)");
  const std::string empty = dir.write("libempty.so", "");
  BOOST_TEST(load_error(empty) ==
             "plugin library " + empty + ": not a shared library (file too short)");
}

BOOST_AUTO_TEST_CASE(library_stays_loaded_while_any_handle_on_it_lives) {
  TempDir dir;
  // A private copy, so that no other test holds the same library open.
  const std::string copy = dir.path() + "/libpasserelle-hello.so";
  std::filesystem::copy_file(module("hello"), copy);
  auto plugin = LoadedPlugin::load(copy);
  const std::string name = plugin->loaded_from();  // the private copy it was loaded from
  BOOST_TEST(name != copy);
  BOOST_TEST(!std::filesystem::exists(name));  // gone once mapped
  BOOST_TEST(is_loaded(name));
  auto held = plugin;
  plugin.reset();
  BOOST_TEST(is_loaded(name));
  held.reset();
  BOOST_TEST(!is_loaded(name));
  // The same file loaded again is a library of its own (a new file at that path would be too).
  auto first = LoadedPlugin::load(copy);
  auto second = LoadedPlugin::load(copy);
  BOOST_TEST(first->loaded_from() != second->loaded_from());
  BOOST_TEST(first->sha256() == second->sha256());
}

BOOST_AUTO_TEST_CASE(a_route_keeps_its_library_after_the_host_let_it_go) {
  TempDir dir;
  const std::string copy = dir.path() + "/libpasserelle-hello.so";
  std::filesystem::copy_file(module("hello"), copy);
  SqliteStore store(dir.path() + "/db.sqlite", 1);
  OutboundHttpClient http{OutboundConfig{}};
  MetricsRegistry metrics;
  std::shared_ptr<const RouteTable> table;  // what a request in flight holds
  {
    PluginHost host(store, http, metrics, std::chrono::seconds(5));
    host.load_all(load_config(
        dir.write("p.yaml",
                  "tls:\n  certificate: c\n  private_key: k\nplugins:\n  - name: hello\n"
                  "    library: " +
                      copy + "\n    config:\n      greeting: Kenavo\n")));
    run(host.start_all());
    table = host.table();
  }  // the host is gone, and with it every handle it had on the plugin
  const std::string name = table->plugins.at(0)->loaded_from();
  BOOST_TEST_REQUIRE(is_loaded(name));
  const RouteTable::Target* greet = nullptr;
  for (const auto& target : table->targets)
    if (target.route->method == "GET" && target.route->path == "/api/hello") greet = &target;
  BOOST_TEST_REQUIRE(greet != nullptr);
  // The route's handler is code of the library and reads the plugin's state: both still there.
  Request request;
  request.method = "GET";
  request.path = "/api/hello";
  Response response = run(greet->route->handler(std::move(request)));
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.body == R"({"message":"Kenavo"})");
  BOOST_TEST(is_loaded(name));
  table.reset();  // the request ends: nothing holds the plugin any more
  BOOST_TEST(!is_loaded(name));
}

BOOST_AUTO_TEST_CASE(host_names_the_config_entry_of_a_bad_plugin) {
  HostFixture f;
  BOOST_TEST(f.load_error("  - name: hello\n    library: " + module("bad_abi") + "\n") ==
             "p.yaml:5:5: plugin library " + module("bad_abi") +
                 ": ABI 0000000000000000 instead of " + kAbi +
                 " (rebuild it against this gateway's SDK)");
}

BOOST_AUTO_TEST_CASE(host_refuses_a_name_that_differs_from_the_library) {
  HostFixture f;
  BOOST_TEST(f.load_error("  - name: greeter\n    library: " + module("hello") + "\n") ==
             "p.yaml:5:5: plugin library " + module("hello") +
                 " is named \"hello\", not \"greeter\"");
}

BOOST_AUTO_TEST_CASE(host_refuses_a_duplicate_plugin) {
  HostFixture f;
  TempDir other;
  const std::string copy = other.path() + "/libpasserelle-hello.so";
  std::filesystem::copy_file(module("hello"), copy);
  f.load("  - name: hello\n    library: " + module("hello") + "\n");
  // The same plugin again from another file (a second load_all, as a runtime load would do).
  BOOST_TEST(f.load_error("  - name: hello\n    library: " + copy + "\n") ==
             "p.yaml:5:5: plugin library " + copy + ": plugin \"hello\" is already loaded from " +
                 module("hello"));
}

BOOST_AUTO_TEST_CASE(plugin_config_is_checked_against_its_schema) {
  HostFixture f;
  const std::string entry = "  - name: hello\n    library: " + module("hello") + "\n    config:\n";
  BOOST_TEST(f.load_error(entry + "      greetin: Salut\n") ==
             "p.yaml:8:7: unknown key \"greetin\"");
  BOOST_TEST(f.load_error(entry + "      max_items: many\n") ==
             "p.yaml:8:18: max_items: expected an integer, got \"many\"");
}

BOOST_AUTO_TEST_SUITE_END()
