// A test client over TLS (or plain TCP) with a deadline on every operation, able to send raw
// bytes, so that limits and slow clients can be played.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace passerelle::test {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; the last of a repeated one
  std::map<std::string, std::size_t> lines;    // how many lines each name came on
  std::string body;
  bool keep_alive = false;
};

class TestConnection {
 public:
  struct Options {
    bool tls = true;
    std::string ca_file;      // verify against it when set
    int max_tls_version = 0;  // e.g. TLS1_1_VERSION to check refusals; 0: default
    std::chrono::milliseconds timeout{10'000};
    std::shared_ptr<void> resume;  // a session() of an earlier connection, to resume
    std::string source_address;    // bind the client socket to it (e.g. "127.0.0.2": all of
                                   // 127/8 is loopback on Linux), to play another client
  };
  TestConnection(std::uint16_t port, Options options);
  explicit TestConnection(std::uint16_t port);
  ~TestConnection();

  /// False when the TCP connect or the TLS handshake failed.
  bool connected() const;
  /// The TLS session (after a request, so that TLS 1.3 tickets have arrived), to resume later.
  std::shared_ptr<void> session() const;
  /// Whether the handshake resumed Options::resume.
  bool resumed() const;
  /// Subject CN / serial of the server certificate (TLS only).
  std::string peer_certificate_serial() const;

  /// Sends bytes as they are; false when the connection failed or the deadline passed.
  bool send_raw(const std::string& bytes);
  /// Writes bytes on the TCP connection under TLS, as they are (pieces of a TLS record made
  /// by hand); false when the write failed.
  bool send_below_tls(const std::string& bytes);
  /// Waits up to `timeout` for the server to end its side of the TCP connection (FIN), reading
  /// nothing: the connection stays usable when it did not.
  bool wait_peer_shutdown(std::chrono::milliseconds timeout);
  /// Reads one response; nothing if the server closed or the deadline passed. `to_head`: the
  /// response to a HEAD request (headers only, whatever its Content-Length says).
  std::optional<HttpReply> read_reply(bool to_head = false);
  /// One request, one response.
  std::optional<HttpReply> request(
      const std::string& method, const std::string& target, const std::string& body = "",
      const std::vector<std::pair<std::string, std::string>>& headers = {});
  /// Waits until the server closes the connection; false when it is still open at the deadline.
  bool wait_closed(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace passerelle::test
