#include "attachments/attachment_store.hpp"

#include "attachments/clamd.hpp"
#include "attachments/multipart.hpp"
#include "auth/crypto.hpp"
#include "log/log.hpp"
#include "store/store.hpp"
#include "util/clock.hpp"

#include <fcntl.h>
#include <magic.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

namespace passerelle {

namespace fs = std::filesystem;

namespace {

// Bytes read from the connection before they go to the parser and the disk, on the pool.
constexpr std::size_t kChunk = 128 * 1024;
// The form's text fields, together.
constexpr std::size_t kMaxFormBytes = 64 * 1024;

// libmagic's handle is not thread-safe: one per pool thread, loaded on first use.
struct MagicCookie {
  magic_t cookie = nullptr;
  MagicCookie() {
    cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ELF |
                        MAGIC_NO_CHECK_ENCODING);
    if (cookie && magic_load(cookie, nullptr) != 0) {
      magic_close(cookie);
      cookie = nullptr;
    }
  }
  ~MagicCookie() {
    if (cookie) magic_close(cookie);
  }
};

std::string media_type_of(int fd) {
  thread_local MagicCookie magic;
  if (!magic.cookie) throw std::runtime_error("libmagic could not load its database");
  if (::lseek(fd, 0, SEEK_SET) != 0) throw std::runtime_error("lseek failed");
  const char* type = magic_descriptor(magic.cookie, fd);
  return type ? type : "application/octet-stream";
}

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("writing an upload failed: ") + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

Attachment attachment_of(const std::vector<SqlValue>& row) {
  Attachment a;
  a.id = std::get<std::string>(row[0]);
  a.sha256 = std::get<std::string>(row[1]);
  a.size = std::get<std::int64_t>(row[2]);
  a.media_type = std::get<std::string>(row[3]);
  a.filename = std::get<std::string>(row[4]);
  a.field = std::get<std::string>(row[5]);
  return a;
}

// The shape of an id: what random_token(16) makes. Anything else is not looked up.
bool is_attachment_id(std::string_view id) {
  return id.size() == 22 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '-' || c == '_';
         });
}

}  // namespace

// The files of one upload as the parser hands them over, on a pool thread: each written to a
// temporary file and hashed as it comes, then typed and scanned when it ends.
class AttachmentStore::Upload final : public multipart::Sink {
 public:
  struct File {
    Attachment meta;
    std::string temp;  // emptied once the file is kept
  };

  Upload(const AttachmentsConfig& config, fs::path tmp) : config_(config), tmp_(std::move(tmp)) {}
  ~Upload() override { remove_temporaries(); }
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;

  void begin(const multipart::PartHead& head) override {
    field_ = head.name;
    if (!head.filename) {
      text_ = &form[head.name];
      text_->clear();
      return;
    }
    text_ = nullptr;
    if (files.size() >= config_.max_files)
      throw HttpError(413, "too_many_files",
                      "at most " + std::to_string(config_.max_files) + " files at once");
    File file;
    file.meta.field = head.name;
    file.meta.filename = clean_filename(*head.filename);
    file.temp = (tmp_ / (auth::random_token(16) + ".part")).string();
    fd_ = ::open(file.temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0)
      throw std::runtime_error("cannot create " + file.temp + ": " + std::strerror(errno));
    files.push_back(std::move(file));
    crypto_hash_sha256_init(&sha_);
    size_ = 0;
  }

  void data(std::string_view bytes) override {
    if (!text_) {
      file_bytes_ += bytes.size();
      if (file_bytes_ > config_.max_bytes)
        throw HttpError(413, "payload_too_large",
                        "the files exceed " + std::to_string(config_.max_bytes) + " bytes");
      write_all(fd_, bytes);
      crypto_hash_sha256_update(&sha_, reinterpret_cast<const unsigned char*>(bytes.data()),
                                bytes.size());
      size_ += bytes.size();
      return;
    }
    form_bytes_ += bytes.size();
    if (form_bytes_ > kMaxFormBytes)
      throw HttpError(413, "payload_too_large",
                      "the form's text fields exceed " + std::to_string(kMaxFormBytes) + " bytes");
    text_->append(bytes);
  }

