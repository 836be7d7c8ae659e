// The plugins' asynchronous mutex: first come first served, and a waiter cancelled at its
// deadline (a 504) neither takes the mutex later nor leaves it locked.
#include "passerelle/async_mutex.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

using namespace passerelle;

namespace {

// Takes the mutex, notes its turn, and holds the mutex until `release` is set.
struct Waiter {
  std::optional<AsyncMutex::Lock> lock;
  bool failed = false;
  bool ended = false;
};

Task<void> take(AsyncMutex& mutex, Waiter& w, std::vector<std::string>& order, std::string name) {
  try {
    AsyncMutex::Lock lock = co_await mutex.lock();
    order.push_back(name);
    w.lock.emplace(std::move(lock));
  } catch (const boost::system::system_error&) {
    w.failed = true;
  }
  w.ended = true;
}

void spawn(boost::asio::io_context& ioc, Task<void> task,
           boost::asio::cancellation_signal* cancel = nullptr) {
  auto ignore = [](std::exception_ptr) {};
  if (cancel)
    boost::asio::co_spawn(ioc, std::move(task),
                          boost::asio::bind_cancellation_slot(cancel->slot(), ignore));
  else
    boost::asio::co_spawn(ioc, std::move(task), ignore);
}

// The mutex completes its waiters through the system executor's threads: runs `ioc` until
// `done` holds (bounded, so that a lost wake-up fails the test instead of hanging it).
template <class P>
bool run_until(boost::asio::io_context& ioc, P done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done() && std::chrono::steady_clock::now() < give_up) {
    ioc.restart();
    ioc.run_one_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(async_mutex)

BOOST_AUTO_TEST_CASE(waiters_take_turns_in_order) {
  boost::asio::io_context ioc;
  AsyncMutex mutex;
  std::vector<std::string> order;
  Waiter a, b, c;
  spawn(ioc, take(mutex, a, order, "a"));
  BOOST_TEST_REQUIRE(run_until(ioc, [&] { return a.ended; }));
  spawn(ioc, take(mutex, b, order, "b"));
  ioc.poll();
  spawn(ioc, take(mutex, c, order, "c"));
  ioc.poll();
  a.lock.reset();
  BOOST_TEST_REQUIRE(run_until(ioc, [&] { return b.ended; }));
  BOOST_TEST(!c.ended);
  b.lock.reset();
  BOOST_TEST_REQUIRE(run_until(ioc, [&] { return c.ended; }));
  BOOST_TEST((order == std::vector<std::string>{"a", "b", "c"}));
}

BOOST_AUTO_TEST_CASE(a_cancelled_waiter_leaves_its_place_and_the_mutex_free) {
  boost::asio::io_context ioc;
  AsyncMutex mutex;
  std::vector<std::string> order;
  Waiter holder, cancelled, next;
  boost::asio::cancellation_signal deadline;
  spawn(ioc, take(mutex, holder, order, "holder"));
  BOOST_TEST_REQUIRE(run_until(ioc, [&] { return holder.ended; }));
  spawn(ioc, take(mutex, cancelled, order, "cancelled"), &deadline);
  ioc.poll();
  spawn(ioc, take(mutex, next, order, "next"));
  ioc.poll();
  // What the dispatcher does at a handler's deadline.
  deadline.emit(boost::asio::cancellation_type::all);
  BOOST_TEST_REQUIRE(run_until(ioc, [&] { return cancelled.ended; }));
  BOOST_TEST(cancelled.failed);
  holder.lock.reset();
  BOOST_TEST_REQUIRE(run_until(ioc, [&] { return next.ended; }));
  BOOST_TEST((order == std::vector<std::string>{"holder", "next"}));
  next.lock.reset();
  // Free again: a newcomer gets it.
  Waiter late;
  spawn(ioc, take(mutex, late, order, "late"));
  BOOST_TEST_REQUIRE(run_until(ioc, [&] { return late.ended; }));
  BOOST_TEST(!late.failed);
}

BOOST_AUTO_TEST_CASE(a_waiter_cancelled_as_its_turn_comes_does_not_keep_the_mutex) {
  // The holder leaves and the next waiter's deadline passes before that waiter resumes:
  // whichever wins, the mutex must not stay taken by nobody.
  for (int round = 0; round < 200; ++round) {
    boost::asio::io_context ioc;
    AsyncMutex mutex;
    std::vector<std::string> order;
    Waiter holder, racing;
    boost::asio::cancellation_signal deadline;
    spawn(ioc, take(mutex, holder, order, "holder"));
    BOOST_TEST_REQUIRE(run_until(ioc, [&] { return holder.ended; }));
    spawn(ioc, take(mutex, racing, order, "racing"), &deadline);
    ioc.poll();
    holder.lock.reset();  // hands the turn to `racing`
    deadline.emit(boost::asio::cancellation_type::all);
    BOOST_TEST_REQUIRE(run_until(ioc, [&] { return racing.ended; }));
    racing.lock.reset();
    Waiter late;
    spawn(ioc, take(mutex, late, order, "late"));
    BOOST_TEST_REQUIRE(run_until(ioc, [&] { return late.ended; }), "round " << round);
    late.lock.reset();
  }
}

BOOST_AUTO_TEST_SUITE_END()
