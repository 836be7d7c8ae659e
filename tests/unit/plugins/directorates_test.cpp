// The directorates plugin: its rules as plain functions, then its routes through the real
// library over the territories fixture.
#include "directorate.hpp"
#include "france.hpp"
#include "snapshot_cell.hpp"
#include "support/app_fixture.hpp"

#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <atomic>
#include <future>
#include <latch>
#include <thread>

using namespace passerelle;
using namespace passerelle::test;
namespace dir = passerelle::plugins::directorates;

namespace {

const std::string kSeed = std::string(PASSERELLE_TEST_FIXTURES) + "/directorates/directorates.yaml";

std::string plugin_yaml(const std::string& seed = kSeed) {
  return "  - name: directorates\n    library: " + module("directorates") +
         "\n    config:\n      data_file: " + seed + "\n";
}

int status_of(const std::string& body) {
  try {
    dir::directorate_from_json(body);
  } catch (const HttpError& e) {
    return e.status();
  }
  return 200;
}

std::string message_of(const std::string& body) {
  try {
    dir::directorate_from_json(body);
  } catch (const HttpError& e) {
    return e.what();
  }
  return "";
}

const char* kNew =
    R"({"id":"x","name":"X","region":"52","departments":["49"],"address":"a","phone":"+33 1","email":"x@y.fr"})";
const std::string kProductSeed = std::string(PASSERELLE_SOURCE_DIR) + "/config/directorates.yaml";

// The body of a PUT of pays-de-la-loire (as in the fixture seed) with `contacts` (a JSON list).
std::string pdl(const std::string& name, const std::string& contacts = "[]") {
  return R"({"id":"pays-de-la-loire","name":")" + name +
         R"(","region":"52","departments":["44","49","53","72","85"],"address":"a","phone":"+33 2","email":"pdl@x.fr","contacts":)" +
         contacts + "}";
}

std::string contact(const std::string& name, const std::string& id = "") {
  return "{" + (id.empty() ? "" : "\"id\":" + id + ",") + R"("role":"r","name":")" + name +
         R"(","email":"a@b.fr","phone":"+33 2","themes":[]})";
}

std::string contacts(int n) {
  std::string out = "[";
  for (int i = 0; i < n; ++i) out += (i ? "," : "") + contact("c" + std::to_string(i));
  return out + "]";
}

std::vector<std::int64_t> contact_ids(const boost::json::value& directorate) {
  std::vector<std::int64_t> ids;
  for (const auto& c : directorate.at("contacts").as_array()) ids.push_back(c.at("id").as_int64());
  return ids;
}

