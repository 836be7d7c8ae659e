// The in-memory index of the divisions: hash maps by code, a postal code map, and a sorted list
// of name words for prefix search.
#pragma once

#include "passerelle/territories.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace passerelle {

/// Everything the importer reads and the store keeps.
struct TerritoryData {
  std::vector<Region> regions;
  std::vector<Department> departments;
  std::vector<Commune> communes;
  std::vector<Epci> epcis;
};

/// Lower case, accents removed, hyphens and apostrophes as spaces: "Saint-Barthélemy-d'Anjou"
/// -> "saint barthelemy d anjou".
std::string normalize_name(std::string_view name);

class TerritoryIndex final : public Territories {
 public:
  TerritoryIndex() = default;
  explicit TerritoryIndex(TerritoryData data);

  const Commune* commune(std::string_view insee) const override;
  std::vector<const Commune*> communes_by_postal_code(std::string_view postal_code) const override;
  std::vector<const Commune*> search(std::string_view query, std::size_t limit) const override;
  const Department* department(std::string_view code) const override;
  const Region* region(std::string_view code) const override;
  std::vector<const Department*> departments() const override;
  std::vector<const Region*> regions() const override;
  const Epci* epci(std::string_view siren) const override;

  std::size_t commune_count() const { return data_.communes.size(); }
  std::size_t epci_count() const { return data_.epcis.size(); }
  /// A hash of every value: equal for equal divisions.
  std::uint64_t fingerprint() const { return fingerprint_; }

 private:
  TerritoryData data_;
  std::uint64_t fingerprint_ = 0;
  std::unordered_map<std::string, std::size_t> commune_by_code_;
  std::unordered_map<std::string, std::size_t> department_by_code_;
  std::unordered_map<std::string, std::size_t> region_by_code_;
  std::unordered_map<std::string, std::size_t> epci_by_siren_;
  std::unordered_map<std::string, std::vector<std::size_t>> communes_by_postal_code_;
  // (normalized word or whole name, commune index), sorted: a prefix is a range.
  std::vector<std::pair<std::string, std::size_t>> words_;
  // Answers for the prefixes of one or two characters, whose ranges are long (computed once).
  static constexpr std::size_t kMemoLimit = 50;
  std::unordered_map<std::string, std::vector<std::size_t>> short_prefixes_;

  std::vector<std::size_t> best(std::string_view prefix, std::size_t limit) const;
  bool ranks_before(std::size_t a, std::size_t b) const;
};

/// The divisions as the gateway serves them: one index at a time, replaced whole when they are
/// imported again (publish()), read with one atomic load. An index replaced is kept
/// kRetiredFor more, so that the pointers handed out stay valid as the SDK promises (for the
/// call they were got in, and far beyond any deadline); the next publish() after that frees it.
class LiveTerritories final : public Territories {
 public:
  static constexpr std::chrono::minutes kRetiredFor{10};

  LiveTerritories() : current_(keep(std::make_unique<TerritoryIndex>())) {}

  /// From now on, `next` answers.
  void publish(std::unique_ptr<const TerritoryIndex> next) {
    current_.store(keep(std::move(next)), std::memory_order_release);
  }
  const TerritoryIndex& current() const { return *current_.load(std::memory_order_acquire); }

  const Commune* commune(std::string_view insee) const override { return current().commune(insee); }
  std::vector<const Commune*> communes_by_postal_code(std::string_view code) const override {
    return current().communes_by_postal_code(code);
  }
  std::vector<const Commune*> search(std::string_view query, std::size_t limit) const override {
    return current().search(query, limit);
  }
  const Department* department(std::string_view code) const override {
    return current().department(code);
  }
  const Region* region(std::string_view code) const override { return current().region(code); }
  std::vector<const Department*> departments() const override { return current().departments(); }
  std::vector<const Region*> regions() const override { return current().regions(); }
  const Epci* epci(std::string_view siren) const override { return current().epci(siren); }

 private:
  struct Kept {
    std::unique_ptr<const TerritoryIndex> index;
    std::chrono::steady_clock::time_point retired{};  // zero: the current one
  };

  const TerritoryIndex* keep(std::unique_ptr<const TerritoryIndex> index) {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(all_, [&](const Kept& k) {
      return k.retired != std::chrono::steady_clock::time_point{} && now - k.retired > kRetiredFor;
    });
    if (!all_.empty()) all_.back().retired = now;
    all_.push_back({std::move(index), {}});
    return all_.back().index.get();
  }

  std::mutex mutex_;       // publish() only
  std::vector<Kept> all_;  // the current one last
  std::atomic<const TerritoryIndex*> current_;
};

}  // namespace passerelle
