// localtis: news for local authorities, ingested from feeds on a schedule, searchable in French.
#include "dates.hpp"
#include "feed.hpp"
#include "feeds_config.hpp"
#include "inflate.hpp"
#include "sanitize.hpp"

#include "french_search.hpp"
#include "passerelle/async_mutex.hpp"
#include "passerelle/sdk.hpp"
#include "values.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>

namespace passerelle::plugins::localtis {

using french::query_terms;
using french::QueryTerm;
using french::TermMaker;

namespace json = boost::json;
namespace asio = boost::asio;

namespace {

// FNV-1a of a body, as a strong ETag.
std::string tag_of(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
  char out[24];
  std::snprintf(out, sizeof out, "\"%016llx\"", static_cast<unsigned long long>(h));
  return out;
}

bool none_match(const Request& r, const std::string& tag) {
  const auto given = r.header("if-none-match");
  return given && (*given == "*" || given->find(tag) != std::string::npos);
}

// A JSON answer with its ETag, or 304 when the client has it already.
Response tagged(const Request& r, std::string body) {
  Response res;
  const std::string tag = tag_of(body);
  if (none_match(r, tag))
    res.status = 304;
  else
    res.body = std::move(body);
  res.headers.emplace_back("ETag", tag);
  res.headers.emplace_back("Cache-Control", "private, no-cache");
  return res;
}

// The charset parameter of a Content-Type, lower case; "" if none.
std::string charset_of(const std::string& content_type) {
  std::string lower;
  for (const char c : content_type)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto at = lower.find("charset=");
  if (at == std::string::npos) return {};
  std::string cs = lower.substr(at + 8);
  if (!cs.empty() && cs.front() == '"') cs.erase(0, 1);
  const auto end = cs.find_first_of("\"; ");
  return end == std::string::npos ? cs : cs.substr(0, end);
}

// A validator sent back as it came: printable ASCII only (anything else is not kept).
bool printable(const std::string& value) {
  return std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
}

constexpr std::size_t kMaxFeedBytes = 5 * 1024 * 1024;
constexpr std::size_t kExcerptChars = 280;
constexpr std::int64_t kMaxLimit = 50;
constexpr std::int64_t kMaxOffset = 10'000;
// A search ranks at most this many of the index's best matches (then filters and boosts them).
constexpr std::int64_t kCandidates = 2000;

// What the poller keeps of each feed between polls (also in localtis_feeds).
struct FeedState {
  std::string etag, last_modified, last_status = "never", last_error;
  std::int64_t last_fetched_at = 0, next_poll_at = 0, failures = 0;
  bool warned_dates = false;  // an undated item was logged once already
};

}  // namespace

class LocaltisPlugin final : public Plugin {
 public:
  PluginInfo info() const override {
    return {"localtis", "1.0.0",
            "Localtis: news for local authorities from feeds, searchable in French."};
  }

  std::vector<ConfigField> config_schema() const override {
    return {{"feeds_file", ConfigType::path, true, nullptr,
             "YAML list of the feeds polled (config/localtis-feeds.yaml)"},
            {"poll", ConfigType::boolean, false, true,
             "poll the feeds on their schedule (false: only on POST .../refresh)"}};
  }

  std::vector<Migration> migrations() const override {
    Migration first{1, "", {}};
    first.sql_by_dialect["sqlite"] =
#include "migrations/001_articles_sqlite.inc"
        ;
    first.sql_by_dialect["postgresql"] =
#include "migrations/001_articles_postgresql.inc"
        ;
    return {first};
  }

