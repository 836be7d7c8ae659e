// Loading a plugin: every refusal is one line naming the file and the values that differ.
#include "plugins/loaded_plugin.hpp"

#include "plugins/elf_check.hpp"
#include "plugins/plugin_services.hpp"
#include "util/clock.hpp"

#include <boost/dll/shared_library.hpp>

#include <filesystem>

namespace passerelle {

std::shared_ptr<LoadedPlugin> LoadedPlugin::load(const std::string& path) {
  auto fail = [&](const std::string& why) {
    return PluginError("plugin library " + path + ": " + why);
  };
  if (!std::filesystem::exists(path)) throw fail("no such file");
  if (auto bad = check_elf(path)) throw fail(*bad);

  auto lib = std::make_unique<boost::dll::shared_library>();
  try {
    // RTLD_NOW: fail here on a missing symbol, not in the middle of a request.
    lib->load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    throw fail(std::string("cannot be loaded: ") + e.what());
  }
  if (!lib->has("passerelle_abi_version") || !lib->has("passerelle_build_fingerprint"))
    throw fail("not a Passerelle plugin (no passerelle_abi_version/passerelle_build_fingerprint)");
  const int abi = lib->get<int()>("passerelle_abi_version")();
  if (abi != kAbiVersion)
    throw fail("ABI version " + std::to_string(abi) + " instead of " + std::to_string(kAbiVersion));
  const std::string fingerprint = lib->get<const char*()>("passerelle_build_fingerprint")();
  if (fingerprint != kBuildFingerprint)
    throw fail("is not binary compatible: built as \"" + fingerprint + "\", the host is \"" +
               kBuildFingerprint + "\"");
  if (!lib->has("passerelle_create_plugin"))
    throw fail("does not export the factory passerelle_create_plugin (PASSERELLE_PLUGIN missing?)");

  std::shared_ptr<LoadedPlugin> loaded(new LoadedPlugin());
  loaded->path_ = path;
  loaded->loaded_at_ = unix_seconds();
  loaded->library_ = std::move(lib);
  try {
    loaded->plugin_ = loaded->library_->get_alias<PluginFactory>("passerelle_create_plugin")();
    if (!loaded->plugin_) throw std::runtime_error("the factory returned no plugin");
    loaded->info_ = loaded->plugin_->info();
  } catch (const std::exception& e) {
    throw fail(std::string("factory failed: ") + e.what());
  }
  return loaded;
}

const char* state_name(LoadedPlugin::State state) {
  switch (state) {
    case LoadedPlugin::State::loaded:
      return "starting";
    case LoadedPlugin::State::running:
      return "running";
    case LoadedPlugin::State::failed:
      return "failed";
    case LoadedPlugin::State::stopped:
      return "stopped";
  }
  return "unknown";
}

LoadedPlugin::~LoadedPlugin() {
  // Order matters: objects made by the library go before the library itself.
  routes.clear();
  services.reset();
  plugin_.reset();
  library_.reset();
}

}  // namespace passerelle
