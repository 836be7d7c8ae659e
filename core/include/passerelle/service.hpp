// What one plugin offers the others: an interface of its own, derived from Service.
#pragma once

#include "passerelle/export.hpp"

namespace passerelle {

/// A service one plugin offers the others (SDK 0.6): an interface of its own, derived from
/// this, declared in a header both plugins include (only the header: plugins never link each
/// other), with PASSERELLE_SDK_API so that the cast below works across libraries. Its
/// functions run on the caller's threads, so they must be safe to call from any thread.
class PASSERELLE_SDK_API Service {
 public:
  virtual ~Service() = default;
};

}  // namespace passerelle
