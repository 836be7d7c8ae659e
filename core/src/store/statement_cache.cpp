// The least-recently-used statement cache of one connection.
#include "store/statement_cache.hpp"

#include <sqlite3.h>

#include <utility>

namespace passerelle {

StatementCache::Lease::Lease(Lease&& other) noexcept
    : cache_(std::exchange(other.cache_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      cached_(std::exchange(other.cached_, false)) {}

StatementCache::Lease& StatementCache::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    cache_ = std::exchange(other.cache_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    cached_ = std::exchange(other.cached_, false);
  }
  return *this;
}

StatementCache::Lease::~Lease() { release(); }

void StatementCache::Lease::release() noexcept {
  if (!stmt_) return;
  if (cached_) {
    // An error of the last run comes back from reset too; it was reported already. The
    // statement itself stays valid for the next caller.
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    cache_->lent_ = false;
  } else {
    sqlite3_finalize(stmt_);
  }
  stmt_ = nullptr;
  cached_ = false;
}

void StatementCache::Lease::keep(std::string_view owner, std::string_view sql) {
  if (!stmt_ || cached_ || !cache_ || cache_->capacity_ == 0 || cache_->lent_) return;
  if (!cache_->insert(owner, sql, stmt_)) return;
  cached_ = true;
  cache_->lent_ = true;
}

StatementCache::Lease StatementCache::find(std::string_view owner, std::string_view sql) {
  if (lent_) return {};
  const auto it = index_.find(Key{owner, sql});
  if (it == index_.end()) return {};
  entries_.splice(entries_.begin(), entries_, it->second);
  hits_.fetch_add(1, std::memory_order_relaxed);
  lent_ = true;
  return Lease(this, it->second->stmt, true);
}

StatementCache::Lease StatementCache::adopt(sqlite3_stmt* stmt) {
  prepares_.fetch_add(1, std::memory_order_relaxed);
  return Lease(this, stmt, false);
}

bool StatementCache::insert(std::string_view owner, std::string_view sql, sqlite3_stmt* stmt) {
  if (index_.count(Key{owner, sql})) return false;
  // Nothing is lent (keep() checks it), so the least recently used may go.
  while (!entries_.empty() && entries_.size() >= capacity_) {
    const Entry& last = entries_.back();
    index_.erase(Key{last.owner, last.sql});
    sqlite3_finalize(last.stmt);
    entries_.pop_back();
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  entries_.push_front(Entry{std::string(owner), std::string(sql), stmt});
  const Entry& added = entries_.front();
  index_.emplace(Key{added.owner, added.sql}, entries_.begin());
  size_.store(entries_.size(), std::memory_order_relaxed);
  return true;
}

void StatementCache::clear() {
  index_.clear();
  for (const Entry& e : entries_) sqlite3_finalize(e.stmt);
  entries_.clear();
  size_.store(0, std::memory_order_relaxed);
}

StatementCacheStats StatementCache::stats() const {
  return {prepares_.load(std::memory_order_relaxed), hits_.load(std::memory_order_relaxed),
          evictions_.load(std::memory_order_relaxed), size_.load(std::memory_order_relaxed)};
}

}  // namespace passerelle