struct Directorates : AppFixture {
  Directorates() {
    start(plugin_yaml());
    identity = make_identity({"operator"});
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(directorates)

BOOST_AUTO_TEST_CASE(seed_files_load_and_cover_france) {
  BOOST_TEST(dir::load_yaml(kSeed).size() == 4u);
  // The product file: every department of France exactly once (checked against the full data
  // in demo mode at start; here its own consistency).
  auto all = dir::load_yaml(std::string(PASSERELLE_SOURCE_DIR) + "/config/directorates.yaml");
  std::set<std::string> departments;
  std::size_t listed = 0;
  for (const auto& d : all) {
    listed += d.departments.size();
    departments.insert(d.departments.begin(), d.departments.end());
  }
  BOOST_TEST(departments.size() == 101u);
  BOOST_TEST(listed == 101u);
}

BOOST_AUTO_TEST_CASE(coverage_names_missing_and_doubled_departments) {
  TerritoryIndex t(read_territories(std::string(PASSERELLE_TEST_FIXTURES) + "/territories"));
  auto all = dir::load_yaml(kSeed);
  BOOST_TEST(dir::coverage_problems(all, t).empty());
  all[1].departments.push_back("49");
  all.pop_back();  // guadeloupe
  auto problems = dir::coverage_problems(all, t);
  BOOST_TEST_REQUIRE(problems.size() == 3u);
  BOOST_TEST(problems[0] == "directorate bretagne: department 49 is in region 52, not 53");
  BOOST_TEST(problems[1] ==
             "department 49 (Maine-et-Loire) is covered twice: pays-de-la-loire and bretagne");
  BOOST_TEST(problems[2] == "department 971 (Guadeloupe) is not covered");
}

BOOST_AUTO_TEST_CASE(the_official_list_has_the_101_departments_and_18_regions) {
  const auto& departments = dir::official_departments();
  const auto& regions = dir::official_regions();
  BOOST_TEST(departments.size() == 101u);
  BOOST_TEST(regions.size() == 18u);
  std::set<std::string_view> region_codes, department_codes;
  for (const auto& r : regions) region_codes.insert(r.code);
  for (const auto& d : departments) {
    department_codes.insert(d.code);
    BOOST_TEST(region_codes.count(d.region) == 1u, d.code);
  }
  BOOST_TEST(department_codes.size() == 101u);
  BOOST_TEST(region_codes.size() == 18u);
  // Where the fixture (copied from the published data) has them, the same names and regions.
  TerritoryIndex t(read_territories(std::string(PASSERELLE_TEST_FIXTURES) + "/territories"));
  BOOST_TEST_REQUIRE(!t.departments().empty());
  for (const Department* d : t.departments()) {
    const auto* official = dir::official_department(d->code);
    BOOST_TEST_REQUIRE(official != nullptr, d->code);
    BOOST_TEST(official->name == d->name);
    BOOST_TEST(official->region == d->region);
  }
}

BOOST_AUTO_TEST_CASE(the_product_seed_is_accepted_whatever_part_of_france_is_imported) {
  const auto all = dir::load_yaml(kProductSeed);
  // Only the fixture's departments imported (the offline demo): the others are known from the
  // official list, and the fixture's are all covered.
  TerritoryIndex partial(read_territories(std::string(PASSERELLE_TEST_FIXTURES) + "/territories"));
  BOOST_TEST(dir::coverage_problems(all, partial).empty());
  // Nothing imported: checked against the official list alone.
  TerritoryIndex none;
  BOOST_TEST(dir::coverage_problems(all, none).empty());
  // The fixture seed does not cover France.
  auto problems = dir::coverage_problems(dir::load_yaml(kSeed), none);
  BOOST_TEST_REQUIRE(problems.size() == 101u - 12u);
  BOOST_TEST(problems[0] == "department 01 (Ain) is not covered");
  // A department known nowhere, or in another region, is still refused.
  auto wrong = all;
  wrong[0].departments.push_back("99");
  wrong[1].departments.push_back("2A");
  problems = dir::coverage_problems(wrong, partial);
  BOOST_TEST_REQUIRE(problems.size() == 3u);
  BOOST_TEST(problems[0] == "directorate ile-de-france: department 99 is unknown");
  BOOST_TEST(problems[1] ==
             "directorate centre-val-de-loire: department 2A is in region 94, not 24");
  BOOST_TEST(problems[2] ==
             "department 2A (Corse-du-Sud) is covered twice: centre-val-de-loire and corse");
}

BOOST_AUTO_TEST_CASE(validation_names_the_field) {
  BOOST_TEST(status_of(kNew) == 200);
  BOOST_TEST(status_of("{") == 400);
  BOOST_TEST(
      message_of(
          R"({"id":"Bad Id","name":"X","region":"52","departments":["49"],"address":"a","phone":"1","email":"x@y.fr"})") ==
      "id: lower-case letters, digits and - only");
  BOOST_TEST(
      message_of(
          R"({"id":"x","name":"X","region":"52","departments":[],"address":"a","phone":"1","email":"x@y.fr"})") ==
      "departments: at least one department");
  BOOST_TEST(
      message_of(
          R"({"id":"x","name":"X","region":"52","departments":["49","49"],"address":"a","phone":"1","email":"x@y.fr"})") ==
      "departments[1]: listed twice");
  BOOST_TEST(
      message_of(
          R"({"id":"x","name":"X","region":"52","departments":["49"],"address":"a","phone":"1","email":"nope"})") ==
      "email: not an email address");
  BOOST_TEST(
      message_of(
          R"({"id":"x","name":"X","region":"52","departments":["49"],"address":"a","phone":"1","email":"x@y.fr",
                            "contacts":[{"role":"r","name":"n","email":"a@b.fr","phone":"1","themes":["golf"]}]})")
          .rfind("contacts[0].themes[0]: unknown theme \"golf\"", 0) == 0u);
  for (const std::string id : {"for", "mine", "coverage"})
    BOOST_TEST(
        message_of(
            R"({"id":")" + id +
            R"(","name":"X","region":"52","departments":["49"],"address":"a","phone":"1","email":"x@y.fr"})") ==
        "id: \"" + id + "\" is reserved (for, mine and coverage are routes)");
  BOOST_TEST(message_of(pdl("P", contacts(21))) == "contacts: at most 20");
  BOOST_TEST(status_of(pdl("P", contacts(20))) == 200);
}

