// Runs one awaitable to completion on a private io_context (unit tests only).
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace passerelle::test {

template <class T>
T run(boost::asio::awaitable<T> task) {
  boost::asio::io_context ioc;
  auto future = boost::asio::co_spawn(ioc, std::move(task), boost::asio::use_future);
  ioc.run();
  return future.get();
}

/// Path of a plugin library built for the tests, e.g. module("hello").
inline std::string module(const std::string& name) {
  return std::string(PASSERELLE_TEST_MODULES) + "/libpasserelle-" + name + ".so";
}

}  // namespace passerelle::test
