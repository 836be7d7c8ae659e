// Loading a plugin: every refusal is one line naming the file and the values that differ.
#include "plugins/loaded_plugin.hpp"

#include "auth/crypto.hpp"
#include "plugins/elf_check.hpp"
#include "plugins/plugin_services.hpp"
#include "util/clock.hpp"

#include <boost/dll/shared_library.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace passerelle {

namespace {
// A folder of this process only (0700), made once, for the copies plugins are loaded from.
// A folder of its own (0700) for the copy a plugin is loaded from, and the copy's name in it,
// never used before in this process (dlopen knows a library by its name).
std::pair<std::string, std::string> private_copy_path(const std::string& original) {
  static std::atomic<std::uint64_t> serial{0};
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/passerelle-plugin-XXXXXX";
  if (!::mkdtemp(dir.data())) throw PluginError("no private folder for a plugin's copy");
  std::string file = dir + "/" + std::to_string(++serial) + "-" +
                     std::filesystem::path(original).filename().string();
  return {std::move(dir), std::move(file)};
}
}  // namespace

std::shared_ptr<LoadedPlugin> LoadedPlugin::load(const std::string& path) {
  auto fail = [&](const std::string& why) {
    return PluginError("plugin library " + path + ": " + why);
  };
  if (!std::filesystem::exists(path)) throw fail("no such file");
  // Read once, then loaded from a private copy: what is checked, hashed and run are the same
  // bytes (the file may change meanwhile), and a new file at the same path is really loaded
  // anew (dlopen of a name already open gives the library already there).
  std::string bytes;
  {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw fail("cannot be read");
    bytes.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    if (!file.good() && !file.eof()) throw fail("cannot be read");
  }
  const auto [folder, copy] = private_copy_path(path);
  {
    const int fd = ::open(copy.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
    if (fd < 0) {
      ::rmdir(folder.c_str());
      throw fail("its private copy could not be made");
    }
    std::size_t written = 0;
    while (written < bytes.size()) {
      const auto n = ::write(fd, bytes.data() + written, bytes.size() - written);
      if (n <= 0) break;
      written += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (written != bytes.size()) {
      ::unlink(copy.c_str());
      ::rmdir(folder.c_str());
      throw fail("its private copy could not be written");
    }
  }
  struct Unlink {  // mapped once loaded (or refused): the copy and its folder go
    std::string file, folder;
    ~Unlink() {
      ::unlink(file.c_str());
      ::rmdir(folder.c_str());
    }
  } unlink_copy{copy, folder};
  if (auto bad = check_elf(copy)) throw fail(*bad);

  auto lib = std::make_unique<boost::dll::shared_library>();
  try {
    // RTLD_NOW: fail here on a missing symbol, not in the middle of a request.
    lib->load(copy, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    throw fail(std::string("cannot be loaded: ") + e.what());
  }
  if (lib->has("passerelle_abi_version") && !lib->has("passerelle_abi"))
    throw fail("was built against an SDK older than 0.8 (no passerelle_abi): rebuild it");
  if (!lib->has("passerelle_abi") || !lib->has("passerelle_build_fingerprint"))
    throw fail("not a Passerelle plugin (no passerelle_abi/passerelle_build_fingerprint)");
  const std::string abi = lib->get<const char*()>("passerelle_abi")();
  if (abi != kAbi)
    throw fail("ABI " + abi + " instead of " + kAbi + " (rebuild it against this gateway's SDK)");
  const std::string fingerprint = lib->get<const char*()>("passerelle_build_fingerprint")();
  if (fingerprint != kBuildFingerprint)
    throw fail("is not binary compatible: built as \"" + fingerprint + "\", the host is \"" +
               kBuildFingerprint + "\"");
  if (!lib->has("passerelle_create_plugin"))
    throw fail("does not export the factory passerelle_create_plugin (PASSERELLE_PLUGIN missing?)");

  std::shared_ptr<LoadedPlugin> loaded(new LoadedPlugin());
  loaded->path_ = path;
  loaded->sha256_ = auth::sha256_hex(bytes);
  loaded->loaded_from_ = copy;
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

std::shared_ptr<LoadedPlugin> LoadedPlugin::builtin(std::unique_ptr<Plugin> plugin,
                                                    std::string label) {
  std::shared_ptr<LoadedPlugin> loaded(new LoadedPlugin());
  loaded->path_ = std::move(label);
  loaded->loaded_at_ = unix_seconds();
  loaded->plugin_ = std::move(plugin);
  loaded->info_ = loaded->plugin_->info();
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
