// IP addresses as text: the one spelling of an address, and the client a load balancer names.
#pragma once

#include <string>
#include <string_view>

namespace passerelle {

/// `text` as inet_ntop writes it ("::FFFF:1.2.3.4" -> "1.2.3.4" too), or "" when it is not one
/// IPv4 or IPv6 address.
std::string canonical_address(std::string_view text);

/// The client a trusted load balancer appended to X-Forwarded-For (the header's last entry,
/// "for" the address that connected to it), canonical; "" when that entry is not an address.
std::string forwarded_client(std::string_view x_forwarded_for);

}  // namespace passerelle
