// Helpers of unit tests: run a coroutine to completion, find a test plugin library.
#pragma once

#include "util/run_sync.hpp"

#include <string>

namespace passerelle::test {

using passerelle::run_sync;

template <class T>
T run(boost::asio::awaitable<T> task) {
  return run_sync(std::move(task));
}

/// Path of a plugin library built for the tests, e.g. module("hello").
inline std::string module(const std::string& name) {
  return std::string(PASSERELLE_TEST_MODULES) + "/libpasserelle-" + name + ".so";
}

}  // namespace passerelle::test
