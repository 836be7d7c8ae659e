// Fuzzes the config loader on YAML text: a bad config must be a ConfigError (file:line:col),
// never another exception, a crash or a hang.
#include "config/config.hpp"
#include "config/config_error.hpp"

#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string file = "/etc/passerelle/passerelle.yaml";
  try {
    const passerelle::Config config = passerelle::load_config_text(text, file);
    FUZZ_CHECK(config.file == file);
  } catch (const passerelle::ConfigError& e) {
    // The one line main prints: it names the file first.
    FUZZ_CHECK(std::string(e.what()).rfind(file + ":", 0) == 0);
  }
  return 0;
}