  Task<void> start(Host& host) override {
    host_ = &host;
    postgresql_ = host.database().dialect() == "postgresql";
    const std::string file(host.config().at("feeds_file").as_string());
    std::function<void()> read = [this, &file] { feeds_ = load_feeds(file); };
    co_await host.offload(std::move(read));
    for (const auto& f : feeds_) feed_locks_[f.id] = std::make_unique<AsyncMutex>();
    // Each feed's row, and what it knew (conditional GET, failures, next poll).
    std::vector<Statement> rows;
    for (const auto& f : feeds_)
      rows.push_back(
          {"INSERT INTO localtis_feeds (id) VALUES (?1) ON CONFLICT (id) DO NOTHING", {f.id}});
    co_await host.database().transaction(std::move(rows));
    Statement known{
        "SELECT id, etag, last_modified, last_status, last_error, last_fetched_at,"
        " next_poll_at, failures FROM localtis_feeds",
        {}};
    const QueryResult stored = co_await host.database().query(std::move(known));
    for (const auto& row : stored.rows) {
      FeedState s;
      s.etag = text_of(row[1]);
      s.last_modified = text_of(row[2]);
      s.last_status = text_of(row[3]);
      s.last_error = text_of(row[4]);
      s.last_fetched_at = int_of(row[5]);
      s.next_poll_at = int_of(row[6]);
      s.failures = int_of(row[7]);
      std::lock_guard lock(state_mutex_);
      state_[text_of(row[0])] = s;
    }
    host.logger().info("feeds: " + std::to_string(feeds_.size()) + " from " + file);
    co_await read_latest();
    if (host.config().at("poll").as_bool()) {
      executor_ = co_await asio::this_coro::executor;
      wake_ = std::make_unique<asio::steady_timer>(executor_);
      polling_ = true;
      asio::co_spawn(executor_, poll_loop(), asio::detached);
    }
  }

