// Export macros: what a plugin's library shows the host (everything else stays hidden).
#pragma once

#include "passerelle/version.hpp"

#include <boost/dll/alias.hpp>

#include <memory>

/// Marks a class or function seen across the host/plugin boundary (plugins build with hidden
/// visibility): every SDK interface, and a plugin's own Service interfaces.
#define PASSERELLE_SDK_API __attribute__((visibility("default")))

/// Exports the plugin class `Type` (default-constructible) with the SDK's ABI hash and the build
/// fingerprint, which the host checks before anything else. Use once, at namespace scope, in
/// one .cpp of the plugin.
#define PASSERELLE_PLUGIN(Type)                                                             \
  extern "C" PASSERELLE_SDK_API const char* passerelle_abi() { return ::passerelle::kAbi; } \
  extern "C" PASSERELLE_SDK_API const char* passerelle_build_fingerprint() {                \
    return ::passerelle::kBuildFingerprint;                                                 \
  }                                                                                         \
  namespace passerelle_export {                                                             \
  inline std::unique_ptr<::passerelle::Plugin> create_plugin() {                            \
    return std::make_unique<Type>();                                                        \
  }                                                                                         \
  }                                                                                         \
  BOOST_DLL_ALIAS(passerelle_export::create_plugin, passerelle_create_plugin)
