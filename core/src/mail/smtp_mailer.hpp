// Host::mail(): one message at a time to the configured SMTP relay with libcurl's SMTP client
// (STARTTLS required unless the config says otherwise, the relay's certificate verified), on
// the plugins' blocking pool. No relay configured: configured() is false and send() throws.
#pragma once

#include "config/config.hpp"
#include "passerelle/host.hpp"

namespace passerelle {

class BlockingPool;

/// One address (local@domain), with nothing that could end a header or an SMTP command.
bool plain_mail_address(const std::string& address);

class SmtpMailer final : public Mailer {
 public:
  /// Reads the password file now (a missing file is a start-up error).
  SmtpMailer(MailConfig config, std::string ca_file, BlockingPool& blocking);

  bool configured() const override { return !config_.relay.empty(); }
  Task<void> send(Mail mail) override;

  /// The message as it goes on the wire (headers, blank line, body; CRLF), for tests.
  static std::string message_text(const Mail& mail, const std::string& from,
                                  std::int64_t now_seconds, const std::string& message_id);

 private:
  void send_now(const Mail& mail) const;  // blocking: on the pool

  MailConfig config_;
  std::string ca_file_;
  std::string password_;
  BlockingPool& blocking_;
};

}  // namespace passerelle