BOOST_AUTO_TEST_CASE(yaml_errors_have_a_position) {
  TempDir d;
  const std::string file = d.write("d.yaml", "directorates:\n  - id: a\n    colour: red\n");
  BOOST_CHECK_EXCEPTION(dir::load_yaml(file), std::runtime_error, [&](const std::runtime_error& e) {
    return std::string(e.what()) == file + ":3:5: unknown key \"colour\"";
  });
}

BOOST_FIXTURE_TEST_CASE(mine_and_for, Directorates) {
  identity = make_identity({"elu"});  // commune 49007, Angers
  Response r = call("GET", "/api/directorates/mine");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(json(r).at("id").as_string() == "pays-de-la-loire");
  BOOST_TEST(json(call("GET", "/api/directorates/for?commune=2A004"))
                 .at("directorates")
                 .at(0)
                 .at("id")
                 .as_string() == "corse");
  BOOST_TEST(json(call("GET", "/api/directorates/for?postal_code=49000"))
                 .at("directorates")
                 .at(0)
                 .at("id")
                 .as_string() == "pays-de-la-loire");
  BOOST_TEST(json(call("GET", "/api/directorates/for?department=971"))
                 .at("directorates")
                 .at(0)
                 .at("id")
                 .as_string() == "guadeloupe");
  BOOST_TEST(json(call("GET", "/api/directorates/for?region=53"))
                 .at("directorates")
                 .at(0)
                 .at("id")
                 .as_string() == "bretagne");
  BOOST_TEST(call("GET", "/api/directorates/for?commune=99999").status == 404);
  BOOST_TEST(call("GET", "/api/directorates/for").status == 400);
  BOOST_TEST(call("GET", "/api/directorates/corse").status == 200);
  BOOST_TEST(call("GET", "/api/directorates/nowhere").status == 404);
  BOOST_TEST(call("POST", "/api/directorates", kNew).status == 403);  // élus do not edit
  identity.reset();
  BOOST_TEST(call("GET", "/api/directorates/mine").status == 401);
}

// The plugin's lock-free snapshot: a thread sees a publish at its next read, never goes back to
// an older value, lets go of the old one when it moves on, and more threads than slots still
// read right (through the shared pointer).
BOOST_AUTO_TEST_CASE(snapshot_cell_readers_follow_publishes_and_release_old_values) {
  dir::SnapshotCell<int> cell(std::make_shared<const int>(0));
  BOOST_TEST(*cell.read() == 0);
  std::weak_ptr<const int> first = cell.shared();
  cell.publish(std::make_shared<const int>(1));
  BOOST_TEST(*cell.read() == 1);
  BOOST_TEST(first.expired());

  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t)
    readers.emplace_back([&] {
      int last = 0;
      while (!stop.load()) {
        const int seen = *cell.read();
        if (seen < last) ++wrong;
        last = seen;
      }
      if (*cell.read() != 2000) ++wrong;
    });
  for (int i = 2; i <= 2000; ++i) cell.publish(std::make_shared<const int>(i));
  stop = true;
  for (auto& t : readers) t.join();
  BOOST_TEST(wrong.load() == 0);

  constexpr int kThreads = 80;  // more than the cell's slots, all alive at once
  std::latch all_read(kThreads);
  std::vector<std::thread> many;
  for (int t = 0; t < kThreads; ++t)
    many.emplace_back([&] {
      if (*cell.read() != 2000) ++wrong;
      all_read.arrive_and_wait();
    });
  for (auto& t : many) t.join();
  BOOST_TEST(wrong.load() == 0);
}

