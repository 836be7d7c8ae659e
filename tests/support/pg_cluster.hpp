// A throwaway PostgreSQL cluster on loopback for a test (tools/lib/pg-cluster): its own
// folder in /tmp (the postgres user must reach it), stopped and removed at the end.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace passerelle::test {

inline std::string cluster_tool() {
  return std::string(PASSERELLE_SOURCE_DIR) + "/tools/lib/pg-cluster";
}

inline bool have_postgresql() {
  return std::system("ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1") == 0;
}

struct Cluster {
  std::string dir;
  std::string url;

  Cluster() {
    char path[] = "/tmp/passerelle-pg.XXXXXX";
    if (!mkdtemp(path)) throw std::runtime_error("mkdtemp failed");
    dir = path;
    if (std::system((cluster_tool() + " start " + dir + " >/dev/null").c_str()) != 0)
      throw std::runtime_error("could not start a PostgreSQL cluster in " + dir);
    std::ifstream in(dir + "/url");
    std::getline(in, url);
  }
  ~Cluster() {
    stop();
    std::system(("rm -rf " + dir).c_str());
  }
  void stop() { std::system((cluster_tool() + " stop " + dir).c_str()); }

  /// The URL of a new, empty database of this cluster owned by the gateway's role.
  std::string fresh_database() {
    static std::atomic<int> counter{0};
    const std::string name = "t" + std::to_string(getpid()) + "_" + std::to_string(++counter);
    FILE* out = popen((cluster_tool() + " createdb " + dir + " " + name).c_str(), "r");
    if (!out) throw std::runtime_error("cannot run " + cluster_tool());
    char line[512] = {};
    const bool read = std::fgets(line, sizeof line, out) != nullptr;
    if (pclose(out) != 0 || !read) throw std::runtime_error("could not create database " + name);
    std::string created = line;
    while (!created.empty() && (created.back() == '\n' || created.back() == '\r'))
      created.pop_back();
    return created;
  }
  void restart() {
    // The same data and port: pg_ctl starts it with what it was started with.
    const std::string port = url.substr(url.rfind(':') + 1, url.rfind('/') - url.rfind(':') - 1);
    const std::string as_owner = geteuid() == 0 ? "runuser -u postgres -- " : "";
    const std::string cmd = as_owner +
                            "$(find /usr/lib/postgresql -maxdepth 2 -name bin | sort -V | tail -n "
                            "1)/pg_ctl -D " +
                            dir + "/data -l " + dir + "/server.log -w -t 30 -o \"-p " + port +
                            " -k " + dir + " -c listen_addresses=127.0.0.1\" start >/dev/null";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("could not restart PostgreSQL");
  }
};

}  // namespace passerelle::test
