// Mail from a plugin, through the gateway's SMTP relay.
#pragma once

#include "passerelle/export.hpp"
#include "passerelle/task.hpp"

#include <string>

namespace passerelle {

/// An e-mail to one recipient: plain text, UTF-8.
struct Mail {
  std::string to;       ///< one address, e.g. "agent@mairie.fr"
  std::string subject;  ///< one line
  std::string text;     ///< the body
};

/// Sends mail through the gateway's SMTP relay (config `mail:`), off the I/O threads.
class PASSERELLE_SDK_API Mailer {
 public:
  virtual ~Mailer() = default;
  /// False when the gateway has no relay configured: send() then throws.
  virtual bool configured() const = 0;
  /// Hands the message to the relay, within the configured timeout. Throws
  /// std::runtime_error with the reason (relay down, refused, bad address): the caller keeps
  /// the message and tries again later (an outbox in its own tables).
  virtual Task<void> send(Mail mail) = 0;
};

}  // namespace passerelle
