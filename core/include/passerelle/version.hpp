// What a plugin and the host must share before the host uses anything else of it: the ABI of
// the SDK headers and the build fingerprint.
#pragma once

#include "passerelle/abi.hpp"  // generated at build time: PASSERELLE_ABI_HASH

#include <boost/asio/detail/config.hpp>
#include <boost/version.hpp>

#include <string>

#define PASSERELLE_STRINGIFY_INNER(x) #x
#define PASSERELLE_STRINGIFY(x) PASSERELLE_STRINGIFY_INNER(x)

namespace passerelle {

/// The binary interface between host and plugins: a hash of the SDK headers' code (comments
/// and spacing left out), computed when the gateway is built and installed with the headers.
/// Any change of a type, a member or a virtual function of the SDK changes it.
#ifndef PASSERELLE_ABI_OVERRIDE
inline constexpr const char* kAbi = PASSERELLE_ABI_HASH;
#else
inline constexpr const char* kAbi = PASSERELLE_ABI_OVERRIDE;  // tests of the loader only
#endif

/// Human-readable version of the SDK headers.
inline constexpr const char* kSdkVersion = "0.8.0";

// The compiler and its version.
#if defined(__clang__)
#define PASSERELLE_FP_COMPILER "clang-" __clang_version__
#elif defined(__GNUC__)
#define PASSERELLE_FP_COMPILER "gcc-" __VERSION__
#else
#define PASSERELLE_FP_COMPILER "unknown-compiler"
#endif
// The C++ standard library and its ABI (the layout of std::string, std::list...).
#if defined(_GLIBCXX_RELEASE)
#define PASSERELLE_FP_STDLIB                                                     \
  ";libstdc++-" PASSERELLE_STRINGIFY(_GLIBCXX_RELEASE) "-" PASSERELLE_STRINGIFY( \
      __GLIBCXX__) ";cxx11-abi-" PASSERELLE_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#elif defined(_LIBCPP_VERSION)
#define PASSERELLE_FP_STDLIB ";libc++-" PASSERELLE_STRINGIFY(_LIBCPP_VERSION)
#else
#define PASSERELLE_FP_STDLIB ";unknown-stdlib"
#endif
#if defined(_GLIBCXX_DEBUG)
#define PASSERELLE_FP_DEBUG ";debug-containers"
#else
#define PASSERELLE_FP_DEBUG ""
#endif
// How Asio is configured where it shapes what host and plugin share: the per-thread cache of
// recycled blocks (I/O handlers), where coroutine frames come from, the I/O backend behind the
// executors, threads.
#ifdef BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE
#define PASSERELLE_FP_ASIO_CACHE PASSERELLE_STRINGIFY(BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE)
#else
#define PASSERELLE_FP_ASIO_CACHE "default"
#endif
#ifdef BOOST_ASIO_DISABLE_AWAITABLE_FRAME_RECYCLING
#define PASSERELLE_FP_ASIO_FRAMES "malloc"
#else
#define PASSERELLE_FP_ASIO_FRAMES "recycled"
#endif
#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#define PASSERELLE_FP_ASIO_BACKEND "io_uring"
#elif defined(BOOST_ASIO_HAS_EPOLL)
#define PASSERELLE_FP_ASIO_BACKEND "epoll"
#else
#define PASSERELLE_FP_ASIO_BACKEND "select"
#endif
#if defined(BOOST_ASIO_HAS_THREADS)
#define PASSERELLE_FP_ASIO_THREADS "threads"
#else
#define PASSERELLE_FP_ASIO_THREADS "no-threads"
#endif

#ifndef PASSERELLE_FINGERPRINT_OVERRIDE
/// Build fingerprint: everything that must match for host and plugin to exchange C++ objects
/// (std::string, Boost.JSON values, coroutine frames): compiler and version, C++ standard,
/// standard library and its ABI, Boost version, Asio's configuration, SDK version.
inline constexpr const char* kBuildFingerprint = PASSERELLE_FP_COMPILER
    ";c++" PASSERELLE_STRINGIFY(__cplusplus) PASSERELLE_FP_STDLIB PASSERELLE_FP_DEBUG
    ";boost-" PASSERELLE_STRINGIFY(BOOST_VERSION) ";asio-cache-" PASSERELLE_FP_ASIO_CACHE
                                                  ";asio-frames-" PASSERELLE_FP_ASIO_FRAMES
                                                  ";asio-" PASSERELLE_FP_ASIO_BACKEND
                                                  ";asio-" PASSERELLE_FP_ASIO_THREADS ";sdk-0.8.0";
#else
inline constexpr const char* kBuildFingerprint = PASSERELLE_FINGERPRINT_OVERRIDE;  // tests only
#endif

}  // namespace passerelle
