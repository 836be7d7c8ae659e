// libsodium's XChaCha20-Poly1305 (192-bit random nonces: no counter to keep between instances);
// the key file is written whole then linked to its name (mode 0600), and refused when others
// may read it.
#include "auth/secret_box.hpp"

#include "auth/crypto.hpp"
#include "config/config.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace passerelle {

namespace {

constexpr std::size_t kKeyBytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
static_assert(kKeyBytes == 32);

std::optional<std::string> decode(std::string_view text) {
  std::string out(text.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
    return std::nullopt;
  out.resize(len);
  return out;
}

[[noreturn]] void key_error(const std::string& path, const std::string& what) {
  throw std::runtime_error("secret key file " + path + ": " + what);
}

}  // namespace

SecretBox::~SecretBox() { sodium_memzero(key_, sizeof key_); }

SecretBox SecretBox::from_raw_key(std::string_view key) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot be initialised");
  if (key.size() != kKeyBytes) throw std::invalid_argument("a secret key has 32 bytes");
  SecretBox box;
  std::memcpy(box.key_, key.data(), kKeyBytes);
  return box;
}

std::optional<SecretBox> SecretBox::from_text(std::string_view text) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot be initialised");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.remove_suffix(1);
  auto raw = decode(text);
  if (!raw || raw->size() != kKeyBytes) return std::nullopt;
  SecretBox box = from_raw_key(*raw);
  sodium_memzero(raw->data(), raw->size());
  return box;
}

SecretBox SecretBox::load_or_create(const std::string& path) {
  namespace fs = std::filesystem;
  if (const auto parent = fs::path(path).parent_path(); !parent.empty()) {
    std::error_code ec;
    fs::create_directories(parent, ec);
  }
  // Written whole in a file of our own, then linked to its name: two instances starting at once
  // on a fresh folder neither both write a key nor read one half written (link() fails with
  // EEXIST for the second, which then reads the first one's key).
  if (::access(path.c_str(), F_OK) != 0) {
    std::string temp = path + ".XXXXXX";
    const int fd = ::mkstemp(temp.data());  // mode 0600
    if (fd < 0) key_error(path, std::string("cannot be created: ") + std::strerror(errno));
    const std::string raw = auth::random_token(kKeyBytes) + "\n";
    const bool written =
        ::write(fd, raw.data(), raw.size()) == static_cast<ssize_t>(raw.size()) && ::fsync(fd) == 0;
    const int write_errno = errno;
    ::close(fd);
    const bool linked = written && ::link(temp.c_str(), path.c_str()) == 0;
    const int link_errno = errno;
    ::unlink(temp.c_str());
    if (!written) key_error(path, std::string("cannot be written: ") + std::strerror(write_errno));
    if (!linked && link_errno != EEXIST)
      key_error(path, std::string("cannot be created: ") + std::strerror(link_errno));
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    key_error(path, std::string("cannot be read: ") + std::strerror(errno));
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    key_error(path, "group or others may read it: chmod 600 it");
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) key_error(path, "cannot be read");
  auto box = from_text(text.str());
  if (!box) key_error(path, "is not a key (expected 32 bytes in base64url, 43 characters)");
  box->origin_ = path;
  return *box;
}

SecretBox SecretBox::from_config(const AuthConfig& config) {
  if (!config.secret_key.empty()) {
    auto box = from_text(config.secret_key);
    if (!box)
      throw std::runtime_error(
          "auth.secret_key is not a key (expected 32 bytes in base64url, 43 characters)");
    box->origin_ = "auth.secret_key";
    return *box;
  }
  return load_or_create(config.secret_key_file);
}

std::string SecretBox::seal(std::string_view plaintext, std::string_view context) const {
  std::string out(kNonceBytes + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(bytes, kNonceBytes);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      bytes + kNonceBytes, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(), reinterpret_cast<const unsigned char*>(context.data()), context.size(),
      nullptr, bytes, key_);
  out.resize(kNonceBytes + len);
  return auth::base64url(out);
}

std::optional<std::string> SecretBox::open(std::string_view sealed,
                                           std::string_view context) const {
  auto raw = decode(sealed);
  if (!raw || raw->size() < kNonceBytes + crypto_aead_xchacha20poly1305_ietf_ABYTES)
    return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw->data());
  std::string out(raw->size() - kNonceBytes - crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(out.data()), &len, nullptr, bytes + kNonceBytes,
          raw->size() - kNonceBytes, reinterpret_cast<const unsigned char*>(context.data()),
          context.size(), bytes, key_) != 0)
    return std::nullopt;
  out.resize(len);
  return out;
}

std::string SecretBox::seal_for_store(std::string_view plaintext, std::string_view context) const {
  return std::string(kStorePrefix) + seal(plaintext, context);
}

std::optional<std::string> SecretBox::open_from_store(std::string_view value,
                                                      std::string_view context) const {
  if (!is_sealed(value)) return std::nullopt;
  return open(value.substr(kStorePrefix.size()), context);
}

std::string SecretBox::derived(std::string_view purpose) const {
  std::string out(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(purpose.data()), purpose.size(), key_,
                     sizeof key_);
  return out;
}

}  // namespace passerelle
