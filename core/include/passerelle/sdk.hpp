// The whole plugin SDK in one include; each concern also has its own header.
#pragma once

#include "passerelle/attachments.hpp"
#include "passerelle/config.hpp"
#include "passerelle/database.hpp"
#include "passerelle/export.hpp"
#include "passerelle/host.hpp"
#include "passerelle/http.hpp"
#include "passerelle/http_client.hpp"
#include "passerelle/identity.hpp"
#include "passerelle/logger.hpp"
#include "passerelle/mail.hpp"
#include "passerelle/metrics.hpp"
#include "passerelle/plugin.hpp"
#include "passerelle/service.hpp"
#include "passerelle/task.hpp"
#include "passerelle/territories.hpp"
#include "passerelle/version.hpp"
