#include "mail/smtp_mailer.hpp"

#include "auth/crypto.hpp"
#include "util/blocking_pool.hpp"

#include <curl/curl.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace passerelle {

namespace {

// The address inside "Name <address>", or the text itself.
std::string address_of(const std::string& who) {
  const auto open = who.rfind('<');
  const auto close = who.rfind('>');
  if (open != std::string::npos && close != std::string::npos && close > open)
    return who.substr(open + 1, close - open - 1);
  return who;
}

// RFC 2047: a header value in UTF-8, base64 in encoded words when it is not plain ASCII (or
// looks like encoded words already).
std::string encoded_header(const std::string& text) {
  bool ascii = true;
  for (const char c : text) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii && text.find("=?") == std::string::npos) return text;
  std::string out;
  // Encoded words of at most 45 bytes of text each (60 base64 characters), cut on a character.
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = std::min<std::size_t>(45, text.size() - i);
    while (i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) --n;
    out += (out.empty() ? "" : "\r\n ") + std::string("=?UTF-8?B?") +
           auth::base64(std::string_view(text).substr(i, n)) + "?=";
    i += n;
  }
  return out;
}

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct ListFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct Upload {
  const std::string* text;
  std::size_t at = 0;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* up = static_cast<Upload*>(user);
  const std::size_t n = std::min(size * count, up->text->size() - up->at);
  std::memcpy(buffer, up->text->data() + up->at, n);
  up->at += n;
  return n;
}

}  // namespace

// One address, nothing that could end a header or an SMTP command.
bool plain_mail_address(const std::string& a) {
  if (a.empty() || a.size() > 254) return false;
  const auto at = a.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == a.size() || a.find('@', at + 1) != a.npos)
    return false;
  for (const char c : a)
    if (static_cast<unsigned char>(c) <= ' ' || c == '<' || c == '>' || c == ',' || c == ';' ||
        c == '"' || c == '(' || c == ')' || static_cast<unsigned char>(c) >= 0x7F)
      return false;
  return true;
}

SmtpMailer::SmtpMailer(MailConfig config, std::string ca_file, BlockingPool& blocking)
    : config_(std::move(config)), ca_file_(std::move(ca_file)), blocking_(blocking) {
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (!config_.password_file.empty()) {
    std::ifstream in(config_.password_file);
    if (!in) throw std::runtime_error("mail.password_file: cannot read " + config_.password_file);
    std::getline(in, password_);
    while (!password_.empty() && (password_.back() == '\r' || password_.back() == ' '))
      password_.pop_back();
  }
}

std::string SmtpMailer::message_text(const Mail& mail, const std::string& from,
                                     std::int64_t now_seconds, const std::string& message_id) {
  char date[64];
  const std::time_t t = static_cast<std::time_t>(now_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  // From: the display name encoded (or quoted), the address as it is.
  const std::string address = address_of(from);
  std::string name = from.substr(0, from.rfind('<') == std::string::npos ? 0 : from.rfind('<'));
  while (!name.empty() && (name.back() == ' ' || name.back() == '"')) name.pop_back();
  while (!name.empty() && (name.front() == ' ' || name.front() == '"')) name.erase(0, 1);
  std::string from_header = address;
  if (!name.empty()) {
    const std::string encoded = encoded_header(name);
    std::string quoted;
    for (const char c : name)
      quoted += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
    from_header = (encoded == name ? "\"" + quoted + "\"" : encoded) + " <" + address + ">";
  }
  // (A subject that looks encoded already is encoded, so that it reads as it was written.)
  const std::string subject = encoded_header(mail.subject);
  std::string out = "Date: " + std::string(date) + "\r\nFrom: " + from_header +
                    "\r\nTo: " + mail.to + "\r\nSubject: " + subject + "\r\nMessage-ID: <" +
                    message_id + "@" + address.substr(address.find('@') + 1) +
                    ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8"
                    "\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  // The body: its lines end in CRLF whatever they ended in, control characters but tabs
  // dropped; then base64 in lines of 76 (no line over SMTP's 998, no 8BITMIME needed, nothing
  // in it an SMTP server could read as a command).
  std::string body;
  for (std::size_t i = 0; i < mail.text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(mail.text[i]);
    if (c == '\r' || c == '\n') {
      body += "\r\n";
      if (c == '\r' && i + 1 < mail.text.size() && mail.text[i + 1] == '\n') ++i;
    } else if (c >= 0x20 || c == '\t') {
      body += static_cast<char>(c);
    }
  }
  const std::string encoded = auth::base64(body);
  for (std::size_t at = 0; at < encoded.size(); at += 76) out += encoded.substr(at, 76) + "\r\n";
  return out;
}

Task<void> SmtpMailer::send(Mail mail) {
  if (!configured()) throw std::runtime_error("no mail relay is configured (mail.relay)");
  if (!plain_mail_address(mail.to))
    throw std::runtime_error("not one address: " + mail.to.substr(0, 80));
  if (mail.subject.find_first_of("\r\n") != std::string::npos || mail.subject.size() > 500)
    throw std::runtime_error("the subject must be one line of at most 500 bytes");
  // Named first: g++ 12 mishandles a lambda inside a co_await expression (README).
  auto job = [this, mail = std::move(mail)] { send_now(mail); };
  co_await blocking_.run(std::move(job));
}

void SmtpMailer::send_now(const Mail& mail) const {
  const std::string id = auth::random_token(12);  // base64url: atext, fit for a Message-ID
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::string text = message_text(mail, config_.from, now, id);
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) throw std::runtime_error("mail: out of memory");
  CURL* c = curl.get();
  std::unique_ptr<curl_slist, ListFree> rcpt(curl_slist_append(nullptr, mail.to.c_str()));
  const std::string from = "<" + address_of(config_.from) + ">";
  Upload up{&text};
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, config_.relay.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(c, CURLOPT_READDATA, &up);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  // smtp:// with STARTTLS required, unless the config turns it off (a relay on loopback);
  // smtps:// is TLS from the start. TLS 1.2 at least, the relay's certificate checked.
  if (config_.relay.rfind("smtps://", 0) == 0 || config_.starttls)
    curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!ca_file_.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, ca_file_.c_str());
  if (!config_.username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, config_.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, password_.c_str());
  }
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    throw std::runtime_error(
        "mail to the relay failed: " + std::string(error[0] ? error : curl_easy_strerror(rc)) +
        (code ? " (SMTP " + std::to_string(code) + ")" : ""));
  }
}

}  // namespace passerelle