  Task<void> stop() override {
    if (!polling_) co_return;
    stopping_ = true;
    wake_->cancel();
    // The loop's frame is code of this library: wait until it has ended.
    asio::steady_timer wait(executor_);
    while (polling_) {
      wait.expires_after(std::chrono::milliseconds(10));
      co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  std::vector<Route> routes() override {
    const std::vector<std::string> anyone{"*"}, operators{"operator"};
    return {
        {"GET", "/api/localtis/articles", anyone, [this](Request r) { return list(std::move(r)); }},
        {"GET", "/api/localtis/articles/{id}", anyone,
         [this](Request r) { return article(std::move(r)); }},
        {"GET", "/api/localtis/themes", anyone, [this](Request r) { return themes(std::move(r)); }},
        {"GET", "/api/localtis/feeds", operators,
         [this](Request r) { return feeds(std::move(r)); }},
        {"POST", "/api/localtis/feeds/{id}/refresh", operators,
         [this](Request r) { return refresh_route(std::move(r)); }},
    };
  }

  // The latest articles of the user's region (and national ones).
  // Answered from the latest articles kept in memory (read again after each fetch that stored
  // something): the dashboard asks on every page, the store is not asked for it.
  bool widget_immediate() const override { return true; }

  Task<std::optional<json::value>> widget(Identity identity) override {
    const std::string region = region_of(identity);
    const std::shared_ptr<const Latest> latest = latest_.load();
    json::array items;
    for (const auto& [article_region, article] : latest->articles) {
      if (!article_region.empty() && article_region != region) continue;
      items.push_back(article);
      if (items.size() == kWidgetArticles) break;
    }
    if (items.empty()) co_return std::nullopt;
    co_return json::object{{"title", "Localtis : l'actualité de vos territoires"},
                           {"articles", std::move(items)}};
  }

 private:
  // The newest articles, national and of every region, for the widget: enough that each region
  // finds its own among them in practice (the widget shows the first kWidgetArticles that are
  // national or of the user's region).
  struct Latest {
    std::vector<std::pair<std::string, json::object>> articles;  // region, summary
  };
  static constexpr std::size_t kWidgetArticles = 5;

  Task<void> read_latest() {
    Statement newest{
        "SELECT id, title, link, excerpt, themes, region, published_at, feed, image,"
        " author FROM localtis_articles ORDER BY published_at DESC, id DESC LIMIT 500",
        {}};
    const QueryResult rows = co_await host_->database().query(std::move(newest));
    auto next = std::make_shared<Latest>();
    for (const auto& row : rows.rows)
      next->articles.emplace_back(text_of(row[5]), summary_json(row));
    latest_.store(std::move(next));
  }

  std::string region_of(const Identity& who) const {
    if (const Commune* c = host_->territories().commune(who.commune_insee)) return c->region;
    return {};
  }

  const FeedSource* source(const std::string& id) const {
    for (const auto& f : feeds_)
      if (f.id == id) return &f;
    return nullptr;
  }

  std::string theme_label(const std::string& theme) const {
    for (const auto& f : feeds_)
      if (f.theme == theme) return f.theme_label;
    return theme;
  }

  // An article's summary for lists: id, title, link, excerpt, theme, region, date, source.
  // Columns: id, title, link, excerpt, themes, region, published_at, feed, image, author.
  json::object summary_json(const std::vector<SqlValue>& row) const {
    const std::string theme = text_of(row[4]);
    json::object o{{"id", std::to_string(int_of(row[0]))},
                   {"title", text_of(row[1])},
                   {"link", text_of(row[2])},
                   {"excerpt", text_of(row[3])},
                   {"theme", theme},
                   {"theme_label", theme_label(theme)},
                   {"published_at", iso_utc(int_of(row[6]))},
                   {"feed", text_of(row[7])},
                   {"author", text_of(row[9])}};
    if (const std::string region = text_of(row[5]); !region.empty()) {
      o["region"] = region;
      if (const Region* r = host_->territories().region(region)) o["region_name"] = r->name;
    }
    if (const std::string image = text_of(row[8]); !image.empty()) o["image"] = image;
    return o;
  }

  // --- the poller -------------------------------------------------------------------------

  Task<void> poll_loop() {
    // However the loop ends, stop() must learn it (its frame is this library's code).
    struct Ended {
      std::atomic<bool>& polling;
      ~Ended() { polling = false; }
    } ended{polling_};
    while (!stopping_) {
      std::vector<const FeedSource*> due;
      for (const auto& f : feeds_)
        if (state(f.id).next_poll_at <= now_seconds()) due.push_back(&f);
      // A few feeds at a time: one slow feed (up to its timeout) holds one of them, not the
      // others; and one feed is read while another one's articles are written.
      std::atomic<std::size_t> taken{0};
      using namespace boost::asio::experimental::awaitable_operators;
      co_await (poll_some(due, taken) && poll_some(due, taken) && poll_some(due, taken) &&
                poll_some(due, taken));
      if (stopping_) break;
      std::int64_t next = now_seconds() + 60;
      for (const auto& f : feeds_) next = std::min(next, state(f.id).next_poll_at);
      wake_->expires_after(
          std::chrono::seconds(std::clamp<std::int64_t>(next - now_seconds(), 1, 60)));
      co_await wake_->async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  // Polls the due feeds not taken yet by another of the loop's workers, one after the other.
  Task<void> poll_some(const std::vector<const FeedSource*>& due, std::atomic<std::size_t>& taken) {
    std::mt19937 jitter(std::random_device{}());
    for (std::size_t i = taken++; i < due.size() && !stopping_; i = taken++) {
      const FeedSource& f = *due[i];
      try {
        AsyncMutex::Lock lock = co_await lock_of(f).lock();
        co_await refresh(f, jitter);
      } catch (const std::exception& e) {
        host_->logger().error("feed " + f.id + ": " + e.what());
        std::lock_guard lock(state_mutex_);
        auto& st = state_[f.id];
        st.next_poll_at = std::max(st.next_poll_at, now_seconds() + f.interval.count());
      }
    }
  }

  AsyncMutex& lock_of(const FeedSource& f) { return *feed_locks_.at(f.id); }

  // One poll of one feed: fetched (conditional GET), read, stored; its state saved. A failure
  // is the feed's own: logged, kept as its last error, and its next poll backs off.
  // A copy of what is known of a feed (handlers on any I/O thread read it).
  FeedState state(const std::string& id) {
    std::lock_guard lock(state_mutex_);
    return state_[id];
  }

  // Called under the feed's lock: one refresh of a feed at a time, so the copy taken here is
  // the latest.
  Task<void> refresh(const FeedSource& f, std::mt19937& jitter) {
    FeedState st = state(f.id);
    const std::int64_t started = now_seconds();
    std::string status = "ok", error;
    std::size_t stored = 0;
    try {
      std::string bytes, charset, etag, last_modified;
      bool modified = true;
      if (!f.file.empty()) {
        const std::string path = f.file;
        std::function<void()> read = [&bytes, path] {
          // A regular file only (not a device, a FIFO or a folder), read up to the cap.
          std::error_code ec;
          if (!std::filesystem::is_regular_file(path, ec))
            throw FeedError("cannot read " + path + ": not a regular file");
          std::ifstream in(path, std::ios::binary);
          if (!in) throw FeedError("cannot read " + path);
          bytes.resize(kMaxFeedBytes + 1);
          in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
          bytes.resize(static_cast<std::size_t>(in.gcount()));
          if (bytes.size() > kMaxFeedBytes) throw FeedError("feed larger than 5 MiB");
        };
        co_await host_->offload(std::move(read));
      } else {
        OutboundRequest req;
        req.url = f.url;
        req.timeout = f.timeout;
        req.max_body_bytes = kMaxFeedBytes;
        req.headers.emplace_back(
            "Accept",
            "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.1");
        req.headers.emplace_back("User-Agent", "Passerelle-Localtis/1.0");
        req.headers.emplace_back("Accept-Encoding", "gzip");
        if (!st.etag.empty()) req.headers.emplace_back("If-None-Match", st.etag);
        if (!st.last_modified.empty())
          req.headers.emplace_back("If-Modified-Since", st.last_modified);
        const OutboundResponse res = co_await host_->http().fetch(std::move(req));
        if (res.status == 304) {
          modified = false;
          status = "not_modified";
        } else if (res.status != 200) {
          throw FeedError("HTTP " + std::to_string(res.status));
        } else {
          bytes = res.body;
          bool gzipped = false;
          for (const auto& [name, value] : res.headers) {
            if (name == "content-encoding" && value.find("gzip") != std::string::npos)
              gzipped = true;
            if (name == "content-type") charset = charset_of(value);
            if (name == "etag" && value.size() < 200 && printable(value)) etag = value;
            if (name == "last-modified" && value.size() < 100 && printable(value))
              last_modified = value;
          }
          if (gzipped) {
            std::function<void()> inflate = [&bytes] { bytes = gunzip(bytes, kMaxFeedBytes); };
            co_await host_->offload(std::move(inflate));
          }
        }
      }
      if (modified) {
        Feed feed;
        std::function<void()> parse = [&feed, &bytes, &charset] {
          feed = parse_feed(bytes, charset);
        };
        co_await host_->offload(std::move(parse));
        stored = co_await ingest(f, st, std::move(feed));
        // This version's validators, once its articles are stored: a body that failed is
        // fetched whole again at the next poll, not answered 304 for ever.
        st.etag = etag;
        st.last_modified = last_modified;
      }
      st.failures = 0;
    } catch (const std::exception& e) {
      status = "error";
      error = collapse_text(e.what(), 300);  // whole characters: the store wants valid UTF-8
    }
    if (status == "error") {
      // Cut off by the caller's deadline (a refresh route's: the fetch then fails too): not
      // the feed's failure, the feed stays as it was.
      const auto cancelled = co_await asio::this_coro::cancellation_state;
      if (cancelled.cancelled() != asio::cancellation_type::none)
        throw HttpError(504, "timeout", "the refresh was cut off by its deadline");
      ++st.failures;
      host_->logger().warn("feed " + f.id + " failed (" + std::to_string(st.failures) +
                           " in a row): " + error);
    }
    // Next poll: the interval, spread by ±10 %; after failures, doubling up to 6 hours.
    std::int64_t wait = f.interval.count();
    for (std::int64_t i = 1; i < st.failures && wait < 6 * 3600; ++i) wait *= 2;
    wait = std::min<std::int64_t>(wait, 6 * 3600);
    std::uniform_int_distribution<std::int64_t> spread(-wait / 10, wait / 10);
    st.next_poll_at = started + wait + spread(jitter);
    st.last_status = status;
    st.last_error = error;
    st.last_fetched_at = started;
    {
      // Known before it is saved: a store that fails the save does not make the poller
      // fetch again at once.
      std::lock_guard lock(state_mutex_);
      state_[f.id] = st;
    }
    Statement save{
        "UPDATE localtis_feeds SET etag = ?2, last_modified = ?3, last_status = ?4,"
        " last_error = ?5, last_fetched_at = ?6, next_poll_at = ?7, failures = ?8"
        " WHERE id = ?1",
        {f.id, st.etag, st.last_modified, status, error, started, st.next_poll_at, st.failures}};
    co_await host_->database().query(std::move(save));
    if (stored > 0) co_await read_latest();
    if (status == "ok")
      host_->logger().info("feed " + f.id + ": " + std::to_string(stored) + " articles stored");
  }

  // The statements that store a feed's items, made on the blocking pool (sanitising and
  // stemming are work): new ones added, changed ones updated in place (the key: the feed and
  // the item's guid, else its link), the rest untouched.
  static std::vector<Statement> ingest_statements(const FeedSource& f, const Feed& feed,
                                                  std::int64_t now, bool& undated) {
    std::vector<Statement> writes;
    TermMaker terms;
    for (const auto& item : feed.items) {
      const std::string key = !item.guid.empty() ? item.guid : item.link;
      if (key.empty() || key.size() > 2000) continue;
      const auto parsed = parse_feed_date(item.date);
      // A date more than a day ahead would hold the top of every list (and, past `keep` such
      // items, have the feed's real news deleted on arrival): taken as no date.
      const bool dated = parsed && *parsed <= now + 86400;
      const std::int64_t published = dated ? *parsed : now;
      if (!dated) undated = true;
      const std::string& rich = !item.content.empty() ? item.content : item.summary;
      const bool rich_html = !item.content.empty() ? item.content_is_html : item.summary_is_html;
      // One HTML parse per text: the body's gives its text too, and the excerpt when it comes
      // from the same text (an item with a description only).
      std::string body_text;
      const std::string body = rich_html ? sanitize_html(rich, &body_text) : text_paragraph(rich);
      if (!rich_html) body_text = collapse_text(rich);
      const std::string& short_text = !item.summary.empty() ? item.summary : item.content;
      const bool short_html = !item.summary.empty() ? item.summary_is_html : item.content_is_html;
      const std::string excerpt = &short_text == &rich ? collapse_text(body_text, kExcerptChars)
                                  : short_html         ? plain_text(short_text, kExcerptChars)
                                                       : collapse_text(short_text, kExcerptChars);
      const std::string title =
          item.title_is_html ? plain_text(item.title, 300) : collapse_text(item.title, 300);
      std::string words =
          title + " " + (&short_text == &rich ? std::string() : excerpt) + " " + body_text;
      for (const auto& c : item.categories) words += " " + c;
      const std::string link =
          item.link.rfind("https://", 0) == 0 || item.link.rfind("http://", 0) == 0 ? item.link
                                                                                    : "";
      const std::string image = item.enclosure.rfind("https://", 0) == 0 ? item.enclosure : "";
      writes.push_back(
          {"INSERT INTO localtis_articles (key, feed, title, link, author, excerpt, body, themes,"
           " region, image, published_at, first_seen_at, updated_at, search)"
           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13)"
           " ON CONFLICT (feed, key) DO UPDATE SET title = excluded.title, link = excluded.link,"
           " author = excluded.author, excerpt = excluded.excerpt, body = excluded.body,"
           " image = excluded.image, search = excluded.search, updated_at = excluded.updated_at,"
           " published_at = CASE WHEN ?14 = 1 THEN excluded.published_at"
           " ELSE localtis_articles.published_at END"
           " WHERE localtis_articles.title <> excluded.title OR localtis_articles.body <> "
           "excluded.body"
           " OR localtis_articles.excerpt <> excluded.excerpt OR localtis_articles.link <> "
           "excluded.link"
           " OR localtis_articles.author <> excluded.author OR localtis_articles.image <> "
           "excluded.image OR localtis_articles.search <> excluded.search"
           " OR (?14 = 1 AND localtis_articles.published_at <> excluded.published_at)",
           {key, f.id, title, link, collapse_text(item.author, 200), excerpt, body, f.theme,
            f.region, image, published, now, terms.terms(words), std::int64_t{dated ? 1 : 0}}});
    }
    return writes;
  }

  // The feed's items into the store, in one transaction; the index follows by itself (SQLite:
  // triggers; PostgreSQL: a generated column).
  Task<std::size_t> ingest(const FeedSource& f, FeedState& st, Feed feed) {
    std::vector<Statement> writes;
    bool undated = false;
    const std::int64_t now = now_seconds();
    std::function<void()> make = [&writes, &f, &feed, now, &undated] {
      writes = ingest_statements(f, feed, now, undated);
    };
    co_await host_->offload(std::move(make));
    if (undated && !st.warned_dates) {
      st.warned_dates = true;
      host_->logger().warn("feed " + f.id +
                           ": dates it could not read: first seen time used instead");
    }
    const std::size_t count = writes.size();
    if (writes.empty()) co_return count;
    // Retention: the feed's newest `keep` articles stay, older ones go (with their index rows),
    // in the same transaction, so that a feed publishing new guids at every poll cannot make
    // the table grow for ever.
    writes.push_back(
        {std::string("DELETE FROM localtis_articles WHERE feed = ?1 AND id IN (SELECT id FROM"
                     " localtis_articles WHERE feed = ?1 ORDER BY published_at DESC, id DESC") +
             (postgresql_ ? " OFFSET ?2)" : " LIMIT -1 OFFSET ?2)"),
         {f.id, f.keep}});
    {
      // Waits here, rather than in SQLite's busy handler, which sleeps and tries again.
      AsyncMutex::Lock lock = co_await writing_.lock();
      co_await host_->database().transaction(std::move(writes));
    }
    co_return count;
  }

  // --- routes -----------------------------------------------------------------------------

  Task<Response> list(Request r) {
    std::int64_t limit = 20, offset = 0;
    if (auto l = r.query_param("limit")) {
      try {
        limit = std::stoll(l->substr(0, 6));
      } catch (const std::exception&) {
        limit = 0;
      }
      if (limit < 1 || limit > kMaxLimit)
        throw HttpError(400, "bad_request", "limit: from 1 to " + std::to_string(kMaxLimit));
    }
    if (auto c = r.query_param("cursor")) {
      try {
        offset = std::stoll(c->substr(0, 8));
      } catch (const std::exception&) {
        offset = -1;
      }
      if (offset < 0 || offset > kMaxOffset)
        throw HttpError(400, "bad_request", "cursor: not one of ours");
    }
    std::vector<QueryTerm> terms;
    if (auto q = r.query_param("q"); q && !q->empty()) {
      if (q->size() > 200) throw HttpError(400, "bad_request", "q: at most 200 characters");
      terms = query_terms(*q);
      if (terms.empty()) co_return tagged(r, R"({"articles":[],"next_cursor":null})");
    }
    std::vector<SqlValue> params;
    const auto param = [&params](SqlValue v) {
      params.push_back(std::move(v));
      return "?" + std::to_string(params.size());
    };
    std::string where = " WHERE 1 = 1";
    if (auto theme = r.query_param("theme"); theme && !theme->empty()) {
      // A theme no feed has has no article: answered without asking the store.
      if (std::none_of(feeds_.begin(), feeds_.end(),
                       [&](const FeedSource& f) { return f.theme == *theme; }))
        co_return tagged(r, R"({"articles":[],"next_cursor":null})");
      where += " AND a.themes = " + param(*theme);
    }
    if (auto region = r.query_param("region"); region && !region->empty()) {
      if (region->size() > 3 || region->find_first_not_of("0123456789") != std::string::npos)
        throw HttpError(400, "bad_request", "region: an INSEE region code, such as 52");
      where += " AND a.region = " + param(*region);
    }
    if (auto since = r.query_param("since"); since && !since->empty()) {
      auto at = parse_feed_date(*since);
      if (!at && since->size() == 10) at = parse_feed_date(*since + "T00:00:00Z");
      if (!at) throw HttpError(400, "bad_request", "since: a date such as 2025-06-01");
      where += " AND a.published_at >= " + param(*at);
    }
    const std::string columns =
        "a.id, a.title, a.link, a.excerpt, a.themes, a.region, a.published_at, a.feed, a.image, "
        "a.author";
    const std::string user_region = r.identity ? region_of(*r.identity) : std::string();
    std::string sql;
    if (terms.empty()) {
      sql = "SELECT " + columns + " FROM localtis_articles a" + where +
            " ORDER BY a.published_at DESC, a.id DESC";
    } else {
      // The index's own query: SQLite FTS5 (quoted terms, * for a prefix) or PostgreSQL's
      // tsquery (& between terms, :* for a prefix).
      std::string match;
      for (const auto& t : terms)
        match += postgresql_ ? (match.empty() ? "" : " & ") + t.term + (t.prefix ? ":*" : "")
                             : (match.empty() ? "\"" : " \"") + t.term + (t.prefix ? "\"*" : "\"");
      const std::string hits =
          postgresql_ ? "SELECT id AS hit FROM localtis_articles WHERE search_vector @@"
                        " to_tsquery('simple', ?1)"
                      : "SELECT rowid AS hit FROM localtis_fts WHERE localtis_fts MATCH ?1";
      // Ranking scores every match (BM25 reads each one's length, ts_rank each one's vector):
      // fine for a few thousand, tens of milliseconds for a word found in tens of thousands
      // of articles. Counted first (the index alone, stopping past kCandidates): a query that
      // broad gets its newest matches instead, which needs no score.
      Statement count{"SELECT count(*) FROM (" + hits + " LIMIT ?2) AS c",
                      {match, kCandidates + 1}};
      const QueryResult counted = co_await host_->database().query(std::move(count));
      const bool broad = !counted.rows.empty() && int_of(counted.rows[0][0]) > kCandidates;
      const std::string m = param(match), mine = param(user_region);
      const std::string boost = "CASE WHEN a.region <> '' AND a.region = " + mine;
      const std::string cap = " LIMIT " + std::to_string(kCandidates);
      // The candidates, as (id, o: what orders them first, p: date), the filters applied.
      std::string candidates;
      if (broad) {
        // The newest matches (by id: the order they came in), the filters applied before the
        // cut; the caller's region first, then by date.
        const std::string o = boost + " THEN 0 ELSE 1 END AS o, a.published_at AS p";
        candidates =
            postgresql_
                ? "SELECT a.id AS id, " + o + " FROM localtis_articles a" + where +
                      " AND a.search_vector @@ to_tsquery('simple', " + m + ") ORDER BY a.id DESC"
                : "SELECT a.id AS id, " + o +
                      " FROM localtis_fts JOIN localtis_articles a INDEXED BY"
                      " localtis_articles_ranked ON a.id = localtis_fts.rowid" +
                      where + " AND localtis_fts MATCH " + m + " ORDER BY localtis_fts.rowid DESC";
        candidates += cap;
      } else {
        // Every match scored (bm25() sorted by SQLite: half the time of FTS5's ORDER BY rank,
        // which reads each row again; ts_rank negated so that lower is better on both), the
        // region's a fixed bonus; the filters applied to them (2,000 at most: all of them).
        const std::string scored =
            postgresql_ ? "SELECT id AS hit, -ts_rank(search_vector, to_tsquery('simple', " + m +
                              ")) AS score FROM localtis_articles WHERE search_vector @@"
                              " to_tsquery('simple', " +
                              m + ") ORDER BY score"
                        : "SELECT rowid AS hit, bm25(localtis_fts) AS score FROM localtis_fts"
                          " WHERE localtis_fts MATCH " +
                              m + " ORDER BY score";
        candidates = "SELECT a.id AS id, h.score - " + boost +
                     (postgresql_ ? " THEN 0.5" : " THEN 2.0") +
                     " ELSE 0 END AS o, a.published_at AS p FROM (" + scored + cap +
                     ") AS h JOIN localtis_articles a" +
                     (postgresql_ ? "" : " INDEXED BY localtis_articles_ranked") +
                     " ON a.id = h.hit" + where;
      }
      // Ordered from the candidates' index columns (SQLite: the rows are not read); only the
      // page's articles are read whole.
      sql = "SELECT " + columns + " FROM (SELECT c.id AS id, c.o AS o, c.p AS p FROM (" +
            candidates + ") AS c ORDER BY o, p DESC, id DESC LIMIT " + param(limit + 1) +
            " OFFSET " + param(offset) + ") AS top JOIN localtis_articles a ON a.id = top.id" +
            " ORDER BY top.o, top.p DESC, top.id DESC";
    }
    if (terms.empty()) sql += " LIMIT " + param(limit + 1) + " OFFSET " + param(offset);
    Statement statement{std::move(sql), std::move(params)};
    const QueryResult rows = co_await host_->database().query(std::move(statement));
    json::array items;
    for (std::size_t i = 0; i < rows.rows.size() && static_cast<std::int64_t>(i) < limit; ++i)
      items.push_back(summary_json(rows.rows[i]));
    json::object out{{"articles", std::move(items)}};
    if (static_cast<std::int64_t>(rows.rows.size()) > limit && offset + limit <= kMaxOffset)
      out["next_cursor"] = std::to_string(offset + limit);
    else
      out["next_cursor"] = nullptr;
    co_return tagged(r, json::serialize(out));
  }

  Task<Response> article(Request r) {
    std::int64_t id = 0;
    const std::string& given = r.param("id");
    if (given.empty() || given.size() > 18 ||
        !std::all_of(given.begin(), given.end(), [](unsigned char c) { return std::isdigit(c); }))
      throw HttpError(404, "not_found", "no such article");
    id = std::stoll(given);
    Statement one{
        "SELECT id, title, link, excerpt, themes, region, published_at, feed, image,"
        " author, body, updated_at FROM localtis_articles WHERE id = ?1",
        {id}};
    const QueryResult rows = co_await host_->database().query(std::move(one));
    if (rows.rows.empty()) throw HttpError(404, "not_found", "no such article");
    json::object o = summary_json(rows.rows[0]);
    o["body"] = text_of(rows.rows[0][10]);
    o["updated_at"] = iso_utc(int_of(rows.rows[0][11]));
    co_return tagged(r, json::serialize(o));
  }

  Task<Response> themes(Request r) {
    Statement counts{"SELECT themes, count(*) FROM localtis_articles GROUP BY themes", {}};
    const QueryResult rows = co_await host_->database().query(std::move(counts));
    std::map<std::string, std::int64_t> count;
    for (const auto& row : rows.rows) count[text_of(row[0])] = int_of(row[1]);
    json::array out;
    std::set<std::string> seen;
    for (const auto& f : feeds_)
      if (seen.insert(f.theme).second)
        out.push_back(
            json::object{{"id", f.theme}, {"label", f.theme_label}, {"articles", count[f.theme]}});
    co_return tagged(r, json::serialize(json::object{{"themes", std::move(out)}}));
  }

  json::object feed_json(const FeedSource& f, std::int64_t articles) {
    const FeedState st = state(f.id);
    json::object o{{"id", f.id},
                   {"source", f.url.empty() ? "file" : f.url},
                   {"theme", f.theme},
                   {"interval_seconds", f.interval.count()},
                   {"last_status", st.last_status},
                   {"last_error", st.last_error},
                   {"failures", st.failures},
                   {"articles", articles}};
    o["last_fetched_at"] = st.last_fetched_at ? json::value(iso_utc(st.last_fetched_at)) : nullptr;
    o["next_poll_at"] = st.next_poll_at ? json::value(iso_utc(st.next_poll_at)) : nullptr;
    if (!f.region.empty()) o["region"] = f.region;
    return o;
  }

  Task<std::map<std::string, std::int64_t>> article_counts() {
    Statement counts{"SELECT feed, count(*) FROM localtis_articles GROUP BY feed", {}};
    const QueryResult rows = co_await host_->database().query(std::move(counts));
    std::map<std::string, std::int64_t> out;
    for (const auto& row : rows.rows) out[text_of(row[0])] = int_of(row[1]);
    co_return out;
  }

  Task<Response> feeds(Request) {
    auto counts = co_await article_counts();
    json::array out;
    for (const auto& f : feeds_) out.push_back(feed_json(f, counts[f.id]));
    co_return Response::json(json::object{{"feeds", std::move(out)}});
  }

  Task<Response> refresh_route(Request r) {
    const FeedSource* f = source(r.param("id"));
    if (!f) throw HttpError(404, "not_found", "no feed " + r.param("id").substr(0, 40));
    {
      AsyncMutex::Lock lock = co_await lock_of(*f).lock();
      std::mt19937 jitter(std::random_device{}());
      co_await refresh(*f, jitter);
    }
    auto counts = co_await article_counts();
    co_return Response::json(feed_json(*f, counts[f->id]));
  }

  Host* host_ = nullptr;
  bool postgresql_ = false;
  std::atomic<std::shared_ptr<const Latest>> latest_{std::make_shared<const Latest>()};
  std::vector<FeedSource> feeds_;
  std::mutex state_mutex_;
  std::map<std::string, FeedState> state_;
  std::map<std::string, std::unique_ptr<AsyncMutex>> feed_locks_;  // one refresh of a feed
  AsyncMutex writing_;  // one feed's articles written at a time (SQLite has one writer)
  asio::any_io_executor executor_;
  std::unique_ptr<asio::steady_timer> wake_;
  std::atomic<bool> polling_ = false;
  std::atomic<bool> stopping_ = false;
};

}  // namespace passerelle::plugins::localtis

PASSERELLE_PLUGIN(passerelle::plugins::localtis::LocaltisPlugin)
