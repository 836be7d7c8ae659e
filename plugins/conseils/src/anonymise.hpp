// What a published answer must not say: who asked and where. The known names (the commune,
// the requester, the advisor, each word of their names of four letters or more), e-mail
// addresses, telephone numbers (French forms: 0X XX XX XX XX, +33, with spaces, dots or dashes)
// and INSEE or postal codes are replaced by a word in brackets. What it cannot know (another
// person named in the text) is the advisor's to remove: the publish route takes edited texts
// and anonymises them again.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace passerelle::plugins::conseils {

struct Known {
  std::vector<std::string> communes;  ///< replaced by "[commune]"
  std::vector<std::string> people;    ///< replaced by "[nom]" (whole, and each long word)
  std::vector<std::string> codes;     ///< INSEE and postal codes: "[code]"
};

std::string anonymise(std::string_view text, const Known& known);

}  // namespace passerelle::plugins::conseils
