// The coroutine type of every asynchronous call between the host and a plugin.
#pragma once

#include <boost/asio/awaitable.hpp>

namespace passerelle {

/// An asynchronous computation producing a T; `co_await` it from another Task.
template <class T>
using Task = boost::asio::awaitable<T>;

}  // namespace passerelle
