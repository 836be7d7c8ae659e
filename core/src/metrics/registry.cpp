// Metric families kept in maps; the hot path touches only an atomic after the first lookup.
// Route counters are looked up when a route table is built, and rendered from their atomics.
#include "metrics/registry.hpp"

#include <array>
#include <cctype>
#include <sstream>

namespace passerelle {
namespace {

// A Prometheus label value: backslash, quote and newline escaped.
std::string label_value(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// A HELP text: backslash and newline escaped, as the exposition format asks; a raw newline
// would start a line of the text's own.
std::string help_text(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// A metric name's characters: anything else (a '-' of a plugin's name) becomes '_', or
// Prometheus refuses the whole text.
std::string metric_name(const std::string& text) {
  std::string clean;
  for (char c : text) clean += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return clean;
}

}  // namespace

RouteStats& MetricsRegistry::route(const std::string& group, const std::string& label) {
  std::lock_guard lock(mutex_);
  auto& slot = routes_[{label, group}];
  if (!slot) slot = std::make_unique<RouteStats>(group, label);
  return *slot;
}

std::map<std::string, GroupTotals> MetricsRegistry::group_totals() const {
  std::lock_guard lock(mutex_);
  return group_totals_locked();
}

std::map<std::string, GroupTotals> MetricsRegistry::group_totals_locked() const {
  std::map<std::string, GroupTotals> out;
  for (const auto& [key, stats] : routes_) {
    GroupTotals& totals = out[stats->group()];
    for (int status = RouteStats::kFirstStatus; status <= RouteStats::kLastStatus; ++status) {
      const auto n = stats->answered(status);
      totals.requests += n;
      if (status >= 500) totals.errors += n;
    }
    const BucketCounts latency = stats->latency().counts();
    for (std::size_t i = 0; i < latency.size(); ++i) totals.latency[i] += latency[i];
  }
  return out;
}

std::vector<MinutePoint> MetricsRegistry::last_hour(const std::string& group,
                                                    std::int64_t now) const {
  const auto totals = group_totals();
  const auto it = totals.find(group);
  return history_.series(group, now, it == totals.end() ? GroupTotals{} : it->second);
}

void MetricsRegistry::render_routes(std::ostream& out) const {
  out << "# HELP passerelle_http_requests_total Requests answered, by route template and status\n"
         "# TYPE passerelle_http_requests_total counter\n";
  for (const auto& [key, stats] : routes_) {
    const std::string route = label_value(stats->label());
    for (int status = RouteStats::kFirstStatus; status <= RouteStats::kLastStatus; ++status)
      if (const auto n = stats->answered(status))
        out << "passerelle_http_requests_total{route=\"" << route << "\",status=\"" << status
            << "\"} " << n << '\n';
  }
  out << "# HELP passerelle_http_request_duration_seconds Time from dispatch to the answer "
         "(caller lookup and handler), by route template\n"
         "# TYPE passerelle_http_request_duration_seconds histogram\n";
  for (const auto& [key, stats] : routes_) {
    const BucketCounts counts = stats->latency().counts();
    std::uint64_t total = 0;
    for (auto c : counts) total += c;
    if (total == 0) continue;  // a route never asked adds no series
    const std::string route = label_value(stats->label());
    const std::string name = "passerelle_http_request_duration_seconds";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      cumulative += counts[i];
      out << name << "_bucket{route=\"" << route << "\",le=\"";
      if (i < kLatencyBounds.size())
        out << kLatencyBounds[i];
      else
        out << "+Inf";
      out << "\"} " << cumulative << '\n';
    }
    out << name << "_sum{route=\"" << route << "\"} " << stats->latency().sum_seconds() << '\n';
    out << name << "_count{route=\"" << route << "\"} " << total << '\n';
  }
  out << "# HELP passerelle_http_requests_by_class_total Requests answered, by plugin (none: the "
         "gateway's own routes), route template and status class\n"
         "# TYPE passerelle_http_requests_by_class_total counter\n";
  for (const auto& [key, stats] : routes_) {
    std::array<std::uint64_t, 4> classes{};  // 2xx, 3xx, 4xx, 5xx
    for (int status = RouteStats::kFirstStatus; status <= RouteStats::kLastStatus; ++status)
      classes[static_cast<std::size_t>(status / 100 - 2)] += stats->answered(status);
    const std::string plugin =
        stats->group().empty() ? std::string() : "plugin=\"" + label_value(stats->group()) + "\",";
    const std::string route = label_value(stats->label());
    for (std::size_t c = 0; c < classes.size(); ++c)
      if (classes[c])
        out << "passerelle_http_requests_by_class_total{" << plugin << "route=\"" << route
            << "\",class=\"" << c + 2 << "xx\"} " << classes[c] << '\n';
  }
  out << "# HELP passerelle_http_requests_in_flight Requests matched to a route and not answered "
         "yet, by plugin and route template\n"
         "# TYPE passerelle_http_requests_in_flight gauge\n";
  for (const auto& [key, stats] : routes_) {
    if (stats->label() == "unmatched") continue;
    // As the other series: a route never asked adds none.
    std::uint64_t answered = 0;
    for (int status = RouteStats::kFirstStatus; status <= RouteStats::kLastStatus; ++status)
      answered += stats->answered(status);
    if (answered == 0 && stats->in_flight() == 0) continue;
    const std::string plugin =
        stats->group().empty() ? std::string() : "plugin=\"" + label_value(stats->group()) + "\",";
    out << "passerelle_http_requests_in_flight{" << plugin << "route=\""
        << label_value(stats->label()) << "\"} " << stats->in_flight() << '\n';
  }
  // Per plugin, the sums of its routes (the gateway's own routes are the rest).
  const auto totals = group_totals_locked();
  out << "# HELP passerelle_http_plugin_requests_total Requests answered on a plugin's routes\n"
         "# TYPE passerelle_http_plugin_requests_total counter\n";
  for (const auto& [group, t] : totals)
    if (!group.empty())
      out << "passerelle_http_plugin_requests_total{plugin=\"" << label_value(group) << "\"} "
          << t.requests << '\n';
  out << "# HELP passerelle_http_plugin_errors_total 5xx answers on a plugin's routes\n"
         "# TYPE passerelle_http_plugin_errors_total counter\n";
  for (const auto& [group, t] : totals)
    if (!group.empty())
      out << "passerelle_http_plugin_errors_total{plugin=\"" << label_value(group) << "\"} "
          << t.errors << '\n';
}

MetricsRegistry::AtomicCounter& MetricsRegistry::counter(const std::string& name,
                                                         const std::string& help,
                                                         const std::string& labels) {
  std::lock_guard lock(mutex_);
  Family& family = families_[name];
  if (family.help.empty()) family.help = help;
  auto& slot = family.series[labels];
  if (!slot) slot = std::make_unique<AtomicCounter>();
  return *slot;
}

std::string MetricsRegistry::render() const {
  std::ostringstream out;
  out.precision(15);  // whole counts up to 10^15 as integers, not in exponent form
  std::lock_guard lock(mutex_);
  for (const auto& [name, family] : families_) {
    out << "# HELP " << name << ' ' << help_text(family.help) << "\n# TYPE " << name
        << " counter\n";
    for (const auto& [labels, counter] : family.series) {
      out << name;
      if (!labels.empty()) out << '{' << labels << '}';
      out << ' ' << counter->value() << '\n';
    }
  }
  render_routes(out);
  for (const auto& [id, write] : gauges_) write(out);
  return out.str();
}

std::size_t MetricsRegistry::add_gauges(std::function<void(std::ostream&)> write) {
  std::lock_guard lock(mutex_);
  gauges_[++next_gauges_] = std::move(write);
  return next_gauges_;
}

void MetricsRegistry::remove_gauges(std::size_t id) {
  std::lock_guard lock(mutex_);
  gauges_.erase(id);
}

PluginMetrics::PluginMetrics(MetricsRegistry& registry, std::string plugin)
    : registry_(registry), prefix_("passerelle_" + metric_name(plugin) + "_") {}

Counter& PluginMetrics::counter(const std::string& name, const std::string& help) {
  return registry_.counter(prefix_ + metric_name(name), help);
}

}  // namespace passerelle
