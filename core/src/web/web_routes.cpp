// Serving the portal from memory: coding chosen from Accept-Encoding, hashed names cached for a
// year, everything else revalidated with its strong ETag.
#include "web/web_routes.hpp"

namespace passerelle {
namespace {

// The router matches whole segments only: one template per depth under /assets/. The DSFR
// files sit a few folders deep at most.
constexpr int kMaxAssetDepth = 8;

const StaticBody& pick_body(const StaticFile& file, const std::string* accept_encoding,
                            std::string& coding) {
  const AcceptedCodings ok = parse_accept_encoding(accept_encoding);
  const bool br = file.brotli && ok.brotli > 0;
  const bool gz = file.gzip && ok.gzip > 0;
  if (br && (!gz || ok.brotli >= ok.gzip)) {
    coding = "br";
    return *file.brotli;
  }
  if (gz) {
    coding = "gzip";
    return *file.gzip;
  }
  coding.clear();
  return file.identity;
}

}  // namespace

Response serve_static(const StaticSite* site, const std::string& name, const IncomingRequest& in) {
  const StaticFile* file = site ? site->find(name) : nullptr;
  if (!file) throw HttpError(404, "not_found", "no such resource");
  std::string coding;
  const StaticBody& body = pick_body(*file, in.header("accept-encoding"), coding);
  Response r;
  r.content_type = file->content_type;
  r.headers.emplace_back("ETag", body.etag);
  r.headers.emplace_back("Cache-Control",
                         file->immutable ? "public, max-age=31536000, immutable" : "no-cache");
  // Caches keep one copy per coding once a file has compressed siblings.
  if (file->gzip || file->brotli) r.headers.emplace_back("Vary", "Accept-Encoding");
  if (!coding.empty()) r.headers.emplace_back("Content-Encoding", coding);
  if (file->content_type.rfind("text/html", 0) == 0)
    r.headers.emplace_back("Content-Security-Policy", kPageCsp);
  const std::string* if_none_match = in.header("if-none-match");
  if (if_none_match && etag_matches(*if_none_match, body.etag)) {
    r.status = 304;
    return r;
  }
  r.body = body.bytes;
  return r;
}

std::vector<CoreRoute> web_routes(CurrentSite site, const std::vector<std::string>& pages) {
  std::vector<CoreRoute> routes;
  auto asset = [site](CoreRequest& req) {
    // The decoded path as sent ("/assets/a//b" stays distinct from "/assets/a/b"): the
    // snapshot is looked up by exact name.
    const auto current = site();
    return serve_static(current.get(), req.path.substr(1), req.in);
  };
  std::string path = "/assets";
  for (int depth = 1; depth <= kMaxAssetDepth; ++depth) {
    path += "/{p" + std::to_string(depth) + "}";
    routes.push_back(
        {{.method = "GET", .path = path, .authenticate = false, .immediate = true}, {}, asset});
  }
  auto page = [site](CoreRequest& req) {
    const auto current = site();
    return serve_static(current.get(), "index.html", req.in);
  };
  for (const auto& p : pages)
    routes.push_back(
        {{.method = "GET", .path = p, .authenticate = false, .immediate = true}, {}, page});
  return routes;
}

}  // namespace passerelle
