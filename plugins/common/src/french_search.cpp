#include "french_search.hpp"

#include <libstemmer.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace passerelle::plugins::french {

namespace {

// French words are short; a "word" longer than this is no word (a URL, a hash): cut.
constexpr std::size_t kMaxWordBytes = 40;

// Lower case for ASCII and the Latin-1 letters French uses (À-Þ -> à-þ), other bytes kept.
void lower_into(std::string& out, std::string_view word) {
  for (std::size_t i = 0; i < word.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(word[i]);
    if (c == 0xC3 && i + 1 < word.size()) {
      unsigned char n = static_cast<unsigned char>(word[i + 1]);
      if (n >= 0x80 && n <= 0x9E && n != 0x97) n += 0x20;  // not ×
      out += static_cast<char>(c);
      out += static_cast<char>(n);
      ++i;
    } else if (c == 0xC5 && i + 1 < word.size() &&
               static_cast<unsigned char>(word[i + 1]) == 0x92) {
      out += "\xC5\x93";  // Œ -> œ
      ++i;
    } else {
      out += static_cast<char>(std::tolower(c));
    }
  }
}

// Accents off (à -> a, ç -> c, œ -> oe, ...); what is left outside [a-z0-9] goes.
std::string unaccent(std::string_view word) {
  std::string out;
  for (std::size_t i = 0; i < word.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(word[i]);
    if (c < 0x80) {
      if (std::isalnum(c)) out += static_cast<char>(c);
      continue;
    }
    if (c == 0xC3 && i + 1 < word.size()) {
      const unsigned char n = static_cast<unsigned char>(word[++i]);
      static const char kFolded[] = "aaaaaaaceeeeiiiidnooooo/ouuuuyty";  // 0xA0..0xBF
      if (n >= 0xA0 && n <= 0xBF && kFolded[n - 0xA0] != '/') out += kFolded[n - 0xA0];
      if (n == 0xA6) out += 'e';  // æ -> ae
      if (n == 0x9F) out += "ss";
    } else if (c == 0xC5 && i + 1 < word.size() &&
               static_cast<unsigned char>(word[i + 1]) == 0x93) {
      out += "oe";
      ++i;
    } else {
      while (i + 1 < word.size() && (static_cast<unsigned char>(word[i + 1]) & 0xC0) == 0x80) ++i;
    }
  }
  return out;
}

bool word_byte(unsigned char c) { return std::isalnum(c) || c >= 0x80; }

// The bytes of a character at text[i] that separates words though it is not ASCII, else 0:
// Latin-1's punctuation and spaces (U+00A0-U+00BF: no-break space, « », °…) and the general
// punctuation block (U+2000-U+206F: thin and narrow no-break spaces, dashes, ’ ‘ “ ”, …), which
// French typography puts between and around words ("l’instruction", "délai » suivant").
std::size_t separator_at(std::string_view text, std::size_t i) {
  const auto at = [&](std::size_t k) {
    return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0;
  };
  if (at(0) == 0xC2 && at(1) >= 0xA0 && at(1) <= 0xBF) return 2;
  if (at(0) == 0xE2 && (at(1) == 0x80 || (at(1) == 0x81 && at(2) <= 0xAF)) && at(2) >= 0x80)
    return 3;
  return 0;
}

// French words too common to tell articles apart (a query of them would match everything).
bool stopword(std::string_view lower) {
  static const auto kWords = [] {
    std::array<std::string_view, 74> words = {
        "le",   "la",   "les",   "l",     "de",       "des",  "du",        "d",      "un",
        "une",  "et",   "en",    "a",     "\xc3\xa0", "au",   "aux",       "pour",   "par",
        "sur",  "dans", "avec",  "ce",    "ces",      "cet",  "cette",     "qui",    "que",
        "qu",   "quoi", "est",   "sont",  "ont",      "il",   "elle",      "ils",    "elles",
        "on",   "nous", "vous",  "leur",  "leurs",    "son",  "sa",        "ses",    "se",
        "s",    "ne",   "n",     "pas",   "plus",     "ou",   "o\xc3\xb9", "mais",   "donc",
        "ni",   "car",  "y",     "c",     "j",        "m",    "t",         "lui",    "eux",
        "sans", "sous", "entre", "comme", "tout",     "tous", "toute",     "toutes", "the",
        "of",   "and"};
    std::sort(words.begin(), words.end());
    return words;
  }();
  return lower.size() <= 6 && std::binary_search(kWords.begin(), kWords.end(), lower);
}

// Calls `each(lower-case word)` for each word of `text` (cut at kMaxWordBytes).
template <class Each>
void each_word(std::string_view text, Each each) {
  std::string lower;
  for (std::size_t i = 0; i < text.size();) {
    while (i < text.size() &&
           (!word_byte(static_cast<unsigned char>(text[i])) || separator_at(text, i) != 0))
      i += std::max<std::size_t>(1, separator_at(text, i));
    std::size_t j = i;
    while (j < text.size() && word_byte(static_cast<unsigned char>(text[j])) &&
           separator_at(text, j) == 0)
      ++j;
    if (j == i) break;
    std::string_view word = text.substr(i, std::min(j - i, kMaxWordBytes));
    while (!word.empty() && (static_cast<unsigned char>(word.back()) & 0xC0) == 0x80 &&
           j - i > kMaxWordBytes)
      word.remove_suffix(1);  // not in the middle of a character
    i = j;
    lower.clear();
    lower_into(lower, word);
    if (!each(lower)) break;
  }
}

// Words remembered by a TermMaker; past this, it starts again (a feed of random words cannot
// make it grow without end).
constexpr std::size_t kMaxRemembered = 50'000;

}  // namespace