  void end() override {
    if (text_) {
      text_ = nullptr;
      return;
    }
    File& file = files.back();
    if (size_ == 0) {
      // An empty file input (a browser sends one when no file was chosen): no file.
      close_file();
      ::unlink(file.temp.c_str());
      files.pop_back();
      return;
    }
    if (::fsync(fd_) != 0) throw std::runtime_error("fsync of an upload failed");
    const std::string type = media_type_of(fd_);
    close_file();
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&sha_, digest);
    file.meta.sha256 =
        auth::to_hex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
    file.meta.size = static_cast<std::int64_t>(size_);
    file.meta.media_type = type;
    if (std::find(config_.types.begin(), config_.types.end(), type) == config_.types.end())
      throw HttpError(
          415, "unsupported_file_type",
          "\"" + file.meta.filename + "\" is " + type + ": send PDF, images or office documents");
    if (!config_.clamd.empty()) {
      ScanVerdict verdict;
      try {
        verdict = clamd_scan(config_.clamd, file.temp, config_.clamd_timeout);
      } catch (const std::exception& e) {
        log::error("attachments", "virus scan failed: file refused", {{"error", e.what()}});
        throw HttpError(503, "scan_unavailable",
                        "the virus scan is unavailable; try again in a few minutes");
      }
      if (!verdict.clean) {
        log::warn("attachments", "infected file refused",
                  {{"signature", verdict.signature}, {"sha256", file.meta.sha256}});
        throw HttpError(422, "infected_file",
                        "\"" + file.meta.filename + "\" carries a virus (" + verdict.signature +
                            ") and was not accepted");
      }
    }
  }

  void remove_temporaries() {
    close_file();
    for (auto& file : files)
      if (!file.temp.empty()) {
        ::unlink(file.temp.c_str());
        file.temp.clear();
      }
  }

  std::vector<File> files;
  std::map<std::string, std::string> form;

 private:
  void close_file() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  const AttachmentsConfig& config_;
  fs::path tmp_;
  std::string field_;
  std::string* text_ = nullptr;  // the text field being read, or a file
  int fd_ = -1;
  crypto_hash_sha256_state sha_{};
  std::uint64_t size_ = 0;        // of the current file
  std::uint64_t file_bytes_ = 0;  // of every file so far
  std::size_t form_bytes_ = 0;
};

