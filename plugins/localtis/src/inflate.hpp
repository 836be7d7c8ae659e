// Feeds sent gzip-compressed (Content-Encoding: gzip), inflated with zlib under a cap: a small
// body that inflates to gigabytes (a "zip bomb") is refused, not inflated.
#pragma once

#include <string>
#include <string_view>

namespace passerelle::plugins::localtis {

/// The inflated bytes of a gzip stream. Throws FeedError beyond `max_bytes` or on bad data.
std::string gunzip(std::string_view compressed, std::size_t max_bytes);

}  // namespace passerelle::plugins::localtis
