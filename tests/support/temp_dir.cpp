// Temporary folders and certificates for tests.
#include "support/temp_dir.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace passerelle::test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "passerelle-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  const std::string full = path_ + "/" + name;
  std::ofstream(full, std::ios::binary) << content;
  return full;
}

const TestCerts& test_certs() {
  static TempDir dir;
  static TestCerts certs = [] {
    const std::string cmd =
        std::string(PASSERELLE_TEST_CERTS_TOOL) + " " + dir.path() + " >/dev/null";
    if (std::system(cmd.c_str()) != 0)
      throw std::runtime_error("cannot generate test certificates");
    return TestCerts{dir.path(), dir.path() + "/dev-cert.pem", dir.path() + "/dev-key.pem",
                     dir.path() + "/dev-ca.pem"};
  }();
  return certs;
}

}  // namespace passerelle::test
