// Prefix search over name words: binary search for the range, then the largest communes first.
#include "territories/territory_index.hpp"

#include <algorithm>

namespace passerelle {

namespace {

// Latin letters with diacritics used in French place names (UTF-8, two bytes, C3 xx / C5 xx).
char fold_c3(unsigned char second) {
  static const char* kFold =  // for U+00C0 .. U+00FF
      "aaaaaaaceeeeiiii"      // C0-CF
      "dnooooo ouuuuy s"      // D0-DF (D7 is ×, DF is ß)
      "aaaaaaaceeeeiiii"      // E0-EF
      "dnooooo ouuuuy y";     // F0-FF (F7 is ÷)
  if (second < 0x80 || second > 0xBF) return 0;
  const char c = kFold[second - 0x80];
  return c == ' ' ? 0 : c;
}

}  // namespace

std::string normalize_name(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const unsigned char c = in[i];
    if (c < 0x80) {
      if (std::isalnum(c))
        out += static_cast<char>(std::tolower(c));
      else if (!out.empty() && out.back() != ' ')
        out += ' ';  // - ' . , and spaces
      continue;
    }
    if (c == 0xC3 && i + 1 < in.size()) {
      if (char f = fold_c3(static_cast<unsigned char>(in[i + 1]))) out += f;
      ++i;
    } else if (c == 0xC5 && i + 1 < in.size() && (in[i + 1] == '\x92' || in[i + 1] == '\x93')) {
      out += "oe";  // Œ œ
      ++i;
    } else if (c == 0xE2 && i + 2 < in.size() && in[i + 1] == '\x80' &&
               (in[i + 2] == '\x99' || in[i + 2] == '\x98')) {
      if (!out.empty() && out.back() != ' ') out += ' ';  // typographic apostrophe
      i += 2;
    } else {
      out += static_cast<char>(c);  // anything else is kept as bytes
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

namespace {
// FNV-1a over every field, each followed by a separator byte.
struct Fnv {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  void add(std::string_view s) {
    for (const unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
    h = (h ^ 0x1f) * 0x100000001b3ULL;
  }
};
}  // namespace

TerritoryIndex::TerritoryIndex(TerritoryData data) : data_(std::move(data)) {
  Fnv f;
  for (const auto& r : data_.regions) {
    f.add(r.code);
    f.add(r.name);
  }
  for (const auto& d : data_.departments) {
    f.add(d.code);
    f.add(d.name);
    f.add(d.region);
  }
  for (const auto& c : data_.communes) {
    for (const auto* field : {&c.code, &c.name, &c.department, &c.region, &c.epci}) f.add(*field);
    f.add(std::to_string(c.population));
    for (const auto& pc : c.postal_codes) f.add(pc);
  }
  for (const auto& e : data_.epcis) {
    for (const auto* field : {&e.siren, &e.name, &e.type}) f.add(*field);
    f.add(std::to_string(e.population));
  }
  fingerprint_ = f.h;
  for (std::size_t i = 0; i < data_.regions.size(); ++i) region_by_code_[data_.regions[i].code] = i;
  for (std::size_t i = 0; i < data_.epcis.size(); ++i) epci_by_siren_[data_.epcis[i].siren] = i;
  // An EPCI's department and region: those of its most populous member.
  std::unordered_map<std::size_t, std::int64_t> largest;
  for (const auto& c : data_.communes) {
    const auto it = epci_by_siren_.find(c.epci);
    if (it == epci_by_siren_.end()) continue;
    auto [seen, added] = largest.emplace(it->second, c.population);
    if (!added && seen->second >= c.population) continue;
    seen->second = c.population;
    data_.epcis[it->second].department = c.department;
    data_.epcis[it->second].region = c.region;
  }
  for (std::size_t i = 0; i < data_.departments.size(); ++i)
    department_by_code_[data_.departments[i].code] = i;
  for (std::size_t i = 0; i < data_.communes.size(); ++i) {
    const Commune& c = data_.communes[i];
    commune_by_code_[c.code] = i;
    for (const auto& pc : c.postal_codes) communes_by_postal_code_[pc].push_back(i);
    const std::string name = normalize_name(c.name);
    words_.emplace_back(name, i);  // the whole name: "saint b" finds "Saint-Barthélemy"
    for (std::size_t pos = name.find(' '); pos != std::string::npos; pos = name.find(' ', pos + 1))
      words_.emplace_back(name.substr(pos + 1), i);  // every word start: "barth" too
  }
  std::sort(words_.begin(), words_.end());
  for (const auto& [word, i] : words_)
    for (std::size_t n = 1; n <= 2 && n <= word.size(); ++n) {
      const std::string prefix = word.substr(0, n);
      if (!short_prefixes_.count(prefix)) short_prefixes_[prefix] = best(prefix, kMemoLimit);
    }
  auto by_population = [this](std::size_t a, std::size_t b) {
    return data_.communes[a].population > data_.communes[b].population;
  };
  for (auto& [pc, list] : communes_by_postal_code_)
    std::sort(list.begin(), list.end(), by_population);
}

const Commune* TerritoryIndex::commune(std::string_view insee) const {
  auto it = commune_by_code_.find(std::string(insee));
  return it == commune_by_code_.end() ? nullptr : &data_.communes[it->second];
}

std::vector<const Commune*> TerritoryIndex::communes_by_postal_code(std::string_view pc) const {
  std::vector<const Commune*> out;
  auto it = communes_by_postal_code_.find(std::string(pc));
  if (it != communes_by_postal_code_.end())
    for (auto i : it->second) out.push_back(&data_.communes[i]);
  return out;
}

bool TerritoryIndex::ranks_before(std::size_t a, std::size_t b) const {
  const Commune& ca = data_.communes[a];
  const Commune& cb = data_.communes[b];
  if (ca.population != cb.population) return ca.population > cb.population;
  return ca.code < cb.code;
}

// The `limit` best communes having a word that starts with `prefix`, in one pass over the
// range and without allocating per hit: a small sorted list of the best so far.
std::vector<std::size_t> TerritoryIndex::best(std::string_view prefix, std::size_t limit) const {
  std::vector<std::size_t> top;
  top.reserve(limit + 1);
  auto it = std::lower_bound(
      words_.begin(), words_.end(), prefix,
      [](const auto& entry, std::string_view key) { return std::string_view(entry.first) < key; });
  for (; it != words_.end() && std::string_view(it->first).substr(0, prefix.size()) == prefix;
       ++it) {
    const std::size_t i = it->second;
    if (top.size() == limit && !ranks_before(i, top.back())) continue;
    if (std::find(top.begin(), top.end(), i) != top.end())
      continue;  // another word of the same name
    top.insert(
        std::upper_bound(top.begin(), top.end(), i,
                         [this](std::size_t a, std::size_t b) { return ranks_before(a, b); }),
        i);
    if (top.size() > limit) top.pop_back();
  }
  return top;
}

std::vector<const Commune*> TerritoryIndex::search(std::string_view query,
                                                   std::size_t limit) const {
  const std::string q = normalize_name(query);
  std::vector<const Commune*> out;
  if (q.empty() || limit == 0) return out;
  std::vector<std::size_t> hits;
  if (auto memo = short_prefixes_.find(q); memo != short_prefixes_.end() && limit <= kMemoLimit) {
    hits.assign(memo->second.begin(), memo->second.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                                 limit, memo->second.size())));
  } else {
    hits = best(q, limit);
  }
  for (std::size_t i : hits) out.push_back(&data_.communes[i]);
  return out;
}

const Department* TerritoryIndex::department(std::string_view code) const {
  auto it = department_by_code_.find(std::string(code));
  return it == department_by_code_.end() ? nullptr : &data_.departments[it->second];
}

const Epci* TerritoryIndex::epci(std::string_view siren) const {
  auto it = epci_by_siren_.find(std::string(siren));
  return it == epci_by_siren_.end() ? nullptr : &data_.epcis[it->second];
}

const Region* TerritoryIndex::region(std::string_view code) const {
  auto it = region_by_code_.find(std::string(code));
  return it == region_by_code_.end() ? nullptr : &data_.regions[it->second];
}

std::vector<const Department*> TerritoryIndex::departments() const {
  std::vector<const Department*> out;
  for (const auto& d : data_.departments) out.push_back(&d);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->code < b->code; });
  return out;
}

std::vector<const Region*> TerritoryIndex::regions() const {
  std::vector<const Region*> out;
  for (const auto& r : data_.regions) out.push_back(&r);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->code < b->code; });
  return out;
}

}  // namespace passerelle
