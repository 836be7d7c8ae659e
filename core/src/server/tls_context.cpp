// OpenSSL server context. Ciphers follow Mozilla's "intermediate" profile (v5.7).
#include "server/tls_context.hpp"

#include <boost/asio/ssl/context.hpp>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>
#include <string>

namespace passerelle {

namespace {
constexpr const char* kIntermediateCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

// TlsStream gives OpenSSL's buffers back whenever a connection waits, partly received record
// or not: SSL_free_buffers is a use-after-free then before these releases (CVE-2024-4741).
bool frees_buffers_safely(unsigned long version) {
  const unsigned long major = version >> 28, minor = (version >> 20) & 0xff,
                      patch = (version >> 4) & 0xff;
  if (major != 3) return major > 3;
  switch (minor) {
    case 0:
      return patch >= 14;
    case 1:
      return patch >= 6;
    case 2:
      return patch >= 2;
    case 3:
      return patch >= 1;
    default:
      return true;
  }
}

std::string last_ssl_error() {
  const unsigned long code = ERR_get_error();
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}
}  // namespace

std::shared_ptr<boost::asio::ssl::context> make_server_tls(const std::string& certificate,
                                                           const std::string& private_key) {
  namespace ssl = boost::asio::ssl;
  if (!frees_buffers_safely(OpenSSL_version_num()))
    throw std::runtime_error(std::string("OpenSSL ") + OpenSSL_version(OPENSSL_VERSION) +
                             " is too old: 3.0.14, 3.1.6, 3.2.2, 3.3.1 or later is needed "
                             "(CVE-2024-4741)");
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  if (SSL_CTX_set_cipher_list(native, kIntermediateCiphers) != 1)
    throw std::runtime_error("TLS cipher list refused: " + last_ssl_error());
  if (SSL_CTX_set1_groups_list(native, "X25519:prime256v1:secp384r1") != 1)
    throw std::runtime_error("TLS groups refused: " + last_ssl_error());
  // Session resumption: server-side cache plus stateless tickets (OpenSSL's default keys).
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_SERVER);
  static const unsigned char kContext[] = "passerelle";
  SSL_CTX_set_session_id_context(native, kContext, sizeof kContext - 1);
  // Not SSL_MODE_RELEASE_BUFFERS: it frees the read and write buffers (~34 KiB) after every
  // record, two large allocations per request; a connection that waits frees them instead
  // (TlsStream::async_ready).

  if (SSL_CTX_use_certificate_chain_file(native, certificate.c_str()) != 1)
    throw std::runtime_error("TLS certificate " + certificate + ": " + last_ssl_error());
  if (SSL_CTX_use_PrivateKey_file(native, private_key.c_str(), SSL_FILETYPE_PEM) != 1)
    throw std::runtime_error("TLS private key " + private_key + ": " + last_ssl_error());
  if (SSL_CTX_check_private_key(native) != 1)
    throw std::runtime_error("TLS private key " + private_key + " does not match " + certificate);
  return ctx;
}

}  // namespace passerelle
