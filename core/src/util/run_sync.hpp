// Runs one coroutine to completion on a private io_context, for start-up steps, admin commands
// and tests: never from an I/O thread.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace passerelle {

template <class T>
T run_sync(boost::asio::awaitable<T> task) {
  boost::asio::io_context ioc;
  auto future = boost::asio::co_spawn(ioc, std::move(task), boost::asio::use_future);
  ioc.run();
  return future.get();
}

}  // namespace passerelle