AttachmentStore::AttachmentStore(AttachmentsConfig config, Store& store)
    : config_(std::move(config)), store_(store) {
  const fs::path tmp = fs::path(config_.dir) / "tmp";
  std::error_code ec;
  fs::create_directories(tmp, ec);
  if (ec) throw std::runtime_error("attachments.dir: cannot create " + tmp.string());
  fs::permissions(config_.dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  // Uploads a crash cut short: older than any upload still under way (another instance may
  // share the folder).
  const auto cutoff = fs::file_time_type::clock::now() - config_.upload_timeout * 2;
  for (const auto& entry : fs::directory_iterator(tmp, ec))
    if (entry.is_regular_file(ec) && entry.last_write_time(ec) < cutoff) fs::remove(entry, ec);
  // The type database read once now: missing, the gateway does not start (rather than refuse
  // every upload later).
  if (!MagicCookie().cookie)
    throw std::runtime_error("libmagic cannot load its database (package libmagic-mgc)");
}

AttachmentStore::~AttachmentStore() = default;

BodyStreaming AttachmentStore::streaming() const {
  // Room beyond the files for the text fields and each part's boundary and headers.
  return {config_.max_bytes + kMaxFormBytes + (config_.max_files + 16) * 9 * 1024,
          config_.upload_timeout};
}

std::string AttachmentStore::content_path(const std::string& sha256) const {
  return (fs::path(config_.dir) / sha256.substr(0, 2) / sha256).string();
}

Task<AttachmentStore::Received> AttachmentStore::receive(BodySource& body, std::string content_type,
                                                         std::string plugin) {
  const auto boundary = multipart::boundary_of(content_type);
  if (!boundary)
    throw HttpError(400, "bad_multipart",
                    "send multipart/form-data with its boundary parameter (RFC 7578)");
  auto upload = std::make_shared<Upload>(config_, fs::path(config_.dir) / "tmp");
  auto parser = std::make_shared<multipart::Parser>(
      *boundary, multipart::Limits{.max_parts = config_.max_files + 32});
  auto chunk = std::make_shared<std::vector<char>>(kChunk);
  std::exception_ptr failure;
  try {
    for (;;) {
      const std::size_t n = co_await body.read(std::span<char>(*chunk));
      auto step = [upload, parser, chunk, n] {
        if (n > 0)
          parser->feed(std::string_view(chunk->data(), n), *upload);
        else
          parser->finish();
      };
      co_await pool_.run(std::move(step));
      if (n == 0) break;
    }
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    auto clean = [upload] { upload->remove_temporaries(); };
    co_await pool_.run(std::move(clean));
    std::rethrow_exception(failure);
  }

  // Kept: each content under its hash (one copy for equal contents), each file a row.
  Received received;
  received.form = std::move(upload->form);
  std::vector<std::pair<std::string, std::string>> kept;
  try {
    AsyncMutex::Lock lock = co_await files_.lock();
    for (auto& file : upload->files) {
      const std::string target = content_path(file.meta.sha256);
      auto place = [&file, target] {
        const fs::path path(target);
        fs::create_directories(path.parent_path());
        if (fs::exists(path)) {
          ::unlink(file.temp.c_str());
        } else if (::rename(file.temp.c_str(), target.c_str()) != 0) {
          throw std::runtime_error(std::string("keeping an upload failed: ") +
                                   std::strerror(errno));
        } else {
          fsync_dir(path.parent_path());
        }
        file.temp.clear();
      };
      co_await pool_.run(std::move(place));
      file.meta.id = auth::random_token(16);
      Statement insert{
          "INSERT INTO attachments (id, plugin, sha256, size, media_type, filename, field, "
          "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
          {file.meta.id, plugin, file.meta.sha256, file.meta.size, file.meta.media_type,
           file.meta.filename, file.meta.field, unix_seconds()}};
      co_await store_.query(std::move(insert));
      kept.emplace_back(file.meta.id, file.meta.sha256);
      received.files.push_back(file.meta);
    }
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    auto clean = [upload] { upload->remove_temporaries(); };
    co_await pool_.run(std::move(clean));
    co_await forget(std::move(kept));
    std::rethrow_exception(failure);
  }
  co_return received;
}

Task<void> AttachmentStore::discard(std::vector<Attachment> files) {
  std::vector<std::pair<std::string, std::string>> ids;
  for (auto& file : files) ids.emplace_back(std::move(file.id), std::move(file.sha256));
  co_await forget(std::move(ids));
}

// Deletes the rows, then each content no row names any more.
Task<void> AttachmentStore::forget(
    std::vector<std::pair<std::string, std::string>> ids_and_hashes) {
  if (ids_and_hashes.empty()) co_return;
  AsyncMutex::Lock lock = co_await files_.lock();
  for (const auto& [id, sha256] : ids_and_hashes) {
    Statement remove{"DELETE FROM attachments WHERE id = ?1", {id}};
    co_await store_.query(std::move(remove));
    Statement count{"SELECT COUNT(*) FROM attachments WHERE sha256 = ?1", {sha256}};
    const QueryResult left = co_await store_.query(std::move(count));
    if (std::get<std::int64_t>(left.rows.at(0).at(0)) > 0) continue;
    auto unlink = [path = content_path(sha256)] { ::unlink(path.c_str()); };
    co_await pool_.run(std::move(unlink));
  }
}

Task<std::optional<Attachment>> AttachmentStore::find(std::string plugin, std::string id) {
  if (!is_attachment_id(id)) co_return std::nullopt;
  Statement select{
      "SELECT id, sha256, size, media_type, filename, field FROM attachments "
      "WHERE id = ?1 AND plugin = ?2",
      {id, plugin}};
  const QueryResult found = co_await store_.query(std::move(select));
  if (found.rows.empty()) co_return std::nullopt;
  co_return attachment_of(found.rows.front());
}

Task<Response> AttachmentStore::download(std::string plugin, std::string id) {
  const auto file = co_await find(std::move(plugin), std::move(id));
  if (!file) throw HttpError(404, "not_found", "no such file");
  auto content = std::make_shared<std::string>();
  auto read = [content, path = content_path(file->sha256), size = file->size] {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    content->resize(static_cast<std::size_t>(size));
    in.read(content->data(), size);
    return in.gcount() == size;
  };
  if (!co_await pool_.run(std::move(read))) {
    log::error("attachments", "a file's content is missing", {{"sha256", file->sha256}});
    throw HttpError(404, "not_found", "no such file");
  }
  Response r;
  r.content_type = file->media_type;
  r.body = std::move(*content);
  r.headers.emplace_back("Content-Disposition", disposition(file->filename));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  // Opened in a tab anyway (a PDF viewer), it runs nothing and reaches nothing.
  r.sandboxed = true;
  co_return r;
}

Task<void> AttachmentStore::remove(std::string plugin, std::string id) {
  const auto file = co_await find(std::move(plugin), std::move(id));
  if (!file) co_return;
  std::vector<std::pair<std::string, std::string>> ids{{file->id, file->sha256}};
  co_await forget(std::move(ids));
}

std::string AttachmentStore::clean_filename(std::string_view raw) {
  if (const auto slash = raw.find_last_of("/\\"); slash != std::string_view::npos)
    raw.remove_prefix(slash + 1);
  std::string out;
  std::size_t i = 0;
  while (i < raw.size()) {
    // One character, strictly UTF-8 (no overlong form, no surrogate, nothing past U+10FFFF);
    // a byte that starts none becomes '_'.
    const auto c = static_cast<unsigned char>(raw[i]);
    const std::size_t length = c < 0x80           ? 1
                               : (c >> 5) == 0x6  ? 2
                               : (c >> 4) == 0xE  ? 3
                               : (c >> 3) == 0x1E ? 4
                                                  : 0;
    char32_t code = length == 1 ? c : length == 2 ? c & 0x1F : length == 3 ? c & 0x0F : c & 0x07;
    bool valid = length > 0 && i + length <= raw.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(raw[i + k]);
      valid = (next & 0xC0) == 0x80;
      code = (code << 6) | (next & 0x3F);
    }
    static constexpr char32_t kLeast[] = {0, 0, 0x80, 0x800, 0x10000};
    valid =
        valid && code >= kLeast[length] && code <= 0x10FFFF && !(code >= 0xD800 && code <= 0xDFFF);
    if (!valid) {
      out += '_';
      ++i;
      continue;
    }
    // Dropped: controls (C0, DEL, C1), quotes, and the invisible characters that reorder or
    // hide text (bidirectional controls, zero-width marks): "facture\u202Efdp.exe" would show
    // as "facture" + "exe.pdf".
    const bool hidden = code < 0x20 || (code >= 0x7F && code <= 0x9F) || code == '"' ||
                        (code >= 0x200B && code <= 0x200F) || (code >= 0x202A && code <= 0x202E) ||
                        (code >= 0x2060 && code <= 0x2069) || code == 0xFEFF || code == 0xAD;
    if (!hidden) {
      if (out.size() + length > 200) break;
      out.append(raw.substr(i, length));
    }
    i += length;
  }
  while (!out.empty() && (out.front() == '.' || out.front() == ' ')) out.erase(0, 1);
  while (!out.empty() && (out.back() == ' ' || out.back() == '.')) out.pop_back();
  return out.empty() ? "fichier" : out;
}

