// Requests, responses and errors as plugins see them: plain values, no network types.
#pragma once

#include "passerelle/export.hpp"
#include "passerelle/identity.hpp"
#include "passerelle/task.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace passerelle {

/// A file an upload route (Route::uploads) received, kept by the host (Host::attachments).
struct Attachment {
  std::string id;          ///< The host's key of the file: 128 random bits, url-safe.
  std::string field;       ///< The form field it came in.
  std::string filename;    ///< The client's name for it, cleaned: no folder, no control character.
  std::string media_type;  ///< Read from the content (libmagic), never from the name.
  std::int64_t size = 0;   ///< Bytes.
  std::string sha256;      ///< Hex digest of the content.
};

/// Bytes read as they come rather than held whole: the body of a request to a
/// Route::streams_body route (Request::body_stream), or an answer's body produced as it is sent
/// (Response::stream).
class PASSERELLE_SDK_API BodyStream {
 public:
  virtual ~BodyStream() = default;
  /// Fills `into` with the next bytes and says how many; 0 once the body has ended. A request
  /// body throws HttpError: 413 past the route's limit, 408 when the client is too slow, 400
  /// when it broke off. An answer's stream that throws ends the connection (the client sees
  /// the answer cut short).
  virtual Task<std::size_t> read(std::span<char> into) = 0;
};

/// A request routed to a plugin. Header names are lower case.
struct Request {
  std::string method;                              ///< "GET", "POST", ...
  std::string path;                                ///< Decoded path, without the query.
  std::map<std::string, std::string> path_params;  ///< Values of `{name}` segments.
  std::map<std::string, std::string> query;        ///< Decoded query parameters (last wins).
  std::string raw_query;  ///< The query as received, still encoded, without '?' (may be empty).
  std::map<std::string, std::string> headers;  ///< Lower-case names; cookies removed.
  std::string body;                            ///< Raw body, within the configured limit.
  /// A Route::streams_body route's body, read as it comes (`body` is then empty); null when
  /// the request has none. Valid until the handler's coroutine ends: past its deadline the host
  /// cancels it and waits for that end, so such a handler must wait only on cancellable
  /// operations (the host's, Asio's).
  BodyStream* body_stream = nullptr;
  /// An upload route's text fields (its body is then empty), within 64 KiB in all.
  std::map<std::string, std::string> form;
  /// An upload route's files, received whole, typed, scanned and stored before the handler
  /// runs. The host removes them again unless the handler answers 2xx.
  std::vector<Attachment> files;
  std::optional<Identity> identity;  ///< Set when the user is authenticated.
  std::string request_id;            ///< Id echoed in X-Request-Id and logs.

  /// Value of a path parameter; throws HttpError 400 when absent.
  const std::string& param(const std::string& name) const;
  /// Query parameter or std::nullopt.
  std::optional<std::string> query_param(const std::string& name) const {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }
  /// Header value or std::nullopt (name in lower case).
  std::optional<std::string> header(const std::string& name) const {
    auto it = headers.find(name);
    if (it == headers.end()) return std::nullopt;
    return it->second;
  }
};

/// A response produced by a plugin.
struct Response {
  int status = 200;                                          ///< HTTP status code.
  std::string content_type = "application/json";             ///< Content-Type header.
  std::string body;                                          ///< Body bytes.
  std::vector<std::pair<std::string, std::string>> headers;  ///< Extra headers.
  /// When set, the body, sent as it is read (`body` is ignored): with Content-Length when
  /// `stream_length` is known, else chunked. The host reads it after the handler returned,
  /// outside its deadline: each read must have a timeout of its own.
  std::shared_ptr<BodyStream> stream;
  std::int64_t stream_length = -1;  ///< The streamed body's length in bytes; -1: unknown.
  /// Content the gateway did not write (a proxied service's page, a user's file): served under
  /// "Content-Security-Policy: sandbox; default-src 'none'; frame-ancestors 'none'" instead of
  /// the gateway's own policy, so that it runs no script and never acts as the gateway's origin.
  /// A Content-Security-Policy among `headers` still replaces either.
  bool sandboxed = false;

  /// A JSON response with the given status.
  static Response json(const boost::json::value& value, int status = 200) {
    Response r;
    r.status = status;
    r.body = boost::json::serialize(value);
    return r;
  }
  /// A plain text response with the given status.
  static Response text(std::string body, int status = 200) {
    Response r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(body);
    return r;
  }
};

/// The error a handler throws to answer with a given status. `code` is a short stable
/// identifier (e.g. "not_found"); `message` is shown to the user, so it holds no internal detail.
class PASSERELLE_SDK_API HttpError : public std::runtime_error {
 public:
  /// An error answered as `{"error":{"code":code,"message":message,"request_id":...}}`.
  HttpError(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  /// HTTP status to answer with.
  int status() const noexcept { return status_; }
  /// Stable machine-readable code.
  const std::string& code() const noexcept { return code_; }

 private:
  int status_;
  std::string code_;
};

inline const std::string& Request::param(const std::string& name) const {
  auto it = path_params.find(name);
  if (it == path_params.end()) throw HttpError(400, "bad_request", "missing parameter " + name);
  return it->second;
}

}  // namespace passerelle
