// Libraries the loader must refuse, one per compile definition:
//   VARIANT_BAD_ABI / VARIANT_BAD_FINGERPRINT: a plugin built against another SDK;
//   VARIANT_NO_FACTORY: versions exported, no factory; VARIANT_NOT_PLUGIN: any other library;
//   VARIANT_OLD_SDK: a plugin of an SDK before 0.8 (an integer ABI version).
#include "passerelle/sdk.hpp"

#if defined(VARIANT_NOT_PLUGIN)
extern "C" PASSERELLE_SDK_API int some_library_function() { return 42; }
#elif defined(VARIANT_OLD_SDK)
extern "C" PASSERELLE_SDK_API int passerelle_abi_version() { return 7; }
#elif defined(VARIANT_NO_FACTORY)
extern "C" PASSERELLE_SDK_API const char* passerelle_abi() { return passerelle::kAbi; }
extern "C" PASSERELLE_SDK_API const char* passerelle_build_fingerprint() {
  return passerelle::kBuildFingerprint;
}
#else
namespace variant {
class VariantPlugin final : public passerelle::Plugin {
 public:
  passerelle::PluginInfo info() const override { return {"variant", "0.0.1", "Refused (tests)."}; }
  passerelle::Task<void> start(passerelle::Host&) override { co_return; }
  std::vector<passerelle::Route> routes() override { return {}; }
};
}  // namespace variant
PASSERELLE_PLUGIN(variant::VariantPlugin)
#endif
