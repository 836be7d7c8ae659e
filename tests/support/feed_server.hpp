// A small HTTP/1.1 server on 127.0.0.1 for the tests that fetch feeds: each request is answered
// by a function of the test (status, headers, body), which may also make the answer slow, drip
// it a byte at a time, or never send it. One thread per connection; Connection: close.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace passerelle::test {

struct FeedReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds delay{0};  ///< before anything is sent
  std::chrono::milliseconds drip{0};   ///< between the body's bytes (0: all at once)
};

class FeedServer {
 public:
  /// `answer(path, lower-case request headers)`.
  using Answer =
      std::function<FeedReply(const std::string&, const std::map<std::string, std::string>&)>;

  explicit FeedServer(Answer answer) : answer_(std::move(answer)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof a;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), size) != 0 ||
        ::listen(listener_, 64) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &size) != 0)
      throw std::runtime_error("feed server: cannot listen");
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~FeedServer() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    acceptor_.join();
    std::lock_guard lock(mutex_);
    for (auto& t : connections_) t.join();
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      timeval tv{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      std::lock_guard lock(mutex_);
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      head.append(buf, static_cast<std::size_t>(n));
    }
    std::map<std::string, std::string> headers;
    std::string path;
    if (const auto sp = head.find(' '); sp != std::string::npos)
      path = head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
    for (std::size_t at = head.find("\r\n"); at != std::string::npos && at + 2 < head.size();) {
      const auto end = head.find("\r\n", at + 2);
      const std::string line = head.substr(at + 2, end - at - 2);
      if (const auto colon = line.find(':'); colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      }
      at = end;
    }
    const FeedReply reply = answer_(path, headers);
    std::this_thread::sleep_for(reply.delay);
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\nConnection: close\r\n";
    for (const auto& [k, v] : reply.headers) out += k + ": " + v + "\r\n";
    out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n";
    bool ok = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) >= 0;
    if (reply.drip.count() == 0) {
      for (std::size_t sent = 0; ok && sent < reply.body.size();) {
        const ssize_t n =
            ::send(fd, reply.body.data() + sent, reply.body.size() - sent, MSG_NOSIGNAL);
        ok = n > 0;
        if (ok) sent += static_cast<std::size_t>(n);
      }
    } else {
      for (std::size_t i = 0; ok && i < reply.body.size() && !stopping_; ++i) {
        ok = ::send(fd, reply.body.data() + i, 1, MSG_NOSIGNAL) == 1;
        std::this_thread::sleep_for(reply.drip);
      }
    }
    ::close(fd);
  }

  Answer answer_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> connections_;
};

}  // namespace passerelle::test
