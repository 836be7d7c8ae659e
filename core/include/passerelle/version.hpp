// Versions that a plugin and the host must share before the host uses anything else of it.
#pragma once

#include <boost/version.hpp>

#include <string>

#define PASSERELLE_STRINGIFY_INNER(x) #x
#define PASSERELLE_STRINGIFY(x) PASSERELLE_STRINGIFY_INNER(x)

namespace passerelle {

/// Version of the binary interface between host and plugins. Raised whenever a type of the SDK
/// changes layout or a virtual function is added, removed or reordered.
#ifndef PASSERELLE_ABI_OVERRIDE
inline constexpr int kAbiVersion = 7;
#else
inline constexpr int kAbiVersion = PASSERELLE_ABI_OVERRIDE;  // tests of the loader only
#endif

/// Human-readable version of the SDK headers.
inline constexpr const char* kSdkVersion = "0.7.0";

#ifndef PASSERELLE_FINGERPRINT_OVERRIDE
/// Build fingerprint: compiler, Boost and SDK version, and the size of Asio's per-thread cache
/// of recycled blocks (part of that cache's layout). Host and plugin must agree exactly, since
/// they exchange C++ objects (std::string, Boost.JSON values, coroutine frames).
inline constexpr const char* kBuildFingerprint =
    "gcc-" __VERSION__ ";boost-" PASSERELLE_STRINGIFY(BOOST_VERSION) ";sdk-0.7.0"
#ifdef BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE
    ";asio-cache-" PASSERELLE_STRINGIFY(BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE)
#else
    ";asio-cache-default"
#endif
    ;
#else
inline constexpr const char* kBuildFingerprint = PASSERELLE_FINGERPRINT_OVERRIDE;  // tests only
#endif

}  // namespace passerelle
