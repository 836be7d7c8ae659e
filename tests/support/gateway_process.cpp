// Spawning the gateway with posix_spawn, reading its log on a thread, stopping it by signal.
#include "support/gateway_process.hpp"

#include <boost/json/parse.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <vector>

extern char** environ;

namespace passerelle::test {

namespace {

int spawn(const std::vector<std::string>& args, int out_fd, int in_fd = -1) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
  if (in_fd >= 0) posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
  return pid;
}

int wait_exit(int pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const int r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& args) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  try {
    pid_ = spawn(args, fds[1]);
  } catch (...) {
    close(fds[0]);
    close(fds[1]);
    throw;
  }
  close(fds[1]);
  fd_ = fds[0];
  reader_ = std::thread([this] {
    char buf[4096];
    for (;;) {
      const ssize_t n = read(fd_, buf, sizeof buf);
      std::lock_guard lock(mutex_);
      if (n <= 0) {
        eof_ = true;
        cv_.notify_all();
        return;
      }
      output_.append(buf, static_cast<std::size_t>(n));
      cv_.notify_all();
    }
  });
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) stop(SIGKILL, std::chrono::seconds(5));
  if (reader_.joinable()) reader_.join();
  if (fd_ >= 0) close(fd_);
}

bool ChildProcess::wait_until(const std::function<bool(const std::string&)>& done,
                              std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [&] { return done(output_) || eof_; });
  return done(output_);
}

bool ChildProcess::wait_for(const std::string& text, std::chrono::milliseconds timeout) {
  return wait_until([&](const std::string& out) { return out.find(text) != std::string::npos; },
                    timeout);
}

std::string ChildProcess::output() const {
  std::lock_guard lock(mutex_);
  return output_;
}

int ChildProcess::stop(int signo, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, signo);
  const int code = wait_exit(pid_, timeout);
  if (code == -1) {
    kill(pid_, SIGKILL);
    wait_exit(pid_, std::chrono::seconds(5));
  }
  pid_ = -1;
  return code;
}

// The gateway under test: PASSERELLE_TEST_GATEWAY in the environment names another build of it
// (AddressSanitizer), else the one built with the tests.
std::string gateway_binary() {
  const char* other = std::getenv("PASSERELLE_TEST_GATEWAY");
  return other && *other ? other : PASSERELLE_TEST_BINARY;
}

GatewayProcess::GatewayProcess(const std::string& extra_yaml, const std::string& server_yaml) {
  // Private copies of the certificates, so that a test may replace them (SIGHUP reload).
  const TestCerts& certs = test_certs();
  std::filesystem::copy_file(certs.cert, dir_.path() + "/cert.pem");
  std::filesystem::copy_file(certs.key, dir_.path() + "/key.pem");
  std::ostringstream yaml;
  yaml << "server:\n  listen: 127.0.0.1\n  https_port: 0\n  http_port: 0\n  workers: 2\n"
       << (server_yaml.empty() ? "  shutdown_grace: 5s\n" : server_yaml)
       << "tls:\n  certificate: " << dir_.path() << "/cert.pem\n  private_key: " << dir_.path()
       << "/key.pem\n"
       << extra_yaml;
  if (extra_yaml.find("store:") == std::string::npos)
    yaml << "store:\n  sqlite: " << dir_.path() << "/db.sqlite\n";
  const std::string config = dir_.write("passerelle.yaml", yaml.str());

  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{gateway_binary(), "--config", config});
  if (!wait_for_log("\"msg\":\"listening\"")) {
    stop(SIGKILL);
    throw std::runtime_error("gateway did not start:\n" + log());
  }
  // Ports from the "listening" line.
  std::istringstream lines(log());
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"msg\":\"listening\"") == std::string::npos) continue;
    auto v = boost::json::parse(line);
    https_port_ = static_cast<std::uint16_t>(v.at("https_port").as_int64());
    if (auto* p = v.as_object().if_contains("http_port"))
      http_port_ = static_cast<std::uint16_t>(p->as_int64());
  }
  // Started: every plugin running, or some failed (the tests of failures need the gateway too),
  // or a required one failed and it stops. Any of these lines ends the wait, so that a failed
  // plugin does not cost the whole timeout.
  const auto started = [](const std::string& out) {
    return out.find("\"component\":\"server\",\"msg\":\"ready\"") != std::string::npos ||
           out.find("started with failed plugins") != std::string::npos ||
           out.find("a required plugin failed to start") != std::string::npos;
  };
  if (!process_->wait_until(started, std::chrono::seconds(10)))
    throw std::runtime_error("gateway not ready:\n" + log());
}

CommandResult run_passerelle(const std::vector<std::string>& args, const std::string& stdin_text) {
  int fds[2], in[2];
  if (pipe(fds) != 0 || pipe(in) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> all{gateway_binary()};
  all.insert(all.end(), args.begin(), args.end());
  const int pid = spawn(all, fds[1], in[0]);
  close(fds[1]);
  close(in[0]);
  if (!stdin_text.empty() && write(in[1], stdin_text.data(), stdin_text.size()) < 0) {
  }
  close(in[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  return {wait_exit(pid, std::chrono::seconds(30)), out};
}

std::uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    close(fd);
    throw std::runtime_error("no free port");
  }
  close(fd);
  return ntohs(address.sin_port);
}

}  // namespace passerelle::test
