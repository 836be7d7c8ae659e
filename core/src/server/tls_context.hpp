// The server's TLS settings: TLS 1.2/1.3 only, Mozilla "intermediate" ciphers, resumption.
#pragma once

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace passerelle {

/// Builds a server context from PEM files; throws std::runtime_error naming the bad file.
std::shared_ptr<boost::asio::ssl::context> make_server_tls(const std::string& certificate,
                                                           const std::string& private_key);

}  // namespace passerelle
