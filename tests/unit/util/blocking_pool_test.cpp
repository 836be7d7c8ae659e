// The blocking pool's bounded jobs: refused at once when the limit is reached, admitted again
// once a job ends, whatever way it ends.
#include "util/blocking_pool.hpp"

#include "support/run.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <future>

using namespace passerelle;

namespace {

// A job that blocks its pool thread until the test opens the gate.
struct Gate {
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
};

Task<int> limited(BlockingPool& pool, JobLimit& limit, std::shared_future<void> gate, int value) {
  auto job = [gate, value] {
    gate.wait();
    return value;
  };
  co_return co_await pool.run_limited(limit, std::move(job));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(blocking_pool)

BOOST_AUTO_TEST_CASE(a_full_limit_refuses_at_once_instead_of_queueing) {
  BlockingPool pool(1);
  JobLimit limit(2);
  Gate gate;
  boost::asio::io_context ioc;
  // Two jobs admitted: one runs (blocked), one waits in the pool's queue.
  auto first =
      boost::asio::co_spawn(ioc, limited(pool, limit, gate.opened, 1), boost::asio::use_future);
  auto second =
      boost::asio::co_spawn(ioc, limited(pool, limit, gate.opened, 2), boost::asio::use_future);
  auto third =
      boost::asio::co_spawn(ioc, limited(pool, limit, gate.opened, 3), boost::asio::use_future);
  std::thread io([&ioc] {
    auto guard = boost::asio::make_work_guard(ioc);
    ioc.run_for(std::chrono::seconds(30));
  });
  // The third is refused without waiting for the gate: its future is ready while the others
  // are still blocked.
  BOOST_TEST_REQUIRE((third.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
  BOOST_CHECK_THROW(third.get(), PoolFull);
  BOOST_TEST(limit.pending() == 2u);
  BOOST_TEST((first.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout));
  gate.open.set_value();
  BOOST_TEST(first.get() == 1);
  BOOST_TEST(second.get() == 2);
  ioc.stop();
  io.join();
  BOOST_TEST(limit.pending() == 0u);
  // Room again once the jobs ended.
  BOOST_TEST(test::run(limited(pool, limit, gate.opened, 4)) == 4);
}

BOOST_AUTO_TEST_CASE(a_caller_cancelled_while_its_job_runs_does_not_end_the_process) {
  // What a handler's deadline does: the job cannot stop, the caller is told to. Boost 1.81's
  // co_spawn then threw out of the pool thread once the job ended (std::terminate).
  // Two threads: the cancellation reaches the job's side while the job runs.
  BlockingPool pool(2);
  JobLimit limit(1);
  Gate gate;
  std::promise<void> started;
  auto job = [&started, opened = gate.opened] {
    started.set_value();
    opened.wait();
    return 1;
  };
  boost::asio::io_context ioc;
  boost::asio::cancellation_signal deadline;
  bool ended = false;
  auto done = [&](std::exception_ptr, int) { ended = true; };
  boost::asio::co_spawn(ioc, pool.run_limited(limit, std::move(job)),
                        boost::asio::bind_cancellation_slot(deadline.slot(), done));
  ioc.poll();
  started.get_future().wait();
  deadline.emit(boost::asio::cancellation_type::all);
  // Runs on the idle thread after the cancellation was delivered there.
  auto marker = [] { return 0; };
  BOOST_TEST(test::run(pool.run(std::move(marker))) == 0);
  gate.open.set_value();
  ioc.run();  // until the caller has ended: the job's completion keeps it busy
  BOOST_TEST(ended);
  BOOST_TEST(limit.pending() == 0u);
}

BOOST_AUTO_TEST_CASE(a_job_that_throws_gives_its_place_back) {
  BlockingPool pool(1);
  JobLimit limit(1);
  auto failing = [] { return std::stoi("not a number"); };
  BOOST_CHECK_THROW(test::run(pool.run_limited(limit, std::move(failing))), std::invalid_argument);
  BOOST_TEST(limit.pending() == 0u);
  auto fine = [] { return 7; };
  BOOST_TEST(test::run(pool.run_limited(limit, std::move(fine))) == 7);
}

BOOST_AUTO_TEST_SUITE_END()