std::string AttachmentStore::with_extension(std::string filename, std::string_view media_type) {
  static const std::vector<std::pair<std::string_view, std::vector<std::string_view>>> kExtensions =
      {{"application/pdf", {".pdf"}},
       {"image/png", {".png"}},
       {"image/jpeg", {".jpg", ".jpeg"}},
       {"image/gif", {".gif"}},
       {"image/webp", {".webp"}},
       {"application/msword", {".doc"}},
       {"application/vnd.ms-excel", {".xls"}},
       {"application/vnd.ms-powerpoint", {".ppt"}},
       {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", {".docx"}},
       {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", {".xlsx"}},
       {"application/vnd.openxmlformats-officedocument.presentationml.presentation", {".pptx"}},
       {"application/vnd.oasis.opendocument.text", {".odt"}},
       {"application/vnd.oasis.opendocument.spreadsheet", {".ods"}},
       {"application/vnd.oasis.opendocument.presentation", {".odp"}}};
  for (const auto& [type, extensions] : kExtensions) {
    if (type != media_type) continue;
    std::string lower = filename;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    for (const auto extension : extensions)
      if (lower.size() > extension.size() &&
          lower.compare(lower.size() - extension.size(), extension.size(), extension) == 0)
        return filename;
    if (filename.size() + extensions.front().size() > 205)
      filename.resize(200 - extensions.front().size());
    return filename + std::string(extensions.front());
  }
  return filename;  // a type configured beyond these: its name as given
}

std::string AttachmentStore::disposition(std::string_view filename) {
  std::string ascii;
  std::string encoded;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char ch : filename) {
    const auto c = static_cast<unsigned char>(ch);
    ascii += (c < 0x20 || c >= 0x7F || c == '"' || c == '\\') ? '_' : ch;
    if (std::isalnum(c) || std::string_view("!#$&+-.^_`|~").find(ch) != std::string_view::npos) {
      encoded += ch;
    } else {
      encoded += '%';
      encoded += kHex[c >> 4];
      encoded += kHex[c & 0xF];
    }
  }
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

}  // namespace passerelle
