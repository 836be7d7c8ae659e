// Store round trips from an I/O thread: queries per second and context switches per query,
// with and without the prepared-statement cache. Prints figures, asserts nothing.
#include "store/sqlite_store.hpp"
#include "util/run_sync.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

namespace {

using namespace passerelle;

long context_switches() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_nvcsw + usage.ru_nivcsw;
}

// `count` queries one after the other, as a handler does, from one io_context thread.
boost::asio::awaitable<void> queries(SqliteStore& store, int count) {
  for (int i = 0; i < count; ++i) {
    Statement st{"SELECT v FROM t WHERE k = ?1", {std::int64_t{i % 100}}};
    co_await store.query(std::move(st));
  }
}

void measure(const std::string& path, std::size_t cached, int count) {
  SqliteStore store(path, 2, std::chrono::seconds(30), cached);
  boost::asio::io_context ioc(1);
  boost::asio::co_spawn(ioc, queries(store, 1000), boost::asio::detached);  // warm-up
  ioc.run();
  ioc.restart();
  const long switches = context_switches();
  const auto start = std::chrono::steady_clock::now();
  boost::asio::co_spawn(ioc, queries(store, count), boost::asio::detached);
  ioc.run();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  const auto stats = store.statement_cache_stats();
  std::printf(
      "statement_cache=%-3zu %8.0f queries/s  %5.2f context switches/query  "
      "(prepares %llu, hits %llu)\n",
      cached, count / took.count(), static_cast<double>(context_switches() - switches) / count,
      static_cast<unsigned long long>(stats.prepares), static_cast<unsigned long long>(stats.hits));
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::stoi(argv[1]) : 20000;
  const auto dir = std::filesystem::temp_directory_path() / "passerelle-store-bench";
  std::filesystem::remove_all(dir);
  const std::string path = (dir / "db.sqlite").string();
  {
    SqliteStore store(path, 1);
    run_sync(store.query({"CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)", {}}));
    run_sync(
        store.query({"WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n"
                     " WHERE k < 99) INSERT INTO t SELECT k, 'v' || k FROM n",
                     {}}));
  }
  measure(path, 0, count);
  measure(path, SqliteStore::kDefaultCachedStatements, count);
  std::filesystem::remove_all(dir);
}
