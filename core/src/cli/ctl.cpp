#include "cli/ctl.hpp"

#include "client/http_client.hpp"
#include "util/run_sync.hpp"

#include <boost/json.hpp>

#include <cstdlib>
#include <iostream>

namespace passerelle {

const char* const kCtlUsage =
    "       passerelle --config FILE ctl plugins | health | reload-config\n"
    "                                 | load NAME LIBRARY [CONFIG_JSON] | reload NAME [LIBRARY]\n"
    "                                 | remove NAME\n"
    "         (PASSERELLE_TOKEN: an operator's API token; PASSERELLE_URL: the gateway, default\n"
    "          server.public_url or https://localhost:PORT; PASSERELLE_CA_FILE: its CA)\n";

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

int usage() {
  std::cerr << "usage:\n" << kCtlUsage;
  return 64;
}

}  // namespace

int run_ctl(const Config& config, const std::vector<std::string>& args) {
  // args[0] is "ctl".
  if (args.size() < 2) return usage();
  const std::string& verb = args[1];
  const auto arg = [&args](std::size_t i) { return i < args.size() ? args[i] : std::string(); };
  OutboundRequest request;
  if (verb == "plugins" && args.size() == 2) {
    request.url = "/admin/plugins";
  } else if (verb == "health" && args.size() == 2) {
    request.url = "/readyz";
  } else if (verb == "reload-config" && args.size() == 2) {
    request = {"POST", "/admin/reload", {}, "{}"};
  } else if (verb == "load" && (args.size() == 4 || args.size() == 5)) {
    boost::json::object body{{"name", arg(2)}, {"library", arg(3)}};
    if (args.size() == 5) {
      boost::system::error_code ec;
      auto parsed = boost::json::parse(arg(4), ec);
      if (ec || !parsed.is_object()) {
        std::cerr << "passerelle ctl: CONFIG_JSON must be a JSON object\n";
        return 64;
      }
      body["config"] = std::move(parsed);
    }
    request = {"POST", "/admin/plugins", {}, boost::json::serialize(body)};
  } else if (verb == "reload" && (args.size() == 3 || args.size() == 4)) {
    boost::json::object body;
    if (args.size() == 4) body["library"] = arg(3);
    request = {"POST", "/admin/plugins/" + arg(2) + "/reload", {}, boost::json::serialize(body)};
  } else if (verb == "remove" && args.size() == 3) {
    request = {"DELETE", "/admin/plugins/" + arg(2), {}, ""};
  } else {
    return usage();
  }
  for (const auto& name : {arg(2)})
    if (!name.empty() && verb != "load" &&
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") != std::string::npos) {
      std::cerr << "passerelle ctl: a plugin's name is lower-case letters, digits, - or _\n";
      return 64;
    }

  std::string base = env("PASSERELLE_URL");
  if (base.empty()) base = config.server.public_url;
  if (base.empty() && config.server.https_port != 0)
    base = "https://localhost:" + std::to_string(config.server.https_port);
  if (base.empty()) {
    std::cerr << "passerelle ctl: the gateway's address is unknown: set PASSERELLE_URL\n";
    return 64;
  }
  const std::string token = env("PASSERELLE_TOKEN");
  if (token.empty() && verb != "health") {
    std::cerr << "passerelle ctl: set PASSERELLE_TOKEN to an operator's API token "
                 "(passerelle --config FILE tokens create --user U --name N)\n";
    return 64;
  }
  request.url = base + request.url;
  request.headers.emplace_back("Accept", "application/json");
  if (!request.body.empty()) request.headers.emplace_back("Content-Type", "application/json");
  if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
  request.timeout = std::chrono::seconds(120);  // a reload waits for the old plugin to drain

  OutboundConfig outbound = config.outbound;
  if (const std::string ca = env("PASSERELLE_CA_FILE"); !ca.empty()) outbound.ca_file = ca;
  OutboundHttpClient client(outbound);
  OutboundResponse response;
  try {
    response = run_sync(client.fetch(std::move(request)));
  } catch (const std::exception& e) {
    std::cerr << "passerelle ctl: " << e.what() << '\n';
    return 1;
  }
  const bool ok = response.status >= 200 && response.status < 300;
  (ok ? std::cout : std::cerr) << response.status << ' ' << response.body << '\n';
  return ok ? 0 : 1;
}

}  // namespace passerelle
