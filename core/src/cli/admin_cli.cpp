// Admin commands run against the store directly (the gateway may be running: SQLite in WAL mode
// lets both work). Passwords come from stdin or a prompt, never from the command line.
#include "cli/admin_cli.hpp"

#include "auth/accounts.hpp"
#include "auth/api_tokens.hpp"
#include "auth/relay.hpp"
#include "auth/secret_box.hpp"
#include "store/core_schema.hpp"
#include "store/open_store.hpp"
#include "store/store_copy.hpp"
#include "territories/importer.hpp"
#include "territories/territory_store.hpp"
#include "util/blocking_pool.hpp"

#include "util/run_sync.hpp"

#include <termios.h>
#include <unistd.h>
#include <iostream>
#include <map>

namespace passerelle {

const char* const kAdminUsage =
    "       passerelle --config FILE users add USERNAME --name NAME [--email E] [--roles "
    "elu,agent]\n"
    "                                 [--commune INSEE] [--siret SIRET]   (password on stdin)\n"
    "       passerelle --config FILE users list | disable U | enable U | passwd U | roles U R1,R2\n"
    "       passerelle --config FILE tokens create --user U --name N | list | revoke ID\n"
    "       passerelle --config FILE territories import DIR   (JSON files of "
    "@etalab/decoupage-administratif)\n"
    "       passerelle --config FILE store copy --to postgresql://USER@HOST:PORT/DB [--sessions]\n"
    "                                 (SQLite into an empty PostgreSQL database; the password "
    "from PGPASSWORD)\n";

namespace {

std::string read_password() {
  if (!isatty(STDIN_FILENO)) {
    std::string line;
    std::getline(std::cin, line);
    return line;
  }
  auto prompt = [](const char* text) {
    std::cerr << text << std::flush;
    termios old{};
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~ECHO;
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::string line;
    std::getline(std::cin, line);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << '\n';
    return line;
  };
  std::string first = prompt("Password: ");
  if (prompt("Again: ") != first) throw AccountError("the two passwords differ");
  return first;
}

// "--key value" pairs after the positional arguments.
std::map<std::string, std::string> options(const std::vector<std::string>& args, std::size_t from) {
  std::map<std::string, std::string> out;
  for (std::size_t i = from; i < args.size(); ++i) {
    if (args[i].rfind("--", 0) != 0 || i + 1 >= args.size())
      throw AccountError("unexpected argument " + args[i]);
    out[args[i].substr(2)] = args[i + 1];
    ++i;
  }
  return out;
}

// Tells the gateways sharing a PostgreSQL store (nothing to tell with SQLite: the running
// gateway sees the change within auth.session_cache.ttl, or on SIGHUP for territories), and
// waits until the news has left.
void tell_instances(const Config& config, Store& store, const char* channel,
                    std::initializer_list<std::pair<const char*, const char*>> messages) {
  if (!config.store.postgresql) return;
  const SecretBox key = SecretBox::from_config(config.auth);
  for (const auto& [domain, message] : messages)
    store.notify(channel, auth::sign_relayed(key, domain, message));
  run_sync(store.notifications_sent());
}

// Every instance forgets the callers it keeps (sessions and tokens are read again from the
// store): coarse, and right after any change to an account or a token.
void forget_callers_everywhere(const Config& config, Store& store) {
  tell_instances(config, store, auth::kCallersChannel, {{"", "s*"}, {"", "t*"}});
}

std::string arg(const std::vector<std::string>& args, std::size_t i) {
  if (i >= args.size()) throw AccountError("missing argument");
  return args[i];
}

}  // namespace

int run_admin_command(const Config& config, const std::vector<std::string>& args) {
  try {
    if (args.size() >= 2 && args[0] == "store" && args[1] == "copy") {
      StoreCopyOptions copy;
      for (std::size_t i = 2; i < args.size(); ++i) {
        if (args[i] == "--sessions")
          copy.sessions = true;
        else if (args[i] == "--to" && i + 1 < args.size())
          copy.to = args[++i];
        else
          throw AccountError("unexpected argument " + args[i]);
      }
      if (copy.to.empty()) throw AccountError("store copy: --to postgresql://... is required");
      copy_store(config, copy, std::cout);
      return 0;
    }
    auto opened = open_store(config.store, 1, plugin_role_secret(config));
    Store& store = *opened;
    BlockingPool pool(1);
    run_sync(store.migrate("core", core_migrations()));
    Accounts accounts(store, pool, config.demo);
    ApiTokens tokens(store);
    const std::string group = arg(args, 0);
    const std::string verb = arg(args, 1);
    if (group == "users" && verb == "add") {
      auto o = options(args, 3);
      NewAccount a;
      a.username = arg(args, 2);
      a.display_name = o["name"];
      a.email = o["email"];
      a.roles = parse_roles(o["roles"]);
      a.commune_insee = o["commune"];
      a.siret = o["siret"];
      for (const auto& [k, v] : o)
        if (k != "name" && k != "email" && k != "roles" && k != "commune" && k != "siret")
          throw AccountError("unknown option --" + k);
      Accounts::check_username(a.username);
      a.password = read_password();
      const auto id = run_sync(accounts.create(std::move(a)));
      std::cout << "created account " << arg(args, 2) << " (id " << id << ")\n";
    } else if (group == "users" && verb == "list") {
      for (const auto& a : run_sync(accounts.list()))
        std::cout << a.id << '\t' << (a.username.empty() ? "(federated)" : a.username) << '\t'
                  << a.display_name << '\t' << join_roles(a.roles) << '\t' << a.commune_insee
                  << '\t' << (a.enabled ? "enabled" : "disabled") << '\n';
    } else if (group == "users" && (verb == "disable" || verb == "enable")) {
      run_sync(accounts.set_enabled(arg(args, 2), verb == "enable"));
      forget_callers_everywhere(config, store);
      std::cout << "account " << arg(args, 2) << ' ' << verb << "d\n";
    } else if (group == "users" && verb == "passwd") {
      run_sync(accounts.set_password(arg(args, 2), read_password()));
      forget_callers_everywhere(config, store);
      std::cout << "password of " << arg(args, 2) << " changed\n";
    } else if (group == "users" && verb == "roles") {
      run_sync(accounts.set_roles(arg(args, 2), parse_roles(arg(args, 3))));
      forget_callers_everywhere(config, store);
      std::cout << "roles of " << arg(args, 2) << " set to " << arg(args, 3) << '\n';
    } else if (group == "territories" && verb == "import") {
      const std::string folder = arg(args, 2);
      TerritoryData data = read_territories(folder);
      const auto counts = std::to_string(data.regions.size()) + " regions, " +
                          std::to_string(data.departments.size()) + " departments, " +
                          std::to_string(data.communes.size()) + " communes";
      run_sync(save_territories(store, std::move(data), folder));
      tell_instances(config, store, auth::kTerritoriesChannel, {{"territories ", "imported"}});
      std::cout << "imported " << counts << " from " << folder
                << (config.store.postgresql
                        ? " (the running gateways on this database read them now)\n"
                        : " (a running gateway reads them on kill -HUP)\n");
    } else if (group == "tokens" && verb == "create") {
      auto o = options(args, 2);
      std::cout << run_sync(tokens.create(o["user"], o["name"])) << '\n';
      std::cerr << "keep this token now: it is shown only once\n";
    } else if (group == "tokens" && verb == "list") {
      for (const auto& t : run_sync(tokens.list()))
        std::cout << t.id << '\t' << t.username << '\t' << t.name << '\t' << t.created_at << '\t'
                  << (t.revoked ? "revoked" : "active") << '\n';
    } else if (group == "tokens" && verb == "revoke") {
      if (!run_sync(tokens.revoke(std::stoll(arg(args, 2)))))
        throw AccountError("no active token " + arg(args, 2));
      forget_callers_everywhere(config, store);
      std::cout << "token " << arg(args, 2) << " revoked\n";
    } else {
      std::cerr << "usage:\n" << kAdminUsage;
      return 64;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "passerelle: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace passerelle
