#include "attachments/clamd.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace passerelle {

namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

using Clock = std::chrono::steady_clock;

// Each send and receive waits at most what is left of the whole exchange's time: a clamd that
// trickles its answer cannot hold the caller past the deadline.
void arm(int fd, Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
  if (left.count() <= 0) throw std::runtime_error("clamd: timed out");
  timeval tv{static_cast<time_t>(left.count() / 1'000'000),
             static_cast<suseconds_t>(left.count() % 1'000'000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("clamd: " + what + ": " + std::strerror(errno));
}

int connect_to(const std::string& address, std::chrono::milliseconds timeout) {
  std::string path = address.rfind("unix:", 0) == 0 ? address.substr(5) : "";
  if (path.empty() && !address.empty() && address.front() == '/') path = address;
  int fd = -1;
  if (!path.empty()) {
    sockaddr_un sa{};
    if (path.size() >= sizeof sa.sun_path) throw std::runtime_error("clamd: socket path too long");
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      const int saved = errno;
      ::close(fd);
      errno = saved;
      fail("connect " + path);
    }
    return fd;
  }
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("clamd: expected host:port or a path");
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;  // no resolver call on a pool thread
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || !found)
    throw std::runtime_error("clamd: expected a numeric address, such as 127.0.0.1:3310");
  fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(found);
    fail("socket");
  }
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const int rc = ::connect(fd, found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  if (rc != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    fail("connect " + address);
  }
  return fd;
}

void send_all(int fd, const char* data, std::size_t size, Clock::time_point deadline) {
  while (size > 0) {
    arm(fd, deadline);
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(errno == EAGAIN ? "timed out sending" : "send");
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

}  // namespace

ScanVerdict clamd_scan(const std::string& address, const std::string& path,
                       std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) fail("open the file to scan");
  const Fd socket(connect_to(address, timeout));
  static constexpr char kCommand[] = "zINSTREAM";
  send_all(socket.get(), kCommand, sizeof kCommand, deadline);  // with its NUL
  std::array<char, 4 + 64 * 1024> chunk;
  for (;;) {
    const ssize_t n = ::read(file.get(), chunk.data() + 4, chunk.size() - 4);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("read the file to scan");
    }
    const std::uint32_t length = htonl(static_cast<std::uint32_t>(n));
    std::memcpy(chunk.data(), &length, 4);
    send_all(socket.get(), chunk.data(), 4 + static_cast<std::size_t>(n), deadline);
    if (n == 0) break;  // the zero-length chunk ends the stream
  }
  std::string reply;
  char buffer[256];
  while (reply.size() < 1024 && reply.find('\0') == std::string::npos) {
    arm(socket.get(), deadline);
    const ssize_t n = ::recv(socket.get(), buffer, sizeof buffer, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(errno == EAGAIN ? "timed out waiting for the verdict" : "recv");
    }
    if (n == 0) break;
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  if (const auto nul = reply.find('\0'); nul != std::string::npos) reply.resize(nul);
  while (!reply.empty() && (reply.back() == '\n' || reply.back() == '\r')) reply.pop_back();
  // "stream: OK", "stream: Eicar-Test-Signature FOUND", or "... ERROR".
  static constexpr std::string_view kPrefix = "stream: ";
  if (reply.rfind(kPrefix, 0) != 0) throw std::runtime_error("clamd: unexpected answer");
  const std::string verdict = reply.substr(kPrefix.size());
  if (verdict == "OK") return {};
  static constexpr std::string_view kFound = " FOUND";
  if (verdict.size() > kFound.size() &&
      verdict.compare(verdict.size() - kFound.size(), kFound.size(), kFound) == 0)
    return {false, verdict.substr(0, verdict.size() - kFound.size())};
  throw std::runtime_error("clamd: " + verdict.substr(0, 200));
}

}  // namespace passerelle
