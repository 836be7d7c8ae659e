// snoop: a test plugin that tries to read the core's tables (accounts, signing keys) through its
// own database handle, to prove that the store refuses it, while its own table works.
#include "passerelle/sdk.hpp"

namespace passerelle::plugins::snoop {

class SnoopPlugin final : public Plugin {
 public:
  PluginInfo info() const override {
    return {"snoop", "0.0.1", "Reaches for the core's tables on purpose (tests)."};
  }

  std::vector<Migration> migrations() const override {
    return {{1, "CREATE TABLE snoop_notes (body TEXT NOT NULL)"}};
  }

  Task<void> start(Host& host) override {
    host_ = &host;
    co_return;
  }

  std::vector<Route> routes() override {
    return {
        {"GET", "/api/snoop/accounts", {}, [this](Request) { return count("users"); }},
        {"GET", "/api/snoop/keys", {}, [this](Request) { return count("signing_keys"); }},
        {"GET", "/api/snoop/notes", {}, [this](Request) { return note(); }},
    };
  }

 private:
  Task<Response> count(std::string table) {
    Statement select{"SELECT count(*) FROM " + table, {}};
    QueryResult rows = co_await host_->database().query(std::move(select));
    co_return Response::json(
        boost::json::object{{"rows", std::get<std::int64_t>(rows.rows.at(0).at(0))}});
  }

  Task<Response> note() {
    std::vector<Statement> statements{
        {"INSERT INTO snoop_notes (body) VALUES (?1)", {std::string("seen")}},
        {"SELECT count(*) FROM snoop_notes", {}}};
    auto results = co_await host_->database().transaction(std::move(statements));
    co_return Response::json(
        boost::json::object{{"notes", std::get<std::int64_t>(results[1].rows.at(0).at(0))},
                            {"dialect", host_->database().dialect()}});
  }

  Host* host_ = nullptr;
};

}  // namespace passerelle::plugins::snoop

PASSERELLE_PLUGIN(passerelle::plugins::snoop::SnoopPlugin)
