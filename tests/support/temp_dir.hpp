// A fresh folder under /tmp, removed with everything in it when the object goes.
#pragma once

#include <string>

namespace passerelle::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  /// Writes `content` to path()/name and returns the full path.
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

/// A throwaway CA + localhost certificate, made once per test program (tools/gen-dev-certs).
struct TestCerts {
  std::string dir, cert, key, ca;
};
const TestCerts& test_certs();

}  // namespace passerelle::test
