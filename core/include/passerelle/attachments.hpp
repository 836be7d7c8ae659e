// The files a plugin's upload routes received, kept by the host.
#pragma once

#include "passerelle/export.hpp"
#include "passerelle/http.hpp"
#include "passerelle/task.hpp"

#include <optional>
#include <string>

namespace passerelle {

/// The files the plugin's upload routes received (Route::uploads). A plugin reaches only the
/// files it received: another plugin's id is unknown here. Keep the ids in your own tables,
/// with the record they belong to, and check who may read that record before download().
class PASSERELLE_SDK_API Attachments {
 public:
  virtual ~Attachments() = default;
  /// The file's description, or nothing.
  virtual Task<std::optional<Attachment>> find(std::string id) = 0;
  /// An answer that sends the file as a download: its type, `Content-Disposition: attachment`
  /// with its name, `X-Content-Type-Options: nosniff`. HttpError 404 when there is no such file.
  virtual Task<Response> download(std::string id) = 0;
  /// Removes the file; its content goes from the disk once no other attachment shares it.
  virtual Task<void> remove(std::string id) = 0;
};

}  // namespace passerelle
