// The whole plugin SDK: the only header a plugin needs.
#pragma once

#include "passerelle/host.hpp"
#include "passerelle/http.hpp"
#include "passerelle/identity.hpp"
#include "passerelle/plugin.hpp"
#include "passerelle/task.hpp"
#include "passerelle/territories.hpp"
#include "passerelle/version.hpp"
