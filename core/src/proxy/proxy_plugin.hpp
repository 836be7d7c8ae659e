// A proxied service by configuration (a plugin entry of kind proxy): its routes under
// /api/<name> forwarded to an existing HTTP(S) service, with the caller's identity as a
// short-lived signed JWT instead of the gateway's cookie or token.
#pragma once

#include "passerelle/plugin.hpp"

#include <memory>
#include <string>

namespace passerelle {

/// The plugin a `kind: proxy` entry named `name` runs.
std::unique_ptr<Plugin> make_proxy_plugin(const std::string& name);

}  // namespace passerelle
