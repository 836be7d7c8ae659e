// Prints the cost of territory lookups over the full dataset: ns per lookup by INSEE code, by
// postal code, and per name search. usage: territories_bench DIR (JSON files of the package).
#include "territories/importer.hpp"
#include "territories/territory_index.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

template <class F>
double ns_per_op(std::size_t ops, F&& f) {
  const auto start = std::chrono::steady_clock::now();
  std::size_t sink = 0;
  for (std::size_t i = 0; i < ops; ++i) sink += f(i);
  const auto ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  if (sink == 42) std::puts("");  // keeps the work observable
  return ns / static_cast<double>(ops);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 64;
  }
  const auto t0 = std::chrono::steady_clock::now();
  passerelle::TerritoryData data = passerelle::read_territories(argv[1]);
  const auto t1 = std::chrono::steady_clock::now();
  std::vector<std::string> codes, postal, prefixes;
  for (const auto& c : data.communes) {
    codes.push_back(c.code);
    if (!c.postal_codes.empty()) postal.push_back(c.postal_codes.front());
    prefixes.push_back(passerelle::normalize_name(c.name).substr(0, 3));
  }
  passerelle::TerritoryIndex index(std::move(data));
  const auto t2 = std::chrono::steady_clock::now();
  std::mt19937 rng(7);
  std::shuffle(codes.begin(), codes.end(), rng);
  std::shuffle(postal.begin(), postal.end(), rng);
  std::shuffle(prefixes.begin(), prefixes.end(), rng);

  const std::size_t n = 1'000'000;
  const double by_code = ns_per_op(
      n, [&](std::size_t i) { return index.commune(codes[i % codes.size()]) != nullptr; });
  const double by_postal = ns_per_op(n, [&](std::size_t i) {
    return index.communes_by_postal_code(postal[i % postal.size()]).size();
  });
  const double chain = ns_per_op(n, [&](std::size_t i) {
    const auto* c = index.commune(codes[i % codes.size()]);
    return index.region(index.department(c->department)->region)->name.size();
  });
  const double search = ns_per_op(100'000, [&](std::size_t i) {
    return index.search(prefixes[i % prefixes.size()], 10).size();
  });
  const double search_1 = ns_per_op(20'000, [&](std::size_t i) {
    return index.search(std::string(1, "abcdefghlmprstv"[i % 15]), 10).size();
  });

  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::printf("territories: %zu communes; read JSON %.0f ms, build index %.0f ms\n",
              index.commune_count(), ms(t0, t1), ms(t1, t2));
  std::printf("  commune by INSEE code           %8.0f ns\n", by_code);
  std::printf("  communes by postal code         %8.0f ns\n", by_postal);
  std::printf("  commune -> department -> region %8.0f ns\n", chain);
  std::printf("  search, 3-letter prefix, top 10 %8.0f ns\n", search);
  std::printf("  search, 1-letter prefix, top 10 %8.0f ns\n", search_1);
  return 0;
}