// /mine answers with the text built when the directorates were read, tagged by its bytes: a
// client holding that tag gets a 304, and a change gives a new body and a new tag at once.
BOOST_FIXTURE_TEST_CASE(mine_is_tagged_by_its_bytes_and_revalidates, Directorates) {
  const auto header_of = [](const Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return std::string();
  };
  const auto mine = [&](const std::string& if_none_match) {
    IncomingRequest in;
    in.method = "GET";
    in.target = "/api/directorates/mine";
    if (!if_none_match.empty()) in.headers.emplace_back("if-none-match", if_none_match);
    in.request_id = "t";
    return run(dispatcher.handle(std::move(in)));
  };
  identity = make_identity({"elu"});  // Angers: pays-de-la-loire
  Response first = mine("");
  BOOST_TEST(first.status == 200);
  const std::string tag = header_of(first, "ETag");
  BOOST_TEST(tag.size() == 15u);
  BOOST_TEST(header_of(first, "Cache-Control") == "private, no-cache");
  // The same bytes as the directorate serialised on its own, and as GET /{id} and the list.
  const Response by_id = call("GET", "/api/directorates/pays-de-la-loire");
  BOOST_TEST(first.body == by_id.body);
  BOOST_TEST(boost::json::serialize(json(first)) == first.body);
  BOOST_TEST(json(call("GET", "/api/directorates")).at("directorates").at(3) == json(first));

  Response again = mine(tag);
  BOOST_TEST(again.status == 304);
  BOOST_TEST(again.body.empty());
  BOOST_TEST(header_of(again, "ETag") == tag);
  BOOST_TEST(mine("\"other\", W/" + tag).status == 304);  // weak comparison, in a list
  BOOST_TEST(mine("*").status == 304);
  BOOST_TEST(mine("\"other\"").status == 200);

  identity = make_identity({"operator"});
  BOOST_TEST(call("PUT", "/api/directorates/pays-de-la-loire", pdl("Renamed")).status == 200);
  identity = make_identity({"elu"});
  Response changed = mine(tag);
  BOOST_TEST(changed.status == 200);
  BOOST_TEST(json(changed).at("name").as_string() == "Renamed");
  BOOST_TEST(header_of(changed, "ETag") != tag);
  BOOST_TEST(json(call("GET", "/api/directorates/pays-de-la-loire")).at("name").as_string() ==
             "Renamed");
}

BOOST_FIXTURE_TEST_CASE(widget_shows_the_directorate_and_its_main_contact, Directorates) {
  auto w = run(host.table()->plugins.at(0)->plugin().widget(make_identity({"elu"})));
  BOOST_TEST_REQUIRE(w.has_value());
  BOOST_TEST(w->at("directorate").at("id").as_string() == "pays-de-la-loire");
  BOOST_TEST(w->at("contact").at("name").as_string() == "Yann Le Gall");
}

