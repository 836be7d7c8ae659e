#include "inflate.hpp"

#include "feed.hpp"

#include <zlib.h>

namespace passerelle::plugins::localtis {

std::string gunzip(std::string_view compressed, std::size_t max_bytes) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw FeedError("cannot inflate the feed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char chunk[64 * 1024];
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    status = inflate(&z, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) {
      inflateEnd(&z);
      throw FeedError("the feed's gzip data is damaged");
    }
    out.append(chunk, sizeof chunk - z.avail_out);
    if (out.size() > max_bytes) {
      inflateEnd(&z);
      throw FeedError("feed larger than " + std::to_string(max_bytes / (1024 * 1024)) +
                      " MiB once inflated");
    }
    if (status == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
      inflateEnd(&z);
      throw FeedError("the feed's gzip data is cut short");
    }
  }
  inflateEnd(&z);
  return out;
}

}  // namespace passerelle::plugins::localtis
