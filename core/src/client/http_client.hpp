// The outbound HTTP(S) client handed to plugins (and later to OpenID Connect and proxies).
#pragma once

#include "config/config.hpp"
#include "passerelle/host.hpp"

#include <memory>

namespace boost::asio::ssl {
class context;
}

namespace passerelle {

class OutboundHttpClient final : public HttpClient {
 public:
  explicit OutboundHttpClient(const OutboundConfig& config);
  ~OutboundHttpClient() override;
  /// One request on a fresh connection; certificates and host names verified for https.
  Task<OutboundResponse> fetch(OutboundRequest request) override;

 private:
  std::shared_ptr<boost::asio::ssl::context> tls_;
};

}  // namespace passerelle
