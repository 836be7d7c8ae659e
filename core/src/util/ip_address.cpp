#include "util/ip_address.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstring>

namespace passerelle {

std::string canonical_address(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return {};
  char input[INET6_ADDRSTRLEN + 1] = {};
  std::memcpy(input, text.data(), text.size());
  std::array<char, INET6_ADDRSTRLEN> out{};
  unsigned char v4[4], v6[16];
  if (inet_pton(AF_INET, input, v4) == 1)
    return inet_ntop(AF_INET, v4, out.data(), out.size()) ? std::string(out.data()) : "";
  if (inet_pton(AF_INET6, input, v6) != 1) return {};
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(v6, kMapped, sizeof kMapped) == 0)
    return inet_ntop(AF_INET, v6 + 12, out.data(), out.size()) ? std::string(out.data()) : "";
  return inet_ntop(AF_INET6, v6, out.data(), out.size()) ? std::string(out.data()) : "";
}

std::string forwarded_client(std::string_view header) {
  const auto comma = header.rfind(',');
  std::string_view last = comma == std::string_view::npos ? header : header.substr(comma + 1);
  while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
  while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) last.remove_suffix(1);
  return canonical_address(last);
}

}  // namespace passerelle