BOOST_FIXTURE_TEST_CASE(operators_edit_and_changes_survive_a_restart, Directorates) {
  Response r = call("POST", "/api/directorates", kNew);
  BOOST_TEST(r.status == 422);
  BOOST_TEST(json(r).at("error").at("message").as_string() ==
             "departments[0]: department 49 is covered by pays-de-la-loire");
  r = call(
      "PUT", "/api/directorates/pays-de-la-loire",
      R"({"id":"pays-de-la-loire","name":"DR PdL","region":"52","departments":["44","49","53","72"],"address":"a","phone":"+33 2","email":"pdl@x.fr"})");
  BOOST_TEST(r.status == 200);
  r = call("GET", "/api/directorates/coverage");
  BOOST_TEST(json(r).at("problems").at(0).as_string() == "department 85 (Vendée) is not covered");
  r = call(
      "POST", "/api/directorates",
      R"({"id":"vendee","name":"Antenne Vendée","region":"52","departments":["85"],"address":"a","phone":"+33 2","email":"v@x.fr"})");
  BOOST_TEST(r.status == 201);
  r = call(
      "POST", "/api/directorates/vendee/contacts",
      R"({"role":"Chargée d'affaires","name":"Anne Morel","email":"anne@x.fr","phone":"+33 2 1","themes":["habitat"]})");
  BOOST_TEST(r.status == 201);
  const auto contact = json(r).at("id").as_int64();
  BOOST_TEST(call("POST", "/api/directorates/vendee/contacts", R"({"role":"x"})").status == 422);
  BOOST_TEST(call("DELETE", "/api/directorates/corse").status == 204);
  BOOST_TEST(call("DELETE", "/api/directorates/corse").status == 404);
  stop();

  // Same store, a new host: what the operator did is still there; the seed is not read again.
  auto reopened = reopen_store();
  PluginHost second(*reopened, http, metrics, std::chrono::seconds(5), nullptr, &territories);
  second.load_all(load_config(dir.write(
      "p2.yaml", "tls:\n  certificate: c\n  private_key: k\nplugins:\n" + plugin_yaml())));
  run(second.start_all());
  Dispatcher d2(second, metrics, [](const IncomingRequest&) -> Task<std::optional<AuthContext>> {
    AuthContext ctx;
    ctx.identity = make_identity({"operator"});
    co_return ctx;
  });
  IncomingRequest in;
  in.method = "GET";
  in.target = "/api/directorates";
  in.request_id = "t";
  auto listed = json(run(d2.handle(in)));
  std::vector<std::string> ids;
  for (const auto& d : listed.at("directorates").as_array())
    ids.emplace_back(d.at("id").as_string());
  BOOST_TEST(
      (ids == std::vector<std::string>{"bretagne", "guadeloupe", "pays-de-la-loire", "vendee"}));
  in.target = "/api/directorates/vendee";
  auto vendee = json(run(d2.handle(in)));
  BOOST_TEST_REQUIRE(vendee.at("contacts").as_array().size() == 1u);
  BOOST_TEST(vendee.at("contacts").at(0).at("id").as_int64() == contact);
  in.target = "/api/directorates/pays-de-la-loire";
  BOOST_TEST(json(run(d2.handle(in))).at("departments").as_array().size() == 4u);
  run(second.stop_all(std::chrono::milliseconds(0)));
}

// Two instances on one store, each with its own snapshot (no notification between them here):
// a write the second bases on what it read before the first one's edit is refused by the store
// (409), not stored over that edit; and the second then serves the edit.
BOOST_FIXTURE_TEST_CASE(a_write_based_on_a_stale_snapshot_is_refused_by_the_store, Directorates) {
  auto other_store = reopen_store();
  PluginHost other(*other_store, http, metrics, std::chrono::seconds(5), nullptr, &territories);
  other.load_all(load_config(dir.write(
      "p2.yaml", "tls:\n  certificate: c\n  private_key: k\nplugins:\n" + plugin_yaml())));
  run(other.start_all());
  Dispatcher on_other(other, metrics,
                      [](const IncomingRequest&) -> Task<std::optional<AuthContext>> {
                        AuthContext ctx;
                        ctx.identity = make_identity({"operator"});
                        co_return ctx;
                      });
  const auto call_other = [&](const std::string& method, const std::string& target,
                              std::string body) {
    IncomingRequest in;
    in.method = method;
    in.target = target;
    in.body = std::move(body);
    if (!in.body.empty()) in.headers.emplace_back("content-type", "application/json");
    in.request_id = "other";
    return run(on_other.handle(std::move(in)));
  };
  BOOST_TEST_REQUIRE(call("PUT", "/api/directorates/pays-de-la-loire", pdl("First")).status == 200);
  // The other instance still believes version 1: its own check passes, the store's does not.
  Response stale = call_other("PUT", "/api/directorates/pays-de-la-loire", pdl("Second"));
  BOOST_TEST(stale.status == 409);
  BOOST_TEST(
      json(call_other("GET", "/api/directorates/pays-de-la-loire", "")).at("name").as_string() ==
      "First");
  BOOST_TEST(json(call("GET", "/api/directorates/pays-de-la-loire")).at("name").as_string() ==
             "First");
  run(other.stop_all(std::chrono::milliseconds(0)));
}

BOOST_FIXTURE_TEST_CASE(reserved_ids_are_refused_by_the_routes, Directorates) {
  Response r = call(
      "POST", "/api/directorates",
      R"({"id":"mine","name":"X","region":"52","departments":["85"],"address":"a","phone":"+33 2","email":"v@x.fr"})");
  BOOST_TEST(r.status == 422);
  BOOST_TEST(json(r).at("error").at("message").as_string() ==
             "id: \"mine\" is reserved (for, mine and coverage are routes)");
}

BOOST_FIXTURE_TEST_CASE(contact_ids_are_the_servers, Directorates) {
  // Ids sent by the client are ignored, even the largest integer (no overflow).
  Response r =
      call("PUT", "/api/directorates/pays-de-la-loire",
           pdl("P", "[" + contact("a", "9223372036854775807") + "," +
                        contact("b", "9223372036854775807") + "," + contact("c", "-4") + "]"));
  BOOST_TEST_REQUIRE(r.status == 200);
  BOOST_TEST(
      (contact_ids(json(r)) == std::vector<std::int64_t>{2, 3, 4}));  // after Yann Le Gall's 1
  r = call("POST", "/api/directorates/pays-de-la-loire/contacts",
           contact("d", "9223372036854775807"));
  BOOST_TEST(r.status == 201);
  BOOST_TEST(json(r).at("id").as_int64() == 5);
  // A PUT keeps the ids the directorate has (b stays 3), and gives new ones to the others.
  r = call(
      "PUT", "/api/directorates/pays-de-la-loire",
      pdl("P", "[" + contact("b", "3") + "," + contact("e", "3") + "," + contact("f", "77") + "]"));
  BOOST_TEST_REQUIRE(r.status == 200);
  BOOST_TEST((contact_ids(json(r)) == std::vector<std::int64_t>{3, 6, 7}));
  BOOST_TEST(call("DELETE", "/api/directorates/pays-de-la-loire/contacts/3").status == 204);
  // At most 20 contacts, through every route.
  BOOST_TEST(call("PUT", "/api/directorates/pays-de-la-loire", pdl("P", contacts(21))).status ==
             422);
  BOOST_TEST(call("PUT", "/api/directorates/pays-de-la-loire", pdl("P", contacts(20))).status ==
             200);
  r = call("POST", "/api/directorates/pays-de-la-loire/contacts", contact("g"));
  BOOST_TEST(r.status == 422);
  BOOST_TEST(json(r).at("error").at("message").as_string() == "contacts: at most 20");
  r = call(
      "POST", "/api/directorates",
      R"({"id":"vendee","name":"V","region":"52","departments":["71"],"address":"a","phone":"+33 2","email":"v@x.fr","contacts":)" +
          contacts(21) + "}");
  BOOST_TEST(r.status == 422);
}

BOOST_FIXTURE_TEST_CASE(a_change_based_on_an_old_read_is_a_conflict, Directorates) {
  auto with_if_match = [&](const std::string& method, const std::string& target,
                           const std::string& etag, std::string body = "") {
    IncomingRequest in;
    in.method = method;
    in.target = target;
    in.body = std::move(body);
    if (!in.body.empty()) in.headers.emplace_back("content-type", "application/json");
    in.headers.emplace_back("if-match", etag);
    in.request_id = "t";
    return run(dispatcher.handle(std::move(in)));
  };
  Response r = call("GET", "/api/directorates/pays-de-la-loire");
  BOOST_TEST(json(r).at("version").as_int64() == 1);
  std::string etag;
  for (const auto& [name, value] : r.headers)
    if (name == "ETag") etag = value;
  BOOST_TEST(etag == "\"1\"");
  // Two operators read version 1; the first change wins, the second is told to read again.
  r = with_if_match("PUT", "/api/directorates/pays-de-la-loire", etag, pdl("First"));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(json(r).at("version").as_int64() == 2);
  r = with_if_match("PUT", "/api/directorates/pays-de-la-loire", etag, pdl("Second"));
  BOOST_TEST(r.status == 409);
  BOOST_TEST(json(r).at("error").at("message").as_string() ==
             "directorate pays-de-la-loire changed since it was read (it is at version 2): read it "
             "again");
  // The same with the version in the body; and without either, the change applies.
  std::string body = pdl("Third");
  body.insert(1, R"("version":1,)");
  BOOST_TEST(call("PUT", "/api/directorates/pays-de-la-loire", body).status == 409);
  body.replace(body.find("\"version\":1"), 11, "\"version\":2");
  BOOST_TEST(call("PUT", "/api/directorates/pays-de-la-loire", body).status == 200);
  BOOST_TEST(
      with_if_match("POST", "/api/directorates/pays-de-la-loire/contacts", "\"2\"", contact("x"))
          .status == 409);
  BOOST_TEST(with_if_match("DELETE", "/api/directorates/pays-de-la-loire", "\"2\"").status == 409);
  BOOST_TEST(with_if_match("DELETE", "/api/directorates/pays-de-la-loire", "\"3\"").status == 204);
}

BOOST_FIXTURE_TEST_CASE(concurrent_writes_wait_their_turn_instead_of_failing, Directorates) {
  // 20 PUTs at once on 4 threads: each waits for the previous one, none is refused.
  boost::asio::thread_pool pool(4);
  std::vector<std::future<Response>> replies;
  for (int i = 0; i < 20; ++i) {
    IncomingRequest in;
    in.method = "PUT";
    in.target = "/api/directorates/pays-de-la-loire";
    in.body = pdl("DR " + std::to_string(i));
    in.headers.emplace_back("content-type", "application/json");
    in.request_id = "r" + std::to_string(i);
    replies.push_back(
        boost::asio::co_spawn(pool, dispatcher.handle(std::move(in)), boost::asio::use_future));
  }
  std::set<std::string> names;
  for (auto& reply : replies) {
    Response r = reply.get();
    BOOST_TEST(r.status == 200, r.body);
    if (r.status == 200) names.insert(std::string(json(r).at("name").as_string()));
  }
  pool.join();
  BOOST_TEST(names.size() == 20u);
  // The last one written is what is stored.
  const std::string stored(
      json(call("GET", "/api/directorates/pays-de-la-loire")).at("name").as_string());
  BOOST_TEST(names.count(stored) == 1u);
}

BOOST_AUTO_TEST_CASE(a_write_that_outlives_its_deadline_still_refreshes_what_is_read) {
  // The store is slow (another writer holds it) and the PUT gets its 504; its write lands after
  // all. What the plugin serves, and checks versions against, must be that write.
  AppFixture app;
  if (app.skipped_on_postgresql()) return;
  app.start(plugin_yaml() + "    timeout: 200ms\n");
  app.identity = make_identity({"operator"});
  sqlite3* other = nullptr;
  BOOST_TEST_REQUIRE(sqlite3_open((app.dir.path() + "/db.sqlite").c_str(), &other) == SQLITE_OK);
  BOOST_TEST_REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) ==
                     SQLITE_OK);
  boost::asio::thread_pool pool(1);
  IncomingRequest in;
  in.method = "PUT";
  in.target = "/api/directorates/pays-de-la-loire";
  in.body = pdl("Late");
  in.headers.emplace_back("content-type", "application/json");
  in.request_id = "late";
  auto reply =
      boost::asio::co_spawn(pool, app.dispatcher.handle(std::move(in)), boost::asio::use_future);
  BOOST_TEST(reply.get().status == 504);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  pool.join();  // the handler, past its deadline, has ended
  const auto stored = app.json(app.call("GET", "/api/directorates/pays-de-la-loire"));
  BOOST_TEST(stored.at("name").as_string() == "Late");
  BOOST_TEST(stored.at("version").as_int64() == 2);
}