void TermMaker::StemmerFree::operator()(sb_stemmer* s) const { sb_stemmer_delete(s); }

TermMaker::TermMaker() : stemmer_(sb_stemmer_new("french", "UTF_8")) {}

TermMaker::~TermMaker() = default;

std::string TermMaker::term_of(const std::string& lower) {
  if (stopword(lower)) return {};
  const sb_symbol* stem =
      stemmer_ ? sb_stemmer_stem(stemmer_.get(), reinterpret_cast<const sb_symbol*>(lower.data()),
                                 static_cast<int>(lower.size()))
               : nullptr;
  return stem ? unaccent(
                    std::string_view(reinterpret_cast<const char*>(stem),
                                     static_cast<std::size_t>(sb_stemmer_length(stemmer_.get()))))
              : unaccent(lower);
}

const std::string& TermMaker::indexed_of(const std::string& lower) {
  if (auto found = seen_.find(lower); found != seen_.end()) return found->second;
  if (seen_.size() >= kMaxRemembered) seen_.clear();
  std::string terms = term_of(lower);
  // The stemmer reads the accents ("chaussée" and "chaussee" stem apart): a word written with
  // them is indexed under the stem of its form without them too, which is what a query typed
  // without accents gives.
  if (!terms.empty()) {
    const std::string plain = unaccent(lower);
    if (plain != lower) {
      std::string other = term_of(plain);
      if (!other.empty() && other != terms) terms += " " + other;
    }
  }
  return seen_.emplace(lower, std::move(terms)).first->second;
}

std::string TermMaker::terms(std::string_view text, std::size_t max_terms) {
  std::string out;
  std::size_t count = 0;
  each_word(text, [&](const std::string& lower) {
    const std::string& terms = indexed_of(lower);
    if (terms.empty()) return true;
    if (!out.empty()) out += ' ';
    out += terms;
    return ++count < max_terms;
  });
  return out;
}

std::string search_terms(std::string_view text, std::size_t max_terms) {
  TermMaker maker;
  return maker.terms(text, max_terms);
}

std::vector<QueryTerm> query_terms(std::string_view query) {
  std::vector<QueryTerm> out;
  TermMaker maker;
  each_word(query.substr(0, 200), [&](const std::string& lower) {
    std::string term = maker.term_of(lower);
    // A short prefix matches half the language: three letters at least.
    if (term.size() >= 3) {
      std::size_t letters = 0;
      for (const char c : lower) letters += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
      out.push_back({std::move(term), letters < 5});
    }
    return out.size() < 8;
  });
  return out;
}

}  // namespace passerelle::plugins::french
