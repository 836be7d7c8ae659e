// Loading a plugin: every refusal is one line naming the file and the values that differ.
#include "plugins/loaded_plugin.hpp"

#include "auth/crypto.hpp"
#include "plugins/elf_check.hpp"
#include "plugins/plugin_services.hpp"
#include "util/clock.hpp"

#include <boost/dll/shared_library.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

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
  {
    std::ifstream file(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(file)),
                            std::istreambuf_iterator<char>());
    loaded->sha256_ = auth::sha256_hex(bytes);
  }
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

void LoadedPlugin::when_drained(std::function<void()> then) {
  {
    const std::lock_guard lock(drain_mutex_);
    if (!then || in_flight.load(std::memory_order_acquire) > 0) {
      on_drained_ = std::move(then);
      return;
    }
    on_drained_ = nullptr;
  }
  then();
}

void LoadedPlugin::drained() {
  std::function<void()> then;
  {
    const std::lock_guard lock(drain_mutex_);
    // A request that entered since may be in flight again: the next leave() will tell.
    if (in_flight.load(std::memory_order_acquire) > 0 || !on_drained_) return;
    then = std::move(on_drained_);
    on_drained_ = nullptr;
  }
  then();
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
