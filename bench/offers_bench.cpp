// Prints the cost of the offers' eligibility matrix: a generated catalogue of 1,000 offers, each
// with its rule, evaluated against every commune (the package's 34,875 when DIR is given, else
// as many generated ones), on one core. Also counts the allocations made during the matrix.
// usage: offers_bench [DIR]
#include "rules.hpp"
#include "territories/importer.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

namespace {
std::atomic<std::size_t> allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  ++allocations;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace passerelle::plugins::offers;

namespace {

struct Commune {
  std::string code, region, department;
  std::int64_t population;
};

std::vector<Commune> communes_of(const char* dir) {
  std::vector<Commune> out;
  if (dir) {
    for (auto& c : passerelle::read_territories(dir).communes)
      out.push_back({c.code, c.region, c.department, c.population});
    return out;
  }
  // 34,875 generated: 101 departments in 18 regions, populations spread as France's are.
  std::mt19937 rng(11);
  std::lognormal_distribution<double> population(6.5, 1.3);
  for (int i = 0; i < 34'875; ++i) {
    const int dep = 1 + i % 95;
    char code[8];
    std::snprintf(code, sizeof code, "%02d%03d", dep, i / 95);
    char d[4], r[4];
    std::snprintf(d, sizeof d, "%02d", dep);
    std::snprintf(r, sizeof r, "%02d", 11 + dep % 18);
    out.push_back({code, r, d, static_cast<std::int64_t>(population(rng))});
  }
  return out;
}

// One generated rule: mostly a population bound and a place, sometimes a programme, a kind, a
// date window, an exclusion.
std::string rule_text(std::mt19937& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  std::vector<std::string> conditions;
  conditions.push_back("{population: {max: " + std::to_string(2000 + pick(60) * 1000) + "}}");
  if (pick(2) == 0)
    conditions.push_back("{region: [\"" + std::to_string(11 + pick(18)) + "\", \"" +
                         std::to_string(11 + pick(18)) + "\"]}");
  if (pick(3) == 0) {
    char d[4];
    std::snprintf(d, sizeof d, "%02d", 1 + pick(95));
    conditions.push_back(std::string("{any: [{department: [\"") + d + "\"]}, {programme: p" +
                         std::to_string(pick(8)) + "}]}");
  }
  if (pick(4) == 0) conditions.push_back("{kind: commune}");
  if (pick(4) == 0) conditions.push_back("{date: {from: 2024-01-01, until: 2027-12-31}}");
  if (pick(5) == 0) conditions.push_back("{not: {population: {max: 500}}}");
  std::string text = "{all: [";
  for (std::size_t i = 0; i < conditions.size(); ++i) text += (i ? ", " : "") + conditions[i];
  return text + "]}";
}

}  // namespace

int main(int argc, char** argv) {
  const auto communes = communes_of(argc > 1 ? argv[1] : nullptr);
  std::mt19937 rng(7);
  // Eight programmes of a tenth of the communes each.
  std::vector<std::unordered_set<std::string>> members(8);
  for (const auto& c : communes)
    for (auto& m : members)
      if (rng() % 10 == 0) m.insert(c.code);

  Rules rules;
  std::vector<int> ids;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i)
    ids.push_back(rules.compile(YAML::Load(rule_text(rng)), "eligibility",
                                [](const std::string& p) { return p.size() == 2 && p[0] == 'p'; }));
  const auto t1 = std::chrono::steady_clock::now();
  std::vector<Place> places;
  places.reserve(communes.size());
  for (const auto& c : communes)
    places.push_back(
        rules.place(false, c.population, c.region, c.department, [&](const std::string& p) {
          return members[static_cast<std::size_t>(p[1] - '0')].contains(c.code);
        }));
  const auto t2 = std::chrono::steady_clock::now();
  const std::int64_t today = days_of("2026-11-30");
  const std::size_t before = allocations.load();
  std::size_t eligible = 0;
  for (const int rule : ids)
    for (const Place& place : places) eligible += rules.eligible(rule, place, today);
  const auto t3 = std::chrono::steady_clock::now();
  const std::size_t allocated = allocations.load() - before;

  const double matrix = std::chrono::duration<double>(t3 - t2).count();
  const double evaluations = static_cast<double>(ids.size() * places.size());
  std::printf("offers: %zu rules compiled in %.1f ms; %zu %s communes made places in %.1f ms\n",
              ids.size(), std::chrono::duration<double, std::milli>(t1 - t0).count(), places.size(),
              argc > 1 ? "real" : "generated",
              std::chrono::duration<double, std::milli>(t2 - t1).count());
  std::printf(
      "matrix: %.0f evaluations in %.3f s on one core: %.1f million/s, %.1f ns each"
      "   (target: the whole matrix under 1 s)\n",
      evaluations, matrix, evaluations / matrix / 1e6, matrix * 1e9 / evaluations);
  std::printf("eligible pairs: %zu (%.1f %%); allocations during the matrix: %zu\n", eligible,
              100.0 * static_cast<double>(eligible) / evaluations, allocated);
  return 0;
}
