// Helpers of unit tests: run a coroutine to completion, find a test plugin library.
#pragma once

#include "util/run_sync.hpp"

#include <cstdlib>
#include <string>

namespace passerelle::test {

using passerelle::run_sync;

template <class T>
T run(boost::asio::awaitable<T> task) {
  return run_sync(std::move(task));
}

/// Path of a plugin library built for the tests, e.g. module("hello").
/// PASSERELLE_TEST_MODULES in the environment names another folder (an AddressSanitizer build).
inline std::string module(const std::string& name) {
  const char* other = std::getenv("PASSERELLE_TEST_MODULES");
  return std::string(other && *other ? other : PASSERELLE_TEST_MODULES) + "/libpasserelle-" + name +
         ".so";
}

}  // namespace passerelle::test
