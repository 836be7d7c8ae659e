#include "anonymise.hpp"

#include <algorithm>
#include <cctype>

namespace passerelle::plugins::conseils {

namespace {

// Letters, digits and '-' ("Saint-Martin" is one word); an apostrophe ends one ("d'Allonnes").
bool word_byte(unsigned char c) { return std::isalnum(c) || c >= 0x80 || c == '-'; }

// ASCII case folded (names are compared without caring for "ANGERS" or "angers").
std::string folded(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Replaces every occurrence of `needle` (case-insensitive for ASCII, at word boundaries).
void replace_word(std::string& text, const std::string& needle, const std::string& by) {
  if (needle.empty()) return;
  const std::string n = folded(needle);
  std::string lower = folded(text);
  for (std::size_t at = lower.find(n); at != std::string::npos; at = lower.find(n, at)) {
    const bool starts = at == 0 || !word_byte(static_cast<unsigned char>(text[at - 1]));
    const bool ends =
        at + n.size() >= text.size() || !word_byte(static_cast<unsigned char>(text[at + n.size()]));
    if (starts && ends) {
      text.replace(at, n.size(), by);
      lower.replace(at, n.size(), by);
      at += by.size();
    } else {
      at += 1;
    }
  }
}

// E-mail addresses: a run of address characters holding one '@' and a dot after it.
void remove_emails(std::string& text) {
  const auto address_byte = [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-' || c == '+' || c == '@';
  };
  for (std::size_t at = text.find('@'); at != std::string::npos; at = text.find('@', at + 1)) {
    std::size_t begin = at, end = at + 1;
    while (begin > 0 && address_byte(static_cast<unsigned char>(text[begin - 1]))) --begin;
    while (end < text.size() && address_byte(static_cast<unsigned char>(text[end]))) ++end;
    while (end > at + 1 && text[end - 1] == '.') --end;  // a sentence's full stop
    const std::string_view domain(text.data() + at + 1, end - at - 1);
    if (begin < at && domain.find('.') != std::string_view::npos) {
      text.replace(begin, end - begin, "[adresse]");
      at = begin;
    }
  }
}

// Telephone numbers: 10 digits from a 0, or +33 (or 0033) then 9, separators between them.
void remove_phones(std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool plus = text.compare(i, 3, "+33") == 0;
    const bool zero = std::isdigit(static_cast<unsigned char>(text[i])) != 0;
    if (!plus && !zero) continue;
    if (i > 0 && (std::isalnum(static_cast<unsigned char>(text[i - 1])) || text[i - 1] == '+'))
      continue;
    std::size_t j = plus ? i + 3 : i, digits = 0, last = j;
    while (j < text.size()) {
      const unsigned char c = static_cast<unsigned char>(text[j]);
      if (std::isdigit(c)) {
        ++digits;
        last = j + 1;
      } else if (!(c == ' ' || c == '.' || c == '-' || c == '(' || c == ')') || digits >= 12) {
        break;
      }
      ++j;
    }
    const bool french = plus ? digits == 9 || digits == 10 : digits == 10 && text[i] == '0';
    if (french && (last >= text.size() || !std::isalnum(static_cast<unsigned char>(text[last])))) {
      text.replace(i, last - i, "[téléphone]");
      i += std::string("[téléphone]").size() - 1;
    }
  }
}

}  // namespace

std::string anonymise(std::string_view input, const Known& known) {
  std::string text(input);
  remove_emails(text);
  remove_phones(text);
  // Longest first: "Saint-Martin-du-Bois" before "Saint".
  std::vector<std::pair<std::string, std::string>> names;
  for (const auto& c : known.communes) names.emplace_back(c, "[commune]");
  for (const auto& p : known.people) {
    names.emplace_back(p, "[nom]");
    std::size_t start = 0;
    for (std::size_t i = 0; i <= p.size(); ++i) {
      if (i == p.size() || p[i] == ' ') {
        if (i - start >= 4) names.emplace_back(p.substr(start, i - start), "[nom]");
        start = i + 1;
      }
    }
  }
  for (const auto& c : known.codes) names.emplace_back(c, "[code]");
  std::sort(names.begin(), names.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& [name, by] : names) replace_word(text, name, by);
  return text;
}

}  // namespace passerelle::plugins::conseils