BOOST_AUTO_TEST_CASE(directorates_stored_before_integer_times_are_kept) {
  AppFixture app;
  if (app.skipped_on_postgresql()) return;
  {
    // The store as the first release left it: migration 1 only, a time stored as text.
    auto library = LoadedPlugin::load(module("directorates"));
    std::vector<Migration> first = library->plugin().migrations();
    first.resize(1);
    auto db = app.store.for_plugin("directorates");
    BOOST_TEST(run(db->migrate(first)) == 1);
    auto seeded = dir::load_yaml(kSeed);
    for (const auto& d : seeded)
      run(db->query(
          {"INSERT INTO directorates_directorates (id, document, updated_at) VALUES (?1, ?2, "
           "'2025-06-01T08:30:00Z')",
           {d.id, boost::json::serialize(dir::to_json(d))}}));
  }
  app.identity = make_identity({"operator"});
  app.start(plugin_yaml());
  BOOST_TEST(app.call("GET", "/readyz").status == 200);
  BOOST_TEST(
      AppFixture::json(app.call("GET", "/api/directorates")).at("directorates").as_array().size() ==
      4u);
  auto db = app.store.for_plugin("directorates");
  auto row = run(db->query(
      {"SELECT updated_at FROM directorates_directorates WHERE id = ?1", {std::string("corse")}}));
  BOOST_TEST(std::get<std::int64_t>(row.rows.at(0).at(0)) == 1748766600);
}

BOOST_AUTO_TEST_CASE(an_inconsistent_seed_fails_the_plugin_with_the_reason) {
  AppFixture app;
  const std::string broken = app.dir.write("seed.yaml", R"(directorates:
  - id: pays-de-la-loire
    name: "PdL"
    region: "52"
    departments: ["44", "49"]
    address: "a"
    phone: "+33 2"
    email: "a@b.fr"
)");
  app.start(plugin_yaml(broken));
  Response r = app.call("GET", "/readyz");
  BOOST_TEST(r.status == 503);
  BOOST_TEST(app.call("GET", "/api/directorates").status == 503);
}

BOOST_AUTO_TEST_SUITE_END()
